// The receipts_verify invariant (scenario_receipts.h): each answer's AIR v1 receipt checked the
// way the client's own customer would check it — offline, from the receipt, the signing stage's
// attestation evidence (verified against the simulated Nitro root) and the client's own prompt
// and output — never from anything the orchestrator says.
#include "apps/cpipe/scenario_receipts.h"

#include "backends/simulated/nsm/sim_nsm.h"
#include "core/attest/nitro/nitro_root.h"
#include "core/attest/nitro/nitro_verifier.h"
#include "core/receipt/inference_hashes.h"
#include "core/receipt/key_binding.h"

namespace cpipe::cli {

Result<std::vector<receipt::BoundEvidence>> receipt_signer_evidence(const SimPipelineReport& report) {
  CPIPE_ASSIGN_OR_RETURN(Bytes root, attest::nitro::pem_certificate_to_der(report.receipt_evidence_root_pem));
  attest::nitro::NitroPolicy policy;
  policy.root_der = root;
  policy.platform = sim::SimNsm::kPlatform;
  CPIPE_ASSIGN_OR_RETURN(auto verifier, attest::nitro::NitroVerifier::create(policy));
  std::vector<receipt::BoundEvidence> out;
  for (const auto& signer : report.receipt_signers) {
    runtime::VerifyContext ctx;
    ctx.now_unix_ms = signer.evidence_time_ms + 1000;
    CPIPE_ASSIGN_OR_RETURN(runtime::VerifiedEvidence v,
                           verifier.verify(runtime::Evidence{sim::SimNsm::kPlatform, signer.evidence}, ctx));
    out.push_back(receipt::BoundEvidence{signer.evidence, std::move(v)});
  }
  return out;
}

Status check_request_receipt(const SimPipelineReport& report, const std::vector<receipt::BoundEvidence>& signers,
                             const SimWorkItem& item, const SimPipelineRequest& request) {
  if (request.receipt.empty()) return make_error(ErrorCode::RECEIPT_INVALID, "no receipt");
  if (signers.empty()) return make_error(ErrorCode::RECEIPT_INVALID, "no stage 0 boot signed receipts");
  receipt::VerifyPolicy policy;
  policy.expected_model_hash = report.model_hash;
  policy.expected_model_id = report.model_id;
  policy.expected_platform = "nitro";
  Status first_failure = Status::Ok();
  for (const receipt::BoundEvidence& evidence : signers) {
    CPIPE_ASSIGN_OR_RETURN(receipt::VerifyReport checked,
                           receipt::verify_receipt_with_evidence(request.receipt, evidence, policy));
    if (!checked.verified()) {
      if (first_failure.ok()) first_failure = checked.status();
      continue;
    }
    // The client recomputes both hashes from what it sent and what it got.
    receipt::InferenceRequestDigest sent;
    sent.prompt_tokens.assign(item.prompt.begin(), item.prompt.end());
    sent.max_new_tokens = uint32_t(item.max_new_tokens);
    sent.sampling = "greedy";
    if (checked.claims->request_hash != receipt::request_hash(sent))
      return make_error(ErrorCode::RECEIPT_INVALID, "request_hash is not the hash of the request sent");
    std::vector<uint32_t> got(request.tokens.begin(), request.tokens.end());
    if (checked.claims->response_hash != receipt::response_hash(got))
      return make_error(ErrorCode::RECEIPT_INVALID, "response_hash is not the hash of the tokens returned");
    return Status::Ok();
  }
  return first_failure;
}

}  // namespace cpipe::cli

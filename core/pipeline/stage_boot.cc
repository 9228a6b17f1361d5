// Stage boot: cold start or plain attestation, receipt key binding, and the hand-over to the
// Stage (stage_boot.h).
#include "core/pipeline/stage_boot.h"

#include "core/receipt/key_binding.h"

namespace cpipe::pipeline {
namespace {

using runtime::Task;

// The stage checks its own document (the same verifier its peers use): what it signs receipts
// about must be what a verifier will find in the evidence.
Status bind_signer(runtime::Env& env, const StageBootConfig& config, StageBootResult& out) {
  if (!config.signer) return Status::Ok();
  if (!config.verifier)
    return make_error(ErrorCode::INVALID_ARGUMENT, "stage boot: a receipt signer needs a verifier");
  runtime::VerifyContext ctx;
  ctx.now_unix_ms = env.clock->wall_now().unix_ms();
  ctx.expect_user_data = config.signer->attestation_user_data();
  auto verified = config.verifier->verify(out.evidence, ctx);
  if (!verified.ok()) return verified.status().with_context("stage boot: checking our own evidence");
  std::map<uint32_t, Bytes> pcrs;
  for (const auto& [name, value] : verified->measurements)
    if (name.rfind("PCR", 0) == 0) pcrs[uint32_t(std::stoul(name.substr(3)))] = value;
  CPIPE_ASSIGN_OR_RETURN(receipt::Measurements m, receipt::nitro_measurements(pcrs));
  config.signer->bind_evidence(out.evidence.document, std::move(m));
  out.verified = std::move(*verified);
  return Status::Ok();
}

}  // namespace

Task<Result<StageBootResult>> boot_stage(runtime::Env& env, StageBootConfig config) {
  StageBootResult out;
  if (!config.cold_start) {
    if (!config.signer) co_return std::move(out);
    if (!config.attestation)
      co_return make_error(ErrorCode::INVALID_ARGUMENT, "stage boot: no attestation provider");
    runtime::AttestationRequest request;
    request.user_data = config.signer->attestation_user_data();
    auto evidence = co_await config.attestation->attest(std::move(request));
    if (!evidence.ok()) co_return evidence.status().with_context("stage boot: attestation");
    out.evidence = std::move(*evidence);
    CPIPE_CO_RETURN_IF_ERROR(bind_signer(env, config, out));
    co_return std::move(out);
  }
  keys::ColdStartConfig cs = std::move(*config.cold_start);
  if (cs.attestation == nullptr) cs.attestation = config.attestation;
  if (config.signer) cs.attestation_user_data = config.signer->attestation_user_data();
  std::unique_ptr<StageModel> model;
  if (config.build_model) {
    // The load step runs inside the cold start (timed there); it may move the files' bytes.
    auto build = config.build_model;
    cs.load = [build, &model](keys::ColdStartResult& r) -> Status {
      auto m = build(r);
      if (!m.ok()) return m.status();
      model = std::move(*m);
      return Status::Ok();
    };
  }
  auto r = co_await keys::cold_start(env, std::move(cs));
  if (!r.ok()) co_return r.status();
  out.sealed = true;
  out.model = std::move(model);
  out.timings = r->timings;
  out.stats = r->stats;
  out.model_id = r->model_id;
  out.model_version = r->model_version;
  out.model_hash = r->manifest_hash;
  out.evidence = r->evidence;
  CPIPE_CO_RETURN_IF_ERROR(bind_signer(env, config, out));
  co_return std::move(out);
}

Task<void> boot_into_stage(runtime::Env* env, Stage* stage, StageBootConfig config, Result<StageBootResult>* out) {
  const bool wants_model = config.cold_start.has_value();
  if (wants_model)
    stage->refuse(make_error(ErrorCode::KEYS_COLD_START_PENDING, "the stage is cold-starting its sealed model"));
  *out = co_await boot_stage(*env, std::move(config));
  if (!out->ok()) {
    stage->refuse(out->status());
    co_return;
  }
  if (wants_model) {
    if (!(*out)->model) {
      Status missing = make_error(ErrorCode::INTERNAL, "stage boot: the cold start built no model");
      stage->refuse(missing);
      *out = missing;
      co_return;
    }
    stage->set_model((*out)->model.get());
  }
}

}  // namespace cpipe::pipeline

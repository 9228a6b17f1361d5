// ReceiptSigner: per-stage receipt issuing.
#include "core/receipt/receipt_signer.h"

#include <algorithm>

#include "core/crypto/hash.h"
#include "core/receipt/air_issue.h"
#include "core/receipt/key_binding.h"

namespace cpipe::receipt {

Result<Measurements> nitro_measurements(const std::map<uint32_t, Bytes>& pcrs) {
  Measurements m;
  m.measurement_type = std::string(kMeasurementNitro);
  for (auto [index, slot] : {std::pair{0u, &m.pcr0}, std::pair{1u, &m.pcr1}, std::pair{2u, &m.pcr2}}) {
    auto it = pcrs.find(index);
    if (it == pcrs.end() || it->second.size() != kMeasurementSize) {
      return make_error(ErrorCode::FAILED_PRECONDITION, "PCR" + std::to_string(index) + " is missing or not 48 bytes");
    }
    *slot = it->second;
  }
  for (auto [index, slot] : {std::pair{3u, &m.pcr3}, std::pair{4u, &m.pcr4}, std::pair{8u, &m.pcr8}}) {
    auto it = pcrs.find(index);
    if (it != pcrs.end() && it->second.size() == kMeasurementSize &&
        std::any_of(it->second.begin(), it->second.end(), [](uint8_t b) { return b != 0; })) {
      *slot = it->second;
    }
  }
  return m;
}

ReceiptSigner::ReceiptSigner(SignerConfig config, crypto::Ed25519KeyPair key)
    : config_(std::move(config)), key_(std::move(key)) {}

Bytes ReceiptSigner::attestation_user_data() const { return receipt_key_user_data(key_.public_key()).value(); }

void ReceiptSigner::bind_evidence(ByteSpan document, Measurements measurements) {
  doc_hash_ = crypto::sha256(document);
  measurements_ = std::move(measurements);
}

Result<Bytes> ReceiptSigner::sign(const InferenceRecord& r, runtime::Random& random) {
  if (!doc_hash_) return make_error(ErrorCode::FAILED_PRECONDITION, "receipt key not bound to evidence yet");
  AirClaims c;
  c.iss = config_.iss;
  c.iat = r.iat_s;
  c.cti = new_cti(random);
  c.eat_nonce = r.nonce;
  c.model_id = config_.model_id;
  c.model_version = config_.model_version;
  c.model_hash = config_.model_hash;
  c.model_hash_scheme = config_.model_hash_scheme;
  c.request_hash = request_hash(r.request);
  c.response_hash = response_hash(r.generated_tokens);
  c.attestation_doc_hash = *doc_hash_;
  c.enclave_measurements = measurements_;
  c.policy_version = config_.policy_version;
  c.sequence_number = sequence_ + 1;
  c.execution_time_ms = r.execution_time_ms;
  c.memory_peak_mb = r.memory_peak_mb;
  c.security_mode = config_.security_mode;
  CPIPE_ASSIGN_OR_RETURN(Bytes receipt, issue_receipt(c, key_));
  ++sequence_;
  return receipt;
}

}  // namespace cpipe::receipt

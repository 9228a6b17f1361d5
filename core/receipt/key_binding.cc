// Receipt key <-> attestation user_data binding, and the layer-5 binding checks.
#include "core/receipt/key_binding.h"

#include <algorithm>

#include "core/crypto/ed25519.h"
#include "core/crypto/hash.h"

namespace cpipe::receipt {

Result<Bytes> receipt_key_user_data(ByteSpan public_key) {
  if (public_key.size() != crypto::kEd25519PublicKeySize) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "an Ed25519 public key is 32 bytes");
  }
  Bytes out = to_bytes(kReceiptKeyUserDataTag);
  out.insert(out.end(), public_key.begin(), public_key.end());
  return out;
}

Result<Bytes> receipt_key_from_user_data(ByteSpan user_data) {
  if (user_data.size() != kReceiptKeyUserDataSize ||
      !std::equal(kReceiptKeyUserDataTag.begin(), kReceiptKeyUserDataTag.end(), user_data.begin())) {
    return make_error(ErrorCode::RECEIPT_KEY_NOT_BOUND,
                      "evidence user_data (" + std::to_string(user_data.size()) +
                          " bytes) is not \"cpipe-air-key-v1\" || Ed25519 key");
  }
  return Bytes(user_data.begin() + kReceiptKeyUserDataTag.size(), user_data.end());
}

namespace {

Check binding_check(const char* name, CheckStatus status, CheckCode code, std::string detail) {
  return Check{name, Layer::kBinding, status, code, std::move(detail)};
}

// Receipt measurement slot -> evidence measurement name, for the Nitro variant.
void check_measurements(const AirClaims& c, const runtime::VerifiedEvidence& ev, VerifyReport& r) {
  const Measurements& m = c.enclave_measurements;
  if (m.measurement_type != kMeasurementNitro) {
    r.checks.push_back(binding_check("MEASUREMENTS", CheckStatus::kFail, CheckCode::kMeasurementMismatch,
                                     "receipt measurement_type " + m.measurement_type + " but the evidence is Nitro"));
    return;
  }
  const std::pair<const char*, const Bytes*> slots[] = {
      {"PCR0", &m.pcr0}, {"PCR1", &m.pcr1}, {"PCR2", &m.pcr2},
      {"PCR3", m.pcr3 ? &*m.pcr3 : nullptr}, {"PCR4", m.pcr4 ? &*m.pcr4 : nullptr},
      {"PCR8", m.pcr8 ? &*m.pcr8 : nullptr}};
  for (const auto& [name, value] : slots) {
    if (value == nullptr) continue;
    auto it = ev.measurements.find(name);
    if (it == ev.measurements.end() || it->second != *value) {
      r.checks.push_back(binding_check("MEASUREMENTS", CheckStatus::kFail, CheckCode::kMeasurementMismatch,
                                       std::string("receipt ") + name + " differs from the evidence"));
      return;
    }
  }
  r.checks.push_back(binding_check("MEASUREMENTS", CheckStatus::kPass, CheckCode::kNone,
                                   "receipt PCRs equal the evidence's"));
}

}  // namespace

Result<VerifyReport> verify_receipt_with_evidence(ByteSpan receipt, const BoundEvidence& evidence,
                                                  const VerifyPolicy& policy) {
  auto key = receipt_key_from_user_data(evidence.verified.user_data);
  if (!key.ok()) {
    VerifyReport r;
    r.checks.push_back(binding_check("KEY_BINDING", CheckStatus::kFail, CheckCode::kKeyNotBound, key.status().message()));
    return r;
  }
  CPIPE_ASSIGN_OR_RETURN(VerifyReport r, verify_receipt(receipt, *key, policy));
  r.checks.push_back(binding_check("KEY_BINDING", CheckStatus::kPass, CheckCode::kNone,
                                   "receipt key " + hex_encode(*key) + " is in the evidence user_data"));
  // The binding checks need well-formed, correctly signed claims (layers 1-3).
  bool claims_ok = r.claims.has_value();
  for (const Check& c : r.checks) {
    if (c.status == CheckStatus::kFail && c.layer != Layer::kPolicy) claims_ok = false;
  }
  if (!claims_ok) {
    r.checks.push_back(binding_check("ATTESTATION_DOC", CheckStatus::kNotRun, CheckCode::kNone, ""));
    r.checks.push_back(binding_check("MEASUREMENTS", CheckStatus::kNotRun, CheckCode::kNone, ""));
    return r;
  }
  Bytes doc_hash = crypto::sha256(evidence.document);
  if (doc_hash != r.claims->attestation_doc_hash) {
    r.checks.push_back(binding_check("ATTESTATION_DOC", CheckStatus::kFail, CheckCode::kAttestationDocHashMismatch,
                                     "attestation_doc_hash " + hex_encode(r.claims->attestation_doc_hash) +
                                         " but SHA-256(evidence) is " + hex_encode(doc_hash)));
  } else {
    r.checks.push_back(binding_check("ATTESTATION_DOC", CheckStatus::kPass, CheckCode::kNone,
                                     "attestation_doc_hash = SHA-256(evidence)"));
  }
  check_measurements(*r.claims, evidence.verified, r);
  return r;
}

}  // namespace cpipe::receipt

// ReceiptSigner: what a stage holds to sign one AIR v1 receipt per inference. It owns the
// Ed25519 key generated at boot, exposes the attestation user_data that binds it, remembers the
// evidence it was bound into (attestation_doc_hash, measurements), and numbers receipts from 1
// per session. It reads no clock: the caller passes iat and the measured execution time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/crypto/ed25519.h"
#include "core/receipt/air_claims.h"
#include "core/receipt/inference_hashes.h"
#include "core/runtime/random.h"

namespace cpipe::receipt {

// The Nitro measurement map from a document's PCRs (index -> 48 bytes): pcr0..2, and pcr3/4/8
// when present and not all zero. FAILED_PRECONDITION when PCR0..2 are missing or not 48 bytes.
Result<Measurements> nitro_measurements(const std::map<uint32_t, Bytes>& pcrs);

struct SignerConfig {
  std::string iss = "cpipe";
  std::string model_id;
  std::string model_version;
  Bytes model_hash;  // SHA-256 of the model manifest (sealed header manifest_hash)
  std::optional<std::string> model_hash_scheme{std::string(kSchemeManifest)};
  std::string policy_version;
  std::string security_mode{kSecurityModeProduction};  // "evaluation" in every development mode
};

struct InferenceRecord {
  InferenceRequestDigest request;
  std::vector<uint32_t> generated_tokens;
  std::optional<Bytes> nonce;  // the client's challenge, if it sent one
  uint64_t iat_s = 0;          // Unix seconds at completion (the stage's Clock wall time)
  uint64_t execution_time_ms = 0;
  uint64_t memory_peak_mb = 0;
};

class ReceiptSigner {
 public:
  ReceiptSigner(SignerConfig config, crypto::Ed25519KeyPair key);

  const crypto::Ed25519KeyPair& key() const { return key_; }
  // What the stage asks its attestation provider to bind (key_binding.h layout).
  Bytes attestation_user_data() const;
  // The evidence that carries attestation_user_data(): its exact bytes and its measurements.
  void bind_evidence(ByteSpan document, Measurements measurements);

  // FAILED_PRECONDITION before bind_evidence; RECEIPT_BAD_CLAIM for claims a verifier would
  // refuse. Each success consumes the next sequence number (1, 2, ...).
  Result<Bytes> sign(const InferenceRecord& record, runtime::Random& random);

  uint64_t last_sequence_number() const { return sequence_; }

 private:
  SignerConfig config_;
  crypto::Ed25519KeyPair key_;
  std::optional<Bytes> doc_hash_;
  Measurements measurements_;
  uint64_t sequence_ = 0;
};

}  // namespace cpipe::receipt

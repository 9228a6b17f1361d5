// Shared helpers for the receipt tests: the AIR v1 golden vectors (Cyntrisec, CC-BY-4.0), the
// vectors' Ed25519 key (seed 0x2a x 32), and a raw COSE_Sign1 signer that — unlike
// issue_receipt — signs whatever bytes it is given, to build validly signed bad receipts.
#pragma once

#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "core/codec/cbor/cbor_encode.h"
#include "core/codec/cbor/cose_sign1.h"
#include "core/crypto/ed25519.h"
#include "core/receipt/air_claims.h"
#include "core/receipt/air_issue.h"

namespace cpipe::receipt::testing_air {

inline std::string vector_path(const std::string& rel) {
  return std::string(CPIPE_SHARED_DATA) + "/air-v1/vectors/" + rel;
}

inline nlohmann::json load_vector(const std::string& rel) {
  std::ifstream f(vector_path(rel));
  return nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()));
}

inline Bytes unhex(const std::string& h) { return hex_decode(h).value(); }

inline crypto::Ed25519KeyPair vector_key() { return crypto::Ed25519KeyPair::from_seed(Bytes(32, 0x2a)).value(); }

// 2026-02-25T00:00:00Z: the vectors' "date", used as the verification time.
inline constexpr int64_t kVectorDate = 1771977600;

// The claims a vector lists under "claims".
inline AirClaims claims_from_vector(const nlohmann::json& v) {
  const auto& c = v.at("claims");
  AirClaims a;
  a.iss = c.at("iss");
  a.iat = c.at("iat");
  a.cti = unhex(c.at("cti_hex"));
  if (c.contains("eat_nonce_hex") && !c["eat_nonce_hex"].is_null()) a.eat_nonce = unhex(c["eat_nonce_hex"]);
  a.model_id = c.at("model_id");
  a.model_version = c.at("model_version");
  a.model_hash = unhex(c.at("model_hash_hex"));
  a.request_hash = unhex(c.at("request_hash_hex"));
  a.response_hash = unhex(c.at("response_hash_hex"));
  a.attestation_doc_hash = unhex(c.at("attestation_doc_hash_hex"));
  const auto& m = c.at("enclave_measurements");
  a.enclave_measurements.measurement_type = m.at("measurement_type");
  a.enclave_measurements.pcr0 = unhex(m.at("pcr0_hex"));
  a.enclave_measurements.pcr1 = unhex(m.at("pcr1_hex"));
  a.enclave_measurements.pcr2 = unhex(m.at("pcr2_hex"));
  if (m.contains("pcr8_hex") && !m["pcr8_hex"].is_null()) a.enclave_measurements.pcr8 = unhex(m["pcr8_hex"]);
  a.policy_version = c.at("policy_version");
  a.sequence_number = c.at("sequence_number");
  a.execution_time_ms = c.at("execution_time_ms");
  a.memory_peak_mb = c.at("memory_peak_mb");
  a.security_mode = c.at("security_mode");
  return a;
}

// Tagged COSE_Sign1 [protected, unprotected, payload, Ed25519(Sig_structure1)], any bytes.
inline Bytes sign_raw(ByteSpan protected_bytes, const codec::CborValue& unprotected, ByteSpan payload,
                      const crypto::Ed25519KeyPair& key, bool tagged = true) {
  codec::CoseSign1 msg;
  msg.tagged = tagged;
  msg.protected_bytes.assign(protected_bytes.begin(), protected_bytes.end());
  msg.unprotected_header = unprotected;
  msg.payload.assign(payload.begin(), payload.end());
  auto sig = key.sign(codec::cose_sig_structure1(protected_bytes, {}, payload));
  msg.signature.assign(sig.begin(), sig.end());
  return codec::cose_sign1_encode(msg);
}

inline Bytes sign_payload(ByteSpan payload, const crypto::Ed25519KeyPair& key) {
  return sign_raw(protected_header_bytes(), codec::CborValue::map({}), payload, key);
}

}  // namespace cpipe::receipt::testing_air

// The AIR v1 claims set (draft-tsyrulnikov-rats-attested-inference-receipt-02, Cyntrisec,
// CC-BY-4.0): the CWT claims map a receipt signs, its claim keys and defined values, and its
// deterministic encoding (RFC 8949 §4.2.1 as the spec words it: shorter encoded key first,
// then bytewise). Validation of received claims lives in air_verify.cc, which reports each
// problem under the spec's check names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/bytes.h"
#include "core/codec/cbor/cbor_value.h"

namespace cpipe::receipt {

// CWT / EAT claim keys (RFC 8392, RFC 9711).
inline constexpr int64_t kClaimIss = 1;
inline constexpr int64_t kClaimIat = 6;
inline constexpr int64_t kClaimCti = 7;
inline constexpr int64_t kClaimEatNonce = 10;
inline constexpr int64_t kClaimEatProfile = 265;
// AIR private claim keys.
inline constexpr int64_t kClaimModelId = -65537;
inline constexpr int64_t kClaimModelVersion = -65538;
inline constexpr int64_t kClaimModelHash = -65539;
inline constexpr int64_t kClaimRequestHash = -65540;
inline constexpr int64_t kClaimResponseHash = -65541;
inline constexpr int64_t kClaimAttestationDocHash = -65542;
inline constexpr int64_t kClaimEnclaveMeasurements = -65543;
inline constexpr int64_t kClaimPolicyVersion = -65544;
inline constexpr int64_t kClaimSequenceNumber = -65545;
inline constexpr int64_t kClaimExecutionTimeMs = -65546;
inline constexpr int64_t kClaimMemoryPeakMb = -65547;
inline constexpr int64_t kClaimSecurityMode = -65548;
inline constexpr int64_t kClaimModelHashScheme = -65549;

inline constexpr std::string_view kEatProfile = "https://spec.cyntrisec.com/air/v1";
inline constexpr std::string_view kMeasurementNitro = "nitro-pcr";
inline constexpr std::string_view kMeasurementTdx = "tdx-mrtd-rtmr";
inline constexpr std::string_view kSecurityModeProduction = "production";
inline constexpr std::string_view kSecurityModeEvaluation = "evaluation";
inline constexpr std::string_view kSchemeSingle = "sha256-single";
inline constexpr std::string_view kSchemeConcat = "sha256-concat";
inline constexpr std::string_view kSchemeManifest = "sha256-manifest";

inline constexpr size_t kCtiSize = 16;
inline constexpr size_t kHashSize = 32;         // SHA-256 claims
inline constexpr size_t kMeasurementSize = 48;  // SHA-384 registers
inline constexpr size_t kNonceMin = 8;          // RFC 9711 §4.1
inline constexpr size_t kNonceMax = 64;
inline constexpr size_t kMaxTextClaim = 1024;   // the spec's RECOMMENDED bound
inline constexpr size_t kMaxReceiptSize = 65536;

// The enclave_measurements map. TDX maps MRTD, RTMR0..3 to pcr0..pcr4; pcr8 is Nitro-only.
struct Measurements {
  std::string measurement_type{kMeasurementNitro};
  Bytes pcr0, pcr1, pcr2;
  std::optional<Bytes> pcr3, pcr4, pcr8;

  friend bool operator==(const Measurements&, const Measurements&) = default;
};

struct AirClaims {
  std::string iss;
  uint64_t iat = 0;  // Unix seconds
  Bytes cti;         // 16 bytes, unique per receipt
  std::optional<Bytes> eat_nonce;
  std::string model_id;
  std::string model_version;
  Bytes model_hash;
  Bytes request_hash;
  Bytes response_hash;
  Bytes attestation_doc_hash;
  Measurements enclave_measurements;
  std::string policy_version;
  uint64_t sequence_number = 0;
  uint64_t execution_time_ms = 0;
  uint64_t memory_peak_mb = 0;
  std::string security_mode{kSecurityModeProduction};
  std::optional<std::string> model_hash_scheme;

  friend bool operator==(const AirClaims&, const AirClaims&) = default;
};

// The claims as a CBOR map (eat_profile included; optional claims only when present).
codec::CborValue claims_to_cbor(const AirClaims& claims);

// The deterministic encoding of any CBOR value: shortest heads, definite lengths, every map's
// entries sorted by their encoded keys (shorter first, then bytewise). For AIR's keys this is
// the same order as RFC 8949 §4.2.1's plain bytewise order.
Bytes deterministic_encode(const codec::CborValue& value);

// deterministic_encode(claims_to_cbor(claims)): the payload a receipt signs.
Bytes encode_claims(const AirClaims& claims);

}  // namespace cpipe::receipt

// The outcome of verifying an AIR v1 receipt: one entry per named check, in the order the
// verifier ran them, each with the spec's stable failure code. Check names and codes are the
// ones the spec and its golden vectors use (SIG/SIG_FAILED, MHASH_PRESENT/ZERO_MODEL_HASH,
// FRESH/TIMESTAMP_STALE, ...); the few the spec requires without naming are cpipe's, in the
// same style (docs/receipts.md lists which). Each code maps to one cpipe ErrorCode RECEIPT_*.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/receipt/air_claims.h"

namespace cpipe::receipt {

// X(Enum, "STABLE_NAME", ErrorCode)
#define CPIPE_AIR_CHECK_CODES(X)                                         \
  /* Layer 1: parse */                                                   \
  X(kReceiptTooLarge, "RECEIPT_TOO_LARGE", RECEIPT_MALFORMED)            \
  X(kCoseDecodeFailed, "COSE_DECODE_FAILED", RECEIPT_MALFORMED)          \
  X(kBadAlg, "BAD_ALG", RECEIPT_BAD_ALG)                                 \
  X(kBadContentType, "BAD_CONTENT_TYPE", RECEIPT_MALFORMED)              \
  X(kBadProtectedHeader, "BAD_PROTECTED_HEADER", RECEIPT_MALFORMED)      \
  X(kUnprotectedNotEmpty, "UNPROTECTED_NOT_EMPTY", RECEIPT_MALFORMED)    \
  X(kMissingPayload, "MISSING_PAYLOAD", RECEIPT_MALFORMED)               \
  X(kPayloadNotMap, "PAYLOAD_NOT_MAP", RECEIPT_MALFORMED)                \
  X(kNonDeterministic, "NON_DETERMINISTIC_ENCODING", RECEIPT_MALFORMED)  \
  X(kWrongProfile, "WRONG_PROFILE", RECEIPT_MALFORMED)                   \
  /* Layer 2: crypto */                                                  \
  X(kBadSigLength, "BAD_SIG_LENGTH", RECEIPT_SIGNATURE_INVALID)          \
  X(kSigFailed, "SIG_FAILED", RECEIPT_SIGNATURE_INVALID)                 \
  /* Layer 3: claim validation */                                        \
  X(kMissingClaim, "MISSING_CLAIM", RECEIPT_BAD_CLAIM)                   \
  X(kWrongType, "WRONG_TYPE", RECEIPT_BAD_CLAIM)                         \
  X(kUnknownClaim, "UNKNOWN_CLAIM", RECEIPT_BAD_CLAIM)                   \
  X(kBadCtiLength, "BAD_CTI_LENGTH", RECEIPT_BAD_CLAIM)                  \
  X(kZeroIat, "ZERO_IAT", RECEIPT_BAD_CLAIM)                             \
  X(kBadHashLength, "BAD_HASH_LENGTH", RECEIPT_BAD_CLAIM)                \
  X(kZeroModelHash, "ZERO_MODEL_HASH", RECEIPT_BAD_CLAIM)                \
  X(kBadTextClaim, "BAD_TEXT_CLAIM", RECEIPT_BAD_CLAIM)                  \
  X(kBadNonceLength, "BAD_NONCE_LENGTH", RECEIPT_BAD_CLAIM)              \
  X(kBadMeasurementLength, "BAD_MEASUREMENT_LENGTH", RECEIPT_BAD_CLAIM)  \
  X(kUnknownMeasurementType, "UNKNOWN_MTYPE", RECEIPT_BAD_CLAIM)         \
  X(kBadMeasurements, "BAD_MEASUREMENTS", RECEIPT_BAD_CLAIM)             \
  X(kUnknownHashScheme, "UNKNOWN_MODEL_HASH_SCHEME", RECEIPT_BAD_CLAIM)  \
  X(kUnknownSecurityMode, "UNKNOWN_SECURITY_MODE", RECEIPT_BAD_CLAIM)    \
  /* Layer 4: policy */                                                  \
  X(kTimestampFuture, "TIMESTAMP_FUTURE", RECEIPT_STALE)                 \
  X(kTimestampStale, "TIMESTAMP_STALE", RECEIPT_STALE)                   \
  X(kModelHashMismatch, "MODEL_HASH_MISMATCH", RECEIPT_MODEL_MISMATCH)   \
  X(kModelIdMismatch, "MODEL_ID_MISMATCH", RECEIPT_MODEL_MISMATCH)       \
  X(kPlatformMismatch, "PLATFORM_MISMATCH", RECEIPT_PLATFORM_MISMATCH)   \
  X(kNonceMismatch, "NONCE_MISMATCH", RECEIPT_NONCE_MISMATCH)            \
  X(kNonceMissing, "NONCE_MISSING", RECEIPT_NONCE_MISMATCH)              \
  X(kSecurityModeNotAllowed, "SECURITY_MODE_NOT_ALLOWED", RECEIPT_POLICY_VIOLATION) \
  X(kReplayCti, "REPLAY_CTI", RECEIPT_REPLAY)                            \
  /* Layer 5 (cpipe): binding to verified attestation evidence */        \
  X(kKeyNotBound, "KEY_NOT_BOUND", RECEIPT_KEY_NOT_BOUND)                \
  X(kAttestationDocHashMismatch, "ATTESTATION_DOC_HASH_MISMATCH", RECEIPT_EVIDENCE_MISMATCH) \
  X(kMeasurementMismatch, "MEASUREMENT_MISMATCH", RECEIPT_EVIDENCE_MISMATCH)

enum class CheckCode {
  kNone,
#define CPIPE_AIR_ENUM(e, name, err) e,
  CPIPE_AIR_CHECK_CODES(CPIPE_AIR_ENUM)
#undef CPIPE_AIR_ENUM
};

std::string_view check_code_name(CheckCode code);  // "" for kNone
ErrorCode check_code_error(CheckCode code);         // OK for kNone

// The spec's four layers; 5 is cpipe's binding of the key to verified evidence (spec §7.2).
enum class Layer { kParse = 1, kCrypto = 2, kClaims = 3, kPolicy = 4, kBinding = 5 };
std::string_view layer_name(Layer layer);  // "parse", "crypto", "claims", "policy", "binding"

// kSkip: not configured (a policy check nobody asked for). kNotRun: an earlier layer failed;
// the spec requires each layer to pass before the next one runs.
enum class CheckStatus { kPass, kFail, kSkip, kNotRun };
std::string_view check_status_name(CheckStatus status);  // "PASS", "FAIL", "SKIP", "NOT_RUN"

struct Check {
  std::string name;  // "SIG", "MHASH_PRESENT", ...
  Layer layer = Layer::kParse;
  CheckStatus status = CheckStatus::kPass;
  CheckCode code = CheckCode::kNone;
  std::string detail;
};

struct VerifyReport {
  std::vector<Check> checks;
  std::optional<AirClaims> claims;  // set when the claims decoded (even if a check failed)

  bool verified() const;
  const Check* first_failure() const;
  const Check* find(std::string_view name) const;
  // OK, or the first failure's RECEIPT_* code with "CHECK/CODE: detail" as the message.
  Status status() const;
};

}  // namespace cpipe::receipt

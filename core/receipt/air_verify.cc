// AIR v1 verification: the four layers of draft-02 §8, each check under its spec name.
#include "core/receipt/air_verify.h"

#include <utility>

#include "core/codec/cbor/cbor_decode.h"
#include "core/codec/cbor/cose_sign1.h"
#include "core/crypto/ed25519.h"
#include "core/receipt/check_recorder.h"
#include "core/receipt/claim_rules.h"

namespace cpipe::receipt {

using codec::CborValue;
using internal::check_claims;
using internal::Recorder;

namespace {

inline constexpr int64_t kCoseAlgEdDSA = -8;
inline constexpr int64_t kCoseHeaderContentType = 3;
inline constexpr uint64_t kContentTypeCwt = 61;

void layer4(const AirClaims& c, const VerifyPolicy& p, Recorder& rec) {
  if (!p.now_unix_s) {
    rec.skip("FRESH", "no verification time");
  } else {
    const int64_t now = *p.now_unix_s;
    const uint64_t iat = c.iat;
    // Compare in unsigned 64-bit space: iat can be any uint.
    const bool future = now < 0 || iat > uint64_t(now) + p.clock_skew_s;
    if (future) {
      rec.fail("FRESH", CheckCode::kTimestampFuture,
               "iat " + std::to_string(iat) + " is after now " + std::to_string(now) + " + skew " +
                   std::to_string(p.clock_skew_s) + "s");
    } else if (p.max_age_s && iat < uint64_t(now) && uint64_t(now) - iat > *p.max_age_s) {
      rec.fail("FRESH", CheckCode::kTimestampStale,
               "receipt is " + std::to_string(uint64_t(now) - iat) + "s old (max " + std::to_string(*p.max_age_s) + "s)");
    } else {
      rec.pass("FRESH", p.max_age_s ? "within max age" : "not in the future (no max age)");
    }
  }

  if (!p.expected_model_hash) rec.skip("MHASH");
  else if (constant_time_equal(*p.expected_model_hash, c.model_hash)) rec.pass("MHASH");
  else rec.fail("MHASH", CheckCode::kModelHashMismatch,
                "expected " + hex_encode(*p.expected_model_hash) + ", receipt has " + hex_encode(c.model_hash));

  if (!p.expected_model_id) rec.skip("MODEL");
  else if (*p.expected_model_id == c.model_id) rec.pass("MODEL");
  else rec.fail("MODEL", CheckCode::kModelIdMismatch, "expected \"" + *p.expected_model_id + "\", receipt has \"" + c.model_id + "\"");

  if (!p.expected_platform) rec.skip("PLATFORM");
  else if (*p.expected_platform == c.enclave_measurements.measurement_type) rec.pass("PLATFORM");
  else rec.fail("PLATFORM", CheckCode::kPlatformMismatch,
                "expected " + *p.expected_platform + ", receipt has " + c.enclave_measurements.measurement_type);

  if (p.expected_nonce) {
    if (!c.eat_nonce) rec.fail("NONCE", CheckCode::kNonceMissing, "eat_nonce absent but a nonce was expected");
    else if (constant_time_equal(*p.expected_nonce, *c.eat_nonce)) rec.pass("NONCE");
    else rec.fail("NONCE", CheckCode::kNonceMismatch,
                  "expected " + hex_encode(*p.expected_nonce) + ", receipt has " + hex_encode(*c.eat_nonce));
  } else if (p.require_nonce) {
    if (c.eat_nonce) rec.pass("NONCE", "present");
    else rec.fail("NONCE", CheckCode::kNonceMissing, "eat_nonce required but absent");
  } else {
    rec.skip("NONCE");
  }

  if (!p.require_production) rec.skip("SECMODE_POLICY");
  else if (c.security_mode == kSecurityModeProduction) rec.pass("SECMODE_POLICY");
  else rec.fail("SECMODE_POLICY", CheckCode::kSecurityModeNotAllowed,
                "security_mode \"" + c.security_mode + "\" is not acceptable for production trust decisions");

  if (!p.seen_cti) rec.skip("REPLAY");
  else if (p.seen_cti(c.cti)) rec.fail("REPLAY", CheckCode::kReplayCti, "cti " + hex_encode(c.cti) + " was seen before");
  else rec.pass("REPLAY");
}

}  // namespace

Result<std::string> normalize_platform(std::string_view platform) {
  if (platform == "nitro" || platform == kMeasurementNitro) return std::string(kMeasurementNitro);
  if (platform == "tdx" || platform == kMeasurementTdx) return std::string(kMeasurementTdx);
  return make_error(ErrorCode::INVALID_ARGUMENT,
                    "platform \"" + std::string(platform) + "\" is not nitro-pcr (nitro) or tdx-mrtd-rtmr (tdx)");
}

Result<VerifyReport> verify_receipt(ByteSpan receipt, ByteSpan public_key, const VerifyPolicy& policy) {
  if (public_key.size() != crypto::kEd25519PublicKeySize) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "an Ed25519 public key is 32 bytes");
  }
  if (policy.max_age_s && !policy.now_unix_s) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "max age needs a verification time (verifiers never read a clock)");
  }
  if (policy.expected_model_hash && policy.expected_model_hash->size() != kHashSize) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "the expected model hash is 32 bytes");
  }
  VerifyPolicy p = policy;
  if (p.expected_platform) {
    CPIPE_ASSIGN_OR_RETURN(std::string platform, normalize_platform(*p.expected_platform));
    p.expected_platform = std::move(platform);
  }

  Recorder rec;
  // ---- Layer 1: parse.
  if (receipt.size() > kMaxReceiptSize) {
    rec.fail("SIZE", CheckCode::kReceiptTooLarge, std::to_string(receipt.size()) + " bytes > 65536");
    return rec.finish(std::nullopt);
  }
  rec.pass("SIZE", std::to_string(receipt.size()) + " bytes");
  codec::CborLimits limits;
  limits.max_input = kMaxReceiptSize;
  limits.max_depth = 4;  // tag, array, map of the unprotected header (claims are decoded separately)
  limits.max_items = 64;
  limits.max_container = 16;
  limits.max_string = kMaxReceiptSize;
  auto msg = codec::cose_sign1_decode(receipt, limits);
  if (!msg.ok()) {
    rec.fail("COSE_DECODE", CheckCode::kCoseDecodeFailed, msg.status().message());
    return rec.finish(std::nullopt);
  }
  if (!msg->tagged) {
    rec.fail("COSE_DECODE", CheckCode::kCoseDecodeFailed, "untagged COSE_Sign1 (AIR v1 requires tag 18)");
    return rec.finish(std::nullopt);
  }
  rec.pass("COSE_DECODE");

  const CborValue& ph = msg->protected_header;
  const CborValue* alg = ph.find_int(codec::kCoseHeaderAlg);
  if (alg == nullptr) rec.fail("ALG", CheckCode::kBadAlg, "protected header has no alg");
  else if (!alg->is_integer() || alg->as_int64() != kCoseAlgEdDSA)
    rec.fail("ALG", CheckCode::kBadAlg, "alg is not -8 (EdDSA)");
  else rec.pass("ALG", "EdDSA");
  const CborValue* ct = ph.find_int(kCoseHeaderContentType);
  if (ct == nullptr) rec.fail("CONTENT_TYPE", CheckCode::kBadContentType, "protected header has no content type");
  else if (!ct->is_uint() || ct->raw_uint() != kContentTypeCwt)
    rec.fail("CONTENT_TYPE", CheckCode::kBadContentType, "content type is not 61 (application/cwt)");
  else rec.pass("CONTENT_TYPE", "application/cwt");
  if (ph.map_size() != 2 || alg == nullptr || ct == nullptr) {
    rec.fail("PROTECTED_HEADER", CheckCode::kBadProtectedHeader,
             "the protected header must hold exactly alg and content type (" + std::to_string(ph.map_size()) +
                 " parameters)");
  } else {
    rec.pass("PROTECTED_HEADER");
  }
  if (!msg->unprotected_header.is_map() || msg->unprotected_header.map_size() != 0) {
    rec.fail("UNPROTECTED", CheckCode::kUnprotectedNotEmpty, "the unprotected header must be empty");
  } else {
    rec.pass("UNPROTECTED");
  }

  std::optional<CborValue> payload_map;
  if (msg->payload.empty()) {
    rec.fail("PAYLOAD", CheckCode::kMissingPayload, "payload is empty");
  } else {
    rec.pass("PAYLOAD", std::to_string(msg->payload.size()) + " bytes");
    codec::CborLimits cl;
    cl.max_input = kMaxReceiptSize;
    cl.max_depth = 3;  // claims map -> measurements map -> values
    cl.max_items = 256;
    cl.max_container = 32;
    cl.max_string = kMaxReceiptSize;
    auto decoded = codec::cbor_decode(msg->payload, cl);
    if (!decoded.ok()) {
      rec.fail("CLAIMS_DECODE", CheckCode::kPayloadNotMap, decoded.status().message());
    } else if (!decoded->is_map()) {
      rec.fail("CLAIMS_DECODE", CheckCode::kPayloadNotMap,
               "payload is a " + std::string(CborValue::type_name(decoded->type())) + ", not a map");
    } else {
      rec.pass("CLAIMS_DECODE", std::to_string(decoded->map_size()) + " claims");
      if (deterministic_encode(*decoded) != msg->payload) {
        rec.fail("DETERMINISTIC", CheckCode::kNonDeterministic,
                 "payload is not in deterministic CBOR encoding (RFC 8949 §4.2.1)");
      } else {
        rec.pass("DETERMINISTIC");
      }
      const CborValue* profile = decoded->find_int(kClaimEatProfile);
      if (profile == nullptr || !profile->is_text() || profile->text_content() != kEatProfile) {
        rec.fail("EAT_PROFILE", CheckCode::kWrongProfile,
                 profile == nullptr ? "eat_profile is absent" : "eat_profile is not " + std::string(kEatProfile));
      } else {
        rec.pass("EAT_PROFILE");
      }
      payload_map = std::move(*decoded);
    }
  }
  if (rec.failed()) return rec.finish(std::nullopt);

  // ---- Layer 2: Ed25519 verify_strict over Sig_structure1 with an empty external_aad.
  if (msg->signature.size() != crypto::kEd25519SignatureSize) {
    rec.fail("SIG", CheckCode::kBadSigLength, "signature is " + std::to_string(msg->signature.size()) + " bytes, not 64");
  } else {
    Bytes tbs = codec::cose_sig_structure1(msg->protected_bytes, {}, msg->payload);
    Status s = crypto::ed25519_verify(public_key, tbs, msg->signature);
    if (s.ok()) rec.pass("SIG", "Ed25519 verify_strict with " + hex_encode(public_key));
    else rec.fail("SIG", CheckCode::kSigFailed, "Ed25519 verify_strict failed with key " + hex_encode(public_key));
  }
  if (rec.failed()) return rec.finish(std::nullopt);

  // ---- Layer 3: claims.
  std::optional<AirClaims> claims = check_claims(*payload_map, rec);
  if (rec.failed()) return rec.finish(std::move(claims));

  // ---- Layer 4: policy.
  layer4(*claims, p, rec);
  return rec.finish(std::move(claims));
}

}  // namespace cpipe::receipt

// NitroVerifier: the check sequence of nitro_verifier.h.
#include "core/attest/nitro/nitro_verifier.h"

#include <string>

#include "core/attest/nitro/cose_ecdsa.h"
#include "core/attest/nitro/nitro_root.h"
#include "core/codec/cbor/cose_sign1.h"

namespace cpipe::attest::nitro {
namespace {

Status check_binding(const char* name, const std::optional<Bytes>& expected, const std::optional<Bytes>& got) {
  if (!expected) return Status::Ok();
  if (!got || *got != *expected) {
    return make_error(ErrorCode::ATTEST_BINDING_MISMATCH,
                      std::string(name) + (got ? " differs from the expected value" : " is absent but expected"));
  }
  return Status::Ok();
}

}  // namespace

Result<NitroVerifier> NitroVerifier::create(NitroPolicy policy) {
  if (policy.root_der.empty()) {
    CPIPE_ASSIGN_OR_RETURN(policy.root_der, aws_nitro_root_g1_der());
  } else {
    CPIPE_RETURN_IF_ERROR(summarize_certificate(policy.root_der).status());
  }
  return NitroVerifier(std::move(policy));
}

Result<NitroVerification> NitroVerifier::verify_document(ByteSpan cose, const runtime::VerifyContext& ctx) const {
  if (!ctx.now_unix_ms) {
    return make_error(ErrorCode::ATTEST_NO_TIME, "no verification time supplied");
  }
  const int64_t now = *ctx.now_unix_ms;
  if (cose.size() > policy_.max_document_size) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT, "document of " + std::to_string(cose.size()) +
                                                        " bytes exceeds " + std::to_string(policy_.max_document_size));
  }
  codec::CborLimits limits;
  limits.max_input = policy_.max_document_size;
  limits.max_depth = 4;
  limits.max_container = 16;
  limits.max_items = 64;
  limits.max_string = policy_.max_document_size;
  auto msg = codec::cose_sign1_decode(cose, limits);
  if (!msg.ok()) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT, "not a COSE_Sign1: " + msg.status().to_string());
  }

  // alg: exactly ES384, in the protected header; nothing may override it or be critical.
  auto alg = codec::cose_protected_alg(*msg);
  if (!alg.ok()) return make_error(ErrorCode::ATTEST_BAD_ALG, alg.status().message());
  if (*alg != codec::kCoseAlgES384) {
    return make_error(ErrorCode::ATTEST_BAD_ALG, "COSE alg is " + std::to_string(*alg) + ", not ES384 (-35)");
  }
  if (msg->protected_header.find_int(codec::kCoseHeaderCrit) != nullptr) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT, "protected header has critical parameters");
  }
  if (msg->unprotected_header.find_int(codec::kCoseHeaderAlg) != nullptr) {
    return make_error(ErrorCode::ATTEST_BAD_ALG, "unprotected header carries an alg");
  }

  NitroVerification out;
  out.tagged = msg->tagged;
  CPIPE_ASSIGN_OR_RETURN(out.document, parse_nitro_document(msg->payload));
  const NitroDocument& doc = out.document;

  CPIPE_ASSIGN_OR_RETURN(out.chain, policy_.chain_cache
                                        ? policy_.chain_cache->verify(policy_.root_der, doc.cabundle, doc.certificate, now)
                                        : verify_nitro_chain(policy_.root_der, doc.cabundle, doc.certificate, now));
  CPIPE_RETURN_IF_ERROR(cose_sign1_verify_ecdsa(*msg, codec::kCoseAlgES384, out.chain.leaf_public_key));

  const int64_t ts = static_cast<int64_t>(doc.timestamp_ms);
  // 128-bit differences: `now` is caller input and may be anywhere in int64.
  const __int128 age = static_cast<__int128>(now) - ts;
  if (-age > policy_.max_future_ms) {
    return make_error(ErrorCode::ATTEST_STALE, "document timestamp " + std::to_string(ts) +
                                                   " is ahead of now " + std::to_string(now));
  }
  if (policy_.max_age_ms && age > *policy_.max_age_ms) {
    return make_error(ErrorCode::ATTEST_STALE, "document is " + std::to_string(static_cast<int64_t>(age)) +
                                                   " ms old; the limit is " + std::to_string(*policy_.max_age_ms));
  }

  out.debug = doc.is_debug();
  if (out.debug && !policy_.allow_debug) {
    return make_error(ErrorCode::ATTEST_DEBUG_NOT_ALLOWED, "debug-mode enclave (PCR0, PCR1, PCR2 are all zero)");
  }
  for (const auto& [index, value] : policy_.expected_pcrs) {
    auto it = doc.pcrs.find(index);
    if (it == doc.pcrs.end()) {
      return make_error(ErrorCode::ATTEST_MEASUREMENT_MISMATCH, "PCR" + std::to_string(index) + " is not in the document");
    }
    if (it->second != value) {
      return make_error(ErrorCode::ATTEST_MEASUREMENT_MISMATCH,
                        "PCR" + std::to_string(index) + " is " + hex_encode(it->second) + ", pinned " + hex_encode(value));
    }
  }
  CPIPE_RETURN_IF_ERROR(check_binding("public_key", ctx.expect_public_key, doc.public_key));
  CPIPE_RETURN_IF_ERROR(check_binding("user_data", ctx.expect_user_data, doc.user_data));
  CPIPE_RETURN_IF_ERROR(check_binding("nonce", ctx.expect_nonce, doc.nonce));

  runtime::VerifiedEvidence& ev = out.evidence;
  ev.platform = policy_.platform;
  for (const auto& [index, value] : doc.pcrs) ev.measurements["PCR" + std::to_string(index)] = value;
  ev.public_key = doc.public_key.value_or(Bytes{});
  ev.user_data = doc.user_data.value_or(Bytes{});
  ev.nonce = doc.nonce.value_or(Bytes{});
  ev.timestamp_ms = ts;
  ev.debug = out.debug;
  return out;
}

Result<runtime::VerifiedEvidence> NitroVerifier::verify(const runtime::Evidence& evidence,
                                                        const runtime::VerifyContext& ctx) const {
  if (evidence.platform != policy_.platform) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT,
                      "evidence platform \"" + evidence.platform + "\", this verifier takes \"" + policy_.platform + "\"");
  }
  CPIPE_ASSIGN_OR_RETURN(NitroVerification v, verify_document(evidence.document, ctx));
  return std::move(v.evidence);
}

}  // namespace cpipe::attest::nitro

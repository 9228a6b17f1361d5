// COSE_Sign1 ECDSA verification.
#include "core/attest/nitro/cose_ecdsa.h"

#include <string>

#include "core/crypto/ecdsa.h"

namespace cpipe::attest {

Status cose_sign1_verify_ecdsa(const codec::CoseSign1& msg, int64_t expected_alg,
                               ByteSpan public_key, ByteSpan external_aad) {
  // COSE lets alg sit in either bucket; callers that need it protected (Nitro) check first.
  const codec::CborValue* alg = msg.protected_header.find_int(codec::kCoseHeaderAlg);
  if (alg == nullptr) alg = msg.unprotected_header.find_int(codec::kCoseHeaderAlg);
  if (alg == nullptr) return make_error(ErrorCode::ATTEST_BAD_ALG, "COSE message has no alg");
  auto alg_value = alg->as_int64();
  if (!alg_value || *alg_value != expected_alg) {
    return make_error(ErrorCode::ATTEST_BAD_ALG, "COSE alg is not " + std::to_string(expected_alg));
  }
  crypto::EcCurve curve;
  size_t sig_size;
  if (expected_alg == codec::kCoseAlgES384) {
    curve = crypto::EcCurve::kP384;
    sig_size = 96;
  } else if (expected_alg == codec::kCoseAlgES256) {
    curve = crypto::EcCurve::kP256;
    sig_size = 64;
  } else {
    return make_error(ErrorCode::ATTEST_BAD_ALG, "COSE alg " + std::to_string(expected_alg) + " is not supported");
  }
  if (msg.signature.size() != sig_size) {
    return make_error(ErrorCode::ATTEST_SIGNATURE_INVALID,
                      "COSE signature has " + std::to_string(msg.signature.size()) + " bytes, expected " +
                          std::to_string(sig_size) + " (raw r||s)");
  }
  // RFC 9052 §4.4: with no protected attributes the Sig_structure carries a zero-length bstr,
  // also when the message spelled the empty bucket as h'a0' (cose-wg sign-pass-01).
  ByteSpan protected_bytes = msg.protected_header.map_size() == 0 ? ByteSpan() : ByteSpan(msg.protected_bytes);
  Bytes tbs = codec::cose_sig_structure1(protected_bytes, external_aad, msg.payload);
  Status st = crypto::ecdsa_verify(curve, public_key, tbs, msg.signature, crypto::SigFormat::kP1363);
  if (!st.ok()) {
    return make_error(ErrorCode::ATTEST_SIGNATURE_INVALID, "COSE_Sign1 signature: " + st.to_string());
  }
  return Status::Ok();
}

}  // namespace cpipe::attest

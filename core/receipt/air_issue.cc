// Issuing AIR v1 receipts (COSE_Sign1 / EdDSA over deterministic CBOR claims).
#include "core/receipt/air_issue.h"

#include "core/codec/cbor/cbor_encode.h"
#include "core/codec/cbor/cose_sign1.h"
#include "core/receipt/air_verify.h"

namespace cpipe::receipt {

Bytes protected_header_bytes() {
  Bytes out;
  codec::CborWriter w(out);
  w.map_header(2);
  w.integer(codec::kCoseHeaderAlg);
  w.integer(-8);  // EdDSA
  w.integer(3);   // content type
  w.uint(61);     // application/cwt
  return out;
}

Result<Bytes> issue_receipt(const AirClaims& claims, const crypto::Ed25519KeyPair& key) {
  codec::CoseSign1 msg;
  msg.tagged = true;
  msg.protected_bytes = protected_header_bytes();
  msg.unprotected_header = codec::CborValue::map({});
  msg.payload = encode_claims(claims);
  Bytes tbs = codec::cose_sig_structure1(msg.protected_bytes, {}, msg.payload);
  auto sig = key.sign(tbs);
  msg.signature.assign(sig.begin(), sig.end());
  Bytes receipt = codec::cose_sign1_encode(msg);

  // Self-check through layers 1-3 (policy-free): what we sign must verify.
  auto report = verify_receipt(receipt, key.public_key(), VerifyPolicy{});
  if (!report.ok()) return report.status();
  if (!report->verified()) {
    const Status s = report->status();
    return make_error(ErrorCode::RECEIPT_BAD_CLAIM, "refusing to issue: " + s.message());
  }
  return receipt;
}

Bytes new_cti(runtime::Random& random) {
  Bytes cti = random.bytes(kCtiSize);
  cti[6] = uint8_t((cti[6] & 0x0f) | 0x40);  // version 4
  cti[8] = uint8_t((cti[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return cti;
}

}  // namespace cpipe::receipt

// COSE_Sign1 decode / encode and Sig_structure1.
#include "core/codec/cbor/cose_sign1.h"

#include <string>

#include "core/codec/cbor/cbor_encode.h"

namespace cpipe::codec {
namespace {

Status bad(std::string msg) { return make_error(ErrorCode::CODEC_BAD_FORMAT, "COSE_Sign1: " + std::move(msg)); }

}  // namespace

Result<CoseSign1> cose_sign1_decode(ByteSpan input, const CborLimits& limits) {
  CPIPE_ASSIGN_OR_RETURN(CborValue top, cbor_decode(input, limits));
  CoseSign1 msg;
  const CborValue* arr = &top;
  if (top.is_tag()) {
    if (top.raw_uint() != kCoseSign1Tag) {
      return bad("tag " + std::to_string(top.raw_uint()) + " is not COSE_Sign1 (18)");
    }
    msg.tagged = true;
    arr = &top.tagged();
  }
  if (!arr->is_array() || arr->items().size() != 4) {
    return bad("not an array of 4 elements");
  }
  const auto& it = arr->items();
  if (!it[0].is_bytes()) return bad("protected header is not a bstr");
  if (!it[1].is_map()) return bad("unprotected header is not a map");
  if (it[2].is_null()) return bad("detached (nil) payload is not supported");
  if (!it[2].is_bytes()) return bad("payload is not a bstr");
  if (!it[3].is_bytes()) return bad("signature is not a bstr");
  msg.protected_bytes = it[0].byte_content();
  if (msg.protected_bytes.empty()) {
    msg.protected_header = CborValue::map({});
  } else {
    auto ph = cbor_decode(msg.protected_bytes, limits);
    if (!ph.ok()) return ph.status().with_context("COSE_Sign1 protected header");
    if (!ph->is_map()) return bad("protected header is not a serialized map");
    msg.protected_header = std::move(*ph);
  }
  msg.unprotected_header = it[1];
  msg.payload = it[2].byte_content();
  msg.signature = it[3].byte_content();
  return msg;
}

Result<int64_t> cose_protected_alg(const CoseSign1& msg) {
  const CborValue* alg = msg.protected_header.find_int(kCoseHeaderAlg);
  if (alg == nullptr) return bad("protected header has no alg (label 1)");
  auto v = alg->as_int64();
  if (!v) return bad("alg is not an integer");
  return *v;
}

Bytes cose_sig_structure1(ByteSpan protected_bytes, ByteSpan external_aad, ByteSpan payload) {
  Bytes out;
  out.reserve(protected_bytes.size() + external_aad.size() + payload.size() + 32);
  CborWriter w(out);
  w.array_header(4);
  w.text("Signature1");
  w.bytes(protected_bytes);
  w.bytes(external_aad);
  w.bytes(payload);
  return out;
}

Bytes cose_sign1_encode(const CoseSign1& msg) {
  Bytes out;
  CborWriter w(out);
  if (msg.tagged) w.tag(kCoseSign1Tag);
  w.array_header(4);
  w.bytes(msg.protected_bytes);
  w.value(msg.unprotected_header.is_map() ? msg.unprotected_header : CborValue::map({}));
  w.bytes(msg.payload);
  w.bytes(msg.signature);
  return out;
}

}  // namespace cpipe::codec

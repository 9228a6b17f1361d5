// libFuzzer target for the CBOR decoder, COSE_Sign1 decoding, the Nitro document parser and
// the full Nitro verifier (at a fixed time, AWS root). Invariants checked besides "no crash":
// a decoded value re-encodes (definite form) to bytes that decode to an equal value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/attest/nitro/nitro_document.h"
#include "core/attest/nitro/nitro_verifier.h"
#include "core/codec/cbor/cbor_decode.h"
#include "core/codec/cbor/cbor_encode.h"
#include "core/codec/cbor/cose_sign1.h"

using namespace cpipe;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteSpan in(data, size);
  auto v = codec::cbor_decode(in);
  if (v.ok()) {
    Bytes again = codec::cbor_encode(*v);
    auto w = codec::cbor_decode(again);
    if (!w.ok() || !(*w == *v)) std::abort();
  }
  auto msg = codec::cose_sign1_decode(in);
  if (msg.ok()) (void)attest::nitro::parse_nitro_document(msg->payload);
  (void)attest::nitro::parse_nitro_document(in);
  static const attest::nitro::NitroVerifier verifier = [] {
    attest::nitro::NitroPolicy p;
    p.allow_debug = true;
    p.max_age_ms.reset();
    return attest::nitro::NitroVerifier::create(p).value();
  }();
  runtime::VerifyContext ctx;
  ctx.now_unix_ms = 1665651482136 + 60000;
  (void)verifier.verify_document(in, ctx);
  return 0;
}

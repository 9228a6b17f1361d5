// CBOR decoder/encoder: definite and indefinite lengths, tags (including the one-byte tag heads
// that libcbor 0.8's streaming decoder rejects), limits, precise CODEC_* errors, round trips.
#include <gtest/gtest.h>

#include "core/codec/cbor/cbor_decode.h"
#include "core/codec/cbor/cbor_encode.h"
#include "tests/attest/nitro_test_util.h"

namespace cpipe::codec {
namespace {

Bytes hx(std::string_view s) { return hex_decode(s).value(); }

ErrorCode code_of(std::string_view hex, const CborLimits& limits = {}) {
  return cbor_decode(hx(hex), limits).code();
}

TEST(CborDecode, ScalarsOfEveryWidth) {
  EXPECT_EQ(*cbor_decode(hx("00")), CborValue::uint(0));
  EXPECT_EQ(*cbor_decode(hx("17")), CborValue::uint(23));
  EXPECT_EQ(*cbor_decode(hx("1818")), CborValue::uint(24));
  EXPECT_EQ(*cbor_decode(hx("1903e8")), CborValue::uint(1000));
  EXPECT_EQ(*cbor_decode(hx("1a000f4240")), CborValue::uint(1000000));
  EXPECT_EQ(*cbor_decode(hx("1b00000183d0909e18")),
            CborValue::uint(1665651482136));
  EXPECT_EQ(*cbor_decode(hx("1bffffffffffffffff")), CborValue::uint(UINT64_MAX));
  EXPECT_EQ(cbor_decode(hx("3822"))->as_int64(), -35);
  EXPECT_EQ(cbor_decode(hx("3bffffffffffffffff"))->raw_uint(), UINT64_MAX);
  EXPECT_FALSE(cbor_decode(hx("3bffffffffffffffff"))->as_int64().has_value());
  EXPECT_EQ(*cbor_decode(hx("f6")), CborValue::null());
  EXPECT_EQ(*cbor_decode(hx("f5")), CborValue::boolean(true));
  EXPECT_EQ(*cbor_decode(hx("f7")), CborValue::undefined());
  EXPECT_EQ(cbor_decode(hx("f93c00"))->as_double(), 1.0);
  EXPECT_EQ(cbor_decode(hx("fb3ff8000000000000"))->as_double(), 1.5);
}

TEST(CborDecode, DefiniteAndIndefiniteGiveEqualValues) {
  // {"a": [1, h'0102'], "b": "xy"} both ways (RFC 8949 Appendix A style).
  CborValue definite = *cbor_decode(hx("a2616182014201026162627879"));
  auto indefinite = cbor_decode(hx("bf61619f015f41014102ffff61627f61786179ffff"));
  ASSERT_TRUE(indefinite.ok()) << indefinite.status().to_string();
  EXPECT_EQ(definite, *indefinite);
  EXPECT_FALSE(definite.indefinite());
  EXPECT_TRUE(indefinite->indefinite());
  EXPECT_TRUE(indefinite->find("a")->indefinite());
  EXPECT_EQ(indefinite->find("b")->text_content(), "xy");
  EXPECT_EQ(indefinite->find("a")->items()[1].byte_content(), hx("0102"));
}

TEST(CborDecode, OneByteTagHeadsThatLibcborRejects) {
  for (int t = 0; t < 24; ++t) {
    Bytes in = {uint8_t(0xC0 + t), 0x40};
    auto v = cbor_decode(in);
    ASSERT_TRUE(v.ok()) << "tag " << t << ": " << v.status().to_string();
    EXPECT_TRUE(v->is_tag());
    EXPECT_EQ(v->raw_uint(), uint64_t(t));
  }
  auto cose = cbor_decode(hx("d28440a0404100"));
  ASSERT_TRUE(cose.ok());
  EXPECT_EQ(cose->raw_uint(), 18u);
  EXPECT_EQ(*cbor_decode(hx("d81240")), *cbor_decode(hx("d240")));  // non-shortest tag head
}

TEST(CborDecode, TruncationIsCodecTruncated) {
  for (const char* h : {"", "18", "19e8", "1b00000000", "45010203", "7801", "8301", "a101",
                        "9f01", "bf6161", "5f4101", "d2", "a2616101"}) {
    EXPECT_EQ(code_of(h), ErrorCode::CODEC_TRUNCATED) << h;
  }
  // A declared count the input cannot possibly hold fails before any allocation.
  EXPECT_EQ(code_of("9b00000000ffffffff"), ErrorCode::CODEC_LIMIT_EXCEEDED);
  EXPECT_EQ(code_of("5bffffffffffffffff00"), ErrorCode::CODEC_TRUNCATED);
  EXPECT_EQ(code_of("98ff00"), ErrorCode::CODEC_TRUNCATED);
}

TEST(CborDecode, TrailingBytesAreCodecTrailingData) {
  EXPECT_EQ(code_of("0000"), ErrorCode::CODEC_TRAILING_DATA);
  EXPECT_EQ(code_of("a0ff"), ErrorCode::CODEC_TRAILING_DATA);
  size_t used = 0;
  auto v = cbor_decode_prefix(hx("0102"), &used);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(used, 1u);
}

TEST(CborDecode, MalformedIsCodecBadFormat) {
  for (const char* h : {
           "1c", "3f", "5c", "7d", "9e", "bc", "fc",  // reserved additional info
           "ff",                                      // break at top level
           "81ff",                                    // break inside a definite array
           "bf01ff",                                  // indefinite map ends after a key
           "5f6161ff",                                // text chunk in a byte string
           "5f5f4100ffff",                            // nested indefinite chunk
           "5f01ff",                                  // integer chunk
           "62c328",                                  // invalid UTF-8
           "63eda080",                                // UTF-16 surrogate in UTF-8
           "a2616101616102",                          // duplicate map key
           "a201010102",                              // duplicate integer key
           "e0", "f800",                              // unassigned simple values
       }) {
    EXPECT_EQ(code_of(h), ErrorCode::CODEC_BAD_FORMAT) << h;
  }
}

TEST(CborDecode, LimitsAreEnforced) {
  CborLimits lim;
  lim.max_depth = 3;
  EXPECT_TRUE(cbor_decode(hx("81818100"), lim).ok());
  EXPECT_EQ(code_of("8181818100", lim), ErrorCode::CODEC_LIMIT_EXCEEDED);
  EXPECT_EQ(code_of("9f9f9f9f00ffffffff", lim), ErrorCode::CODEC_LIMIT_EXCEEDED);
  EXPECT_EQ(code_of("c1c1c1c100", lim), ErrorCode::CODEC_LIMIT_EXCEEDED);  // tags nest too

  lim = CborLimits{};
  lim.max_container = 2;
  EXPECT_TRUE(cbor_decode(hx("820102"), lim).ok());
  EXPECT_EQ(code_of("83010203", lim), ErrorCode::CODEC_LIMIT_EXCEEDED);
  EXPECT_EQ(code_of("9f010203ff", lim), ErrorCode::CODEC_LIMIT_EXCEEDED);
  EXPECT_EQ(code_of("a3010102020303", lim), ErrorCode::CODEC_LIMIT_EXCEEDED);
  EXPECT_EQ(code_of("bf010102020303ff", lim), ErrorCode::CODEC_LIMIT_EXCEEDED);

  lim = CborLimits{};
  lim.max_string = 3;
  EXPECT_TRUE(cbor_decode(hx("43010203"), lim).ok());
  EXPECT_EQ(code_of("4401020304", lim), ErrorCode::CODEC_LIMIT_EXCEEDED);
  EXPECT_EQ(code_of("5f420102420304ff", lim), ErrorCode::CODEC_LIMIT_EXCEEDED);
  EXPECT_EQ(code_of("6461626364", lim), ErrorCode::CODEC_LIMIT_EXCEEDED);

  lim = CborLimits{};
  lim.max_items = 3;
  EXPECT_TRUE(cbor_decode(hx("820102"), lim).ok());
  EXPECT_EQ(code_of("83010203", lim), ErrorCode::CODEC_LIMIT_EXCEEDED);

  lim = CborLimits{};
  lim.max_input = 2;
  EXPECT_EQ(code_of("43010203", lim), ErrorCode::CODEC_LIMIT_EXCEEDED);
}

TEST(CborEncode, ShortestFormsAndRoundTrip) {
  Bytes out;
  CborWriter w(out);
  w.uint(23);
  w.uint(24);
  w.uint(256);
  w.uint(65536);
  w.uint(uint64_t(1) << 32);
  w.integer(-35);
  w.integer(INT64_MIN);
  w.tag(18);
  w.text("ab");
  w.bytes(hx("01"));
  w.null();
  EXPECT_EQ(hex_encode(out), "171818190100" "1a00010000" "1b0000000100000000" "3822"
                             "3b7fffffffffffffff" "d2" "626162" "4101" "f6");
  // Decoded indefinite input re-encodes definite, keeping map order.
  CborValue v = *cbor_decode(hx("bf61629f01ff61610fff"));
  EXPECT_EQ(hex_encode(cbor_encode(v)), "a2616281016161" "0f");
  EXPECT_EQ(*cbor_decode(cbor_encode(v)), v);
}

TEST(CborDecode, RealNsmPayloadsDefiniteAndIndefinite) {
  using testing_nitro::data_path;
  using testing_nitro::read_file;
  for (const auto& d : testing_nitro::real_docs()) {
    Bytes doc = read_file(data_path(d.file));
    ASSERT_FALSE(doc.empty()) << d.file;
    auto outer = cbor_decode(doc);
    ASSERT_TRUE(outer.ok()) << d.file << ": " << outer.status().to_string();
    ASSERT_TRUE(outer->is_array());
    auto payload = cbor_decode(outer->items()[2].byte_content());
    ASSERT_TRUE(payload.ok()) << d.file << ": " << payload.status().to_string();
    EXPECT_EQ(payload->indefinite(), d.indefinite) << d.file;
    EXPECT_EQ(payload->map_size(), 9u);
    EXPECT_EQ(payload->find("timestamp")->raw_uint(), uint64_t(d.timestamp_ms));
    // Definite documents re-encode byte for byte: the encoder writes what the NSM writes.
    if (!d.indefinite) {
      EXPECT_EQ(cbor_encode(*payload), outer->items()[2].byte_content()) << d.file;
      EXPECT_EQ(cbor_encode(*outer), doc) << d.file;
    }
  }
}

}  // namespace
}  // namespace cpipe::codec

// Hex and the bounds-checked readers/writers every wire format relies on.
#include "core/base/bytes.h"

#include <gtest/gtest.h>

namespace cpipe {
namespace {

TEST(HexTest, RoundTripAndCase) {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(hex_encode(b), "0001abff");
  EXPECT_EQ(*hex_decode("0001ABff"), b);
  EXPECT_EQ(*hex_decode(""), Bytes{});
}

TEST(HexTest, RejectsOddLengthAndBadDigits) {
  EXPECT_EQ(hex_decode("abc").code(), ErrorCode::INVALID_ARGUMENT);
  EXPECT_EQ(hex_decode("zz").code(), ErrorCode::INVALID_ARGUMENT);
  EXPECT_EQ(hex_decode("0g").code(), ErrorCode::INVALID_ARGUMENT);
}

TEST(ConstantTimeEqualTest, ComparesContentAndLength) {
  Bytes a = {1, 2, 3}, b = {1, 2, 3}, c = {1, 2, 4}, d = {1, 2};
  EXPECT_TRUE(constant_time_equal(a, b));
  EXPECT_FALSE(constant_time_equal(a, c));
  EXPECT_FALSE(constant_time_equal(a, d));
  EXPECT_TRUE(constant_time_equal(Bytes{}, Bytes{}));
}

TEST(ByteReaderTest, ReadsWhatWriterWrote) {
  Bytes buf;
  ByteWriter w(buf);
  w.u8(7);
  w.u16_be(0x1234);
  w.u32_be(0xdeadbeef);
  w.u64_be(0x0102030405060708ull);
  w.u32_le(0xcafebabe);
  w.u64_le(42);
  w.var16(Bytes{9, 9});
  w.var32(Bytes{1, 2, 3});
  EXPECT_EQ(buf[1], 0x12);  // big-endian on the wire
  ByteReader r(buf);
  EXPECT_EQ(*r.u8(), 7);
  EXPECT_EQ(*r.u16_be(), 0x1234);
  EXPECT_EQ(*r.u32_be(), 0xdeadbeefu);
  EXPECT_EQ(*r.u64_be(), 0x0102030405060708ull);
  EXPECT_EQ(*r.u32_le(), 0xcafebabeu);
  EXPECT_EQ(*r.u64_le(), 42u);
  EXPECT_EQ(r.var16()->size(), 2u);
  EXPECT_EQ(r.var32(16)->size(), 3u);
  EXPECT_TRUE(r.expect_end().ok());
}

TEST(ByteReaderTest, EveryTruncationFailsCleanly) {
  Bytes buf;
  ByteWriter w(buf);
  w.u64_be(1);
  w.var32(Bytes(10, 0xaa));
  for (size_t cut = 0; cut < buf.size(); ++cut) {
    ByteReader r(ByteSpan(buf).first(cut));
    Result<uint64_t> a = r.u64_be();
    if (!a.ok()) {
      EXPECT_EQ(a.code(), ErrorCode::CODEC_TRUNCATED);
      continue;
    }
    EXPECT_EQ(r.var32(100).code(), ErrorCode::CODEC_TRUNCATED) << "cut=" << cut;
  }
}

TEST(ByteReaderTest, LengthLimitAndTrailingData) {
  Bytes buf;
  ByteWriter w(buf);
  w.var32(Bytes(10, 0));
  ByteReader r(buf);
  EXPECT_EQ(r.var32(9).code(), ErrorCode::CODEC_LIMIT_EXCEEDED);
  ByteReader r2(buf);
  ASSERT_TRUE(r2.u8().ok());
  EXPECT_EQ(r2.expect_end().code(), ErrorCode::CODEC_TRAILING_DATA);
}

}  // namespace
}  // namespace cpipe

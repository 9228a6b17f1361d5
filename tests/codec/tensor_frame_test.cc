// Tensor frames: round trips for every dtype and strict rejection of every malformation.
#include "core/codec/tensor_frame.h"

#include <gtest/gtest.h>

#include <cstring>

namespace cpipe::codec {
namespace {

Bytes iota_bytes(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(i * 7 + 1);
  return b;
}

TEST(TensorFrame, RoundTripsEveryDtype) {
  for (DType dt : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64, DType::U8,
                   DType::U32}) {
    TensorHeader h{dt, {2, 3, 4}, std::string("layer.") + std::string(dtype_name(dt))};
    Bytes data = iota_bytes(24 * dtype_size(dt));
    auto frame = encode_tensor(h, data);
    ASSERT_TRUE(frame.ok()) << frame.status().to_string();
    EXPECT_EQ(frame->size(), tensor_header_size(h) + data.size());
    auto view = decode_tensor(*frame);
    ASSERT_TRUE(view.ok()) << view.status().to_string();
    EXPECT_EQ(view->header.dtype, dt);
    EXPECT_EQ(view->header.shape, h.shape);
    EXPECT_EQ(view->header.name, h.name);
    EXPECT_EQ(Bytes(view->data.begin(), view->data.end()), data);
    // Zero copy on decode: the data view points into the frame.
    EXPECT_EQ(view->data.data(), frame->data() + tensor_header_size(h));
  }
}

TEST(TensorFrame, ElementSizesAreThoseOfTheDtypes) {
  EXPECT_EQ(dtype_size(DType::F32), 4u);
  EXPECT_EQ(dtype_size(DType::F16), 2u);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::I32), 4u);
  EXPECT_EQ(dtype_size(DType::I64), 8u);
  EXPECT_EQ(dtype_size(DType::U8), 1u);
  EXPECT_EQ(dtype_size(DType::U32), 4u);
}

TEST(TensorFrame, ScalarAndEmptyTensors) {
  TensorHeader scalar{DType::I64, {}, "step"};
  Bytes one = iota_bytes(8);
  auto f = encode_tensor(scalar, one);
  ASSERT_TRUE(f.ok());
  auto v = decode_tensor(*f);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->header.shape.empty());
  EXPECT_EQ(v->data.size(), 8u);

  TensorHeader empty{DType::F32, {0, 768}, ""};
  auto e = encode_tensor(empty, {});
  ASSERT_TRUE(e.ok());
  auto ev = decode_tensor(*e);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->data.size(), 0u);
}

TEST(TensorFrame, LayoutIsLittleEndianAsDocumented) {
  TensorHeader h{DType::U32, {2}, "ab"};
  Bytes data = {1, 0, 0, 0, 2, 0, 0, 0};
  auto f = encode_tensor(h, data);
  ASSERT_TRUE(f.ok());
  Bytes expect = {'T', 'F', 1, 7, 1, 0, 2, 0, 'a', 'b', 2, 0, 0, 0, 0, 0, 0, 0,
                  8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0};
  EXPECT_EQ(*f, expect);
}

TEST(TensorFrame, EncodeRejectsDataOfTheWrongSize) {
  TensorHeader h{DType::F32, {4}, "x"};
  EXPECT_EQ(encode_tensor(h, iota_bytes(15)).code(), ErrorCode::CHANNEL_BAD_TENSOR);
  EXPECT_EQ(encode_tensor(h, iota_bytes(17)).code(), ErrorCode::CHANNEL_BAD_TENSOR);
}

TEST(TensorFrame, EncodeRejectsTooManyDimsAndBadDtype) {
  TensorHeader h{DType::U8, {1, 1, 1, 1, 1, 1, 1, 1, 1}, "x"};
  EXPECT_EQ(encode_tensor(h, iota_bytes(1)).code(), ErrorCode::CODEC_LIMIT_EXCEEDED);
  TensorHeader bad{static_cast<DType>(9), {1}, "x"};
  EXPECT_EQ(encode_tensor(bad, iota_bytes(1)).code(), ErrorCode::CHANNEL_BAD_TENSOR);
  TensorHeader eight{DType::U8, {1, 1, 1, 1, 1, 1, 1, 1}, "x"};
  EXPECT_TRUE(encode_tensor(eight, iota_bytes(1)).ok());
}

TEST(TensorFrame, SizeOverflowIsRejected) {
  TensorHeader h{DType::I64, {uint64_t(1) << 32, uint64_t(1) << 30}, "huge"};
  EXPECT_EQ(tensor_data_size(h).code(), ErrorCode::CODEC_LIMIT_EXCEEDED);
}

class TensorDecode : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = encode_tensor(TensorHeader{DType::F16, {3, 2}, "w"}, iota_bytes(12));
    ASSERT_TRUE(f.ok());
    frame = *f;
  }
  Bytes frame;  // header is 8 + 1 + 16 + 8 = 33 bytes, then 12 data bytes
};

TEST_F(TensorDecode, UnknownDtype) {
  for (uint8_t code : {0, 8, 0xff}) {
    Bytes f = frame;
    f[3] = code;
    EXPECT_EQ(decode_tensor(f).code(), ErrorCode::CHANNEL_BAD_TENSOR) << int(code);
  }
}

TEST_F(TensorDecode, TooManyDims) {
  Bytes f = frame;
  f[4] = 9;
  EXPECT_EQ(decode_tensor(f).code(), ErrorCode::CODEC_LIMIT_EXCEEDED);
}

TEST_F(TensorDecode, BadMagicVersionReserved) {
  for (size_t pos : {0, 1, 2, 5}) {
    Bytes f = frame;
    f[pos] ^= 0x01;
    EXPECT_EQ(decode_tensor(f).code(), ErrorCode::CHANNEL_BAD_TENSOR) << pos;
  }
}

TEST_F(TensorDecode, DataLengthMustMatchShape) {
  Bytes f = frame;
  f[9 + 16] = 13;  // declared data length
  EXPECT_EQ(decode_tensor(f).code(), ErrorCode::CHANNEL_BAD_TENSOR);
  Bytes g = frame;
  g[9] = 4;  // first dim 3 -> 4: shape needs 16 bytes, 12 declared
  EXPECT_EQ(decode_tensor(g).code(), ErrorCode::CHANNEL_BAD_TENSOR);
}

TEST_F(TensorDecode, TrailingBytes) {
  Bytes f = frame;
  f.push_back(0);
  EXPECT_EQ(decode_tensor(f).code(), ErrorCode::CODEC_TRAILING_DATA);
}

TEST_F(TensorDecode, EveryTruncationIsRejected) {
  for (size_t n = 0; n < frame.size(); ++n) {
    auto r = decode_tensor(ByteSpan(frame).first(n));
    EXPECT_EQ(r.code(), ErrorCode::CODEC_TRUNCATED) << "length " << n;
  }
}

TEST_F(TensorDecode, NameLongerThanLimit) {
  Bytes f = frame;
  f[6] = 0x01;
  f[7] = 0x04;  // 1025
  EXPECT_EQ(decode_tensor(f).code(), ErrorCode::CODEC_LIMIT_EXCEEDED);
}

TEST_F(TensorDecode, HugeDeclaredShapeIsRejectedWithoutAllocating) {
  Bytes f = frame;
  for (int i = 0; i < 8; ++i) f[9 + i] = 0xff;  // first dim 2^64-1
  EXPECT_EQ(decode_tensor(f).code(), ErrorCode::CODEC_LIMIT_EXCEEDED);
}

}  // namespace
}  // namespace cpipe::codec

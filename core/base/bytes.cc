// Hex, constant-time compare, and the bounds-checked ByteReader/ByteWriter.
#include "core/base/bytes.h"

#include <sodium.h>

namespace cpipe {

std::string hex_encode(ByteSpan data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.resize(data.size() * 2);
  for (size_t i = 0; i < data.size(); ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<Bytes> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "hex string has odd length");
  }
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return make_error(ErrorCode::INVALID_ARGUMENT,
                        "non-hex character at offset " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = uint8_t(hi << 4 | lo);
  }
  return out;
}

bool constant_time_equal(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void secure_zero(MutableByteSpan data) {
  if (!data.empty()) sodium_memzero(data.data(), data.size());
}

void ByteWriter::u16_be(uint16_t v) {
  uint8_t b[2];
  store_u16_be(b, v);
  raw(b);
}
void ByteWriter::u32_be(uint32_t v) {
  uint8_t b[4];
  store_u32_be(b, v);
  raw(b);
}
void ByteWriter::u64_be(uint64_t v) {
  uint8_t b[8];
  store_u64_be(b, v);
  raw(b);
}
void ByteWriter::u32_le(uint32_t v) {
  uint8_t b[4];
  store_u32_le(b, v);
  raw(b);
}
void ByteWriter::u64_le(uint64_t v) {
  uint8_t b[8];
  store_u64_le(b, v);
  raw(b);
}
void ByteWriter::var16(ByteSpan data) {
  assert(data.size() <= 0xffff);
  u16_be(uint16_t(data.size()));
  raw(data);
}
void ByteWriter::var32(ByteSpan data) {
  assert(data.size() <= 0xffffffffu);
  u32_be(uint32_t(data.size()));
  raw(data);
}

static Status truncated(size_t need, size_t have) {
  return make_error(ErrorCode::CODEC_TRUNCATED,
                    "need " + std::to_string(need) + " bytes, " + std::to_string(have) + " remain");
}

Result<ByteSpan> ByteReader::raw(size_t n) {
  if (remaining() < n) return truncated(n, remaining());
  ByteSpan out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}
Result<uint8_t> ByteReader::u8() {
  CPIPE_ASSIGN_OR_RETURN(ByteSpan b, raw(1));
  return b[0];
}
Result<uint16_t> ByteReader::u16_be() {
  CPIPE_ASSIGN_OR_RETURN(ByteSpan b, raw(2));
  return load_u16_be(b.data());
}
Result<uint32_t> ByteReader::u32_be() {
  CPIPE_ASSIGN_OR_RETURN(ByteSpan b, raw(4));
  return load_u32_be(b.data());
}
Result<uint64_t> ByteReader::u64_be() {
  CPIPE_ASSIGN_OR_RETURN(ByteSpan b, raw(8));
  return load_u64_be(b.data());
}
Result<uint32_t> ByteReader::u32_le() {
  CPIPE_ASSIGN_OR_RETURN(ByteSpan b, raw(4));
  return load_u32_le(b.data());
}
Result<uint64_t> ByteReader::u64_le() {
  CPIPE_ASSIGN_OR_RETURN(ByteSpan b, raw(8));
  return load_u64_le(b.data());
}
Result<ByteSpan> ByteReader::var16() {
  CPIPE_ASSIGN_OR_RETURN(uint16_t n, u16_be());
  return raw(n);
}
Result<ByteSpan> ByteReader::var32(size_t max_len) {
  CPIPE_ASSIGN_OR_RETURN(uint32_t n, u32_be());
  if (n > max_len) {
    return make_error(ErrorCode::CODEC_LIMIT_EXCEEDED,
                      "field of " + std::to_string(n) + " bytes exceeds limit " + std::to_string(max_len));
  }
  return raw(n);
}
Status ByteReader::expect_end() const {
  if (!empty()) {
    return make_error(ErrorCode::CODEC_TRAILING_DATA,
                      std::to_string(remaining()) + " unexpected trailing bytes");
  }
  return Status::Ok();
}

}  // namespace cpipe

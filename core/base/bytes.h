// Byte buffers and views, hex, and bounds-checked little/big-endian readers and writers used by
// every wire format in cpipe. Readers never read past their span: they return CODEC_TRUNCATED.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace cpipe {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;
using MutableByteSpan = std::span<uint8_t>;

inline ByteSpan as_bytes(std::string_view s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string to_string(ByteSpan b) { return std::string(b.begin(), b.end()); }

std::string hex_encode(ByteSpan data);
// Accepts upper and lower case; rejects odd length and non-hex characters (INVALID_ARGUMENT).
Result<Bytes> hex_decode(std::string_view hex);

// Constant-time comparison for secrets (MACs, keys). Different lengths compare unequal.
bool constant_time_equal(ByteSpan a, ByteSpan b);

// Overwrites a secret in a way the compiler may not elide.
void secure_zero(MutableByteSpan data);

inline void store_u16_be(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
inline void store_u32_be(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (24 - 8 * i));
}
inline void store_u64_be(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (56 - 8 * i));
}
inline uint16_t load_u16_be(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }
inline uint32_t load_u32_be(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
inline uint64_t load_u64_be(const uint8_t* p) {
  return (uint64_t(load_u32_be(p)) << 32) | load_u32_be(p + 4);
}
inline void store_u32_le(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void store_u64_le(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline uint32_t load_u32_le(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline uint64_t load_u64_le(const uint8_t* p) {
  return uint64_t(load_u32_le(p)) | (uint64_t(load_u32_le(p + 4)) << 32);
}

// Appends big-endian integers and length-prefixed fields to a buffer.
class ByteWriter {
 public:
  explicit ByteWriter(Bytes& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u16_be(uint16_t v);
  void u32_be(uint32_t v);
  void u64_be(uint64_t v);
  void u32_le(uint32_t v);
  void u64_le(uint64_t v);
  void raw(ByteSpan data) { out_.insert(out_.end(), data.begin(), data.end()); }
  // u16 big-endian length, then the bytes. Asserts the length fits.
  void var16(ByteSpan data);
  // u32 big-endian length, then the bytes.
  void var32(ByteSpan data);
  size_t size() const { return out_.size(); }

 private:
  Bytes& out_;
};

// Reads the same, bounds-checked. Every getter fails with CODEC_TRUNCATED past the end.
class ByteReader {
 public:
  explicit ByteReader(ByteSpan data) : data_(data) {}
  Result<uint8_t> u8();
  Result<uint16_t> u16_be();
  Result<uint32_t> u32_be();
  Result<uint64_t> u64_be();
  Result<uint32_t> u32_le();
  Result<uint64_t> u64_le();
  Result<ByteSpan> raw(size_t n);
  Result<ByteSpan> var16();
  Result<ByteSpan> var32(size_t max_len);
  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }
  // CODEC_TRAILING_DATA unless every byte was consumed.
  Status expect_end() const;

 private:
  ByteSpan data_;
  size_t pos_ = 0;
};

}  // namespace cpipe

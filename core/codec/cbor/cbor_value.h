// CborValue: an immutable, decoded CBOR data item (RFC 8949). It is what cpipe code sees of
// CBOR: libcbor stays behind cbor_decode.cc / cbor_encode.cc. Maps keep their encoded key order
// (the NSM document's field order matters for byte-compatible re-encoding) and remember whether
// the input used indefinite lengths (real NSM output does).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/bytes.h"

namespace cpipe::codec {

class CborValue {
 public:
  enum class Type { kUint, kNegint, kBytes, kText, kArray, kMap, kTag, kBool, kNull, kUndefined, kFloat };

  CborValue() : type_(Type::kNull) {}

  static CborValue uint(uint64_t v);
  // The negative integer -1 - raw (CBOR major type 1 carries `raw`); full 64-bit range.
  static CborValue negint_raw(uint64_t raw);
  // Any int64: a uint for v >= 0, a negint otherwise.
  static CborValue integer(int64_t v);
  static CborValue bytes(Bytes b, bool indefinite = false);
  static CborValue text(std::string s, bool indefinite = false);
  static CborValue array(std::vector<CborValue> items, bool indefinite = false);
  // Alternating key, value, key, value... (size must be even).
  static CborValue map(std::vector<CborValue> keys_and_values, bool indefinite = false);
  static CborValue tag(uint64_t tag, CborValue content);
  static CborValue boolean(bool b);
  static CborValue null();
  static CborValue undefined();
  static CborValue floating(double d);

  Type type() const { return type_; }
  bool is_uint() const { return type_ == Type::kUint; }
  bool is_integer() const { return type_ == Type::kUint || type_ == Type::kNegint; }
  bool is_bytes() const { return type_ == Type::kBytes; }
  bool is_text() const { return type_ == Type::kText; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_map() const { return type_ == Type::kMap; }
  bool is_tag() const { return type_ == Type::kTag; }
  bool is_null() const { return type_ == Type::kNull; }
  // Whether the input encoded this string/array/map with an indefinite length.
  bool indefinite() const { return indefinite_; }

  // kUint: the value; kNegint: the raw argument (value is -1 - raw); kTag: the tag number.
  uint64_t raw_uint() const { return u_; }
  // The integer value when it fits in int64.
  std::optional<int64_t> as_int64() const;
  bool as_bool() const { return u_ != 0; }
  double as_double() const { return f_; }
  // kBytes / kText content.
  const Bytes& byte_content() const { return data_; }
  std::string_view text_content() const {
    return std::string_view(reinterpret_cast<const char*>(data_.data()), data_.size());
  }

  // kArray items; kTag: one item, the tagged content.
  const std::vector<CborValue>& items() const { return items_; }
  const CborValue& tagged() const { return items_.front(); }
  // kMap entries.
  size_t map_size() const { return items_.size() / 2; }
  const CborValue& map_key(size_t i) const { return items_[2 * i]; }
  const CborValue& map_value(size_t i) const { return items_[2 * i + 1]; }
  // Lookup by text or integer key; nullptr when absent (or when this is not a map).
  const CborValue* find(std::string_view text_key) const;
  const CborValue* find_int(int64_t key) const;

  // Structural equality (ignores the indefinite flag: equal data, different encodings).
  friend bool operator==(const CborValue& a, const CborValue& b);

  // Short human-readable type name for error messages ("bstr", "map", ...).
  static std::string_view type_name(Type t);

 private:
  Type type_;
  bool indefinite_ = false;
  uint64_t u_ = 0;
  double f_ = 0;
  Bytes data_;
  std::vector<CborValue> items_;
};

}  // namespace cpipe::codec

// CborValue constructors, lookup and equality.
#include "core/codec/cbor/cbor_value.h"

#include <cassert>
#include <cstring>
#include <limits>

namespace cpipe::codec {

CborValue CborValue::uint(uint64_t v) {
  CborValue c;
  c.type_ = Type::kUint;
  c.u_ = v;
  return c;
}

CborValue CborValue::negint_raw(uint64_t raw) {
  CborValue c;
  c.type_ = Type::kNegint;
  c.u_ = raw;
  return c;
}

CborValue CborValue::integer(int64_t v) {
  if (v >= 0) return uint(static_cast<uint64_t>(v));
  // -1 - raw = v  =>  raw = -(v + 1), computed without overflow for INT64_MIN.
  return negint_raw(static_cast<uint64_t>(-(v + 1)));
}

CborValue CborValue::bytes(Bytes b, bool indefinite) {
  CborValue c;
  c.type_ = Type::kBytes;
  c.data_ = std::move(b);
  c.indefinite_ = indefinite;
  return c;
}

CborValue CborValue::text(std::string s, bool indefinite) {
  CborValue c;
  c.type_ = Type::kText;
  c.data_.assign(s.begin(), s.end());
  c.indefinite_ = indefinite;
  return c;
}

CborValue CborValue::array(std::vector<CborValue> items, bool indefinite) {
  CborValue c;
  c.type_ = Type::kArray;
  c.items_ = std::move(items);
  c.indefinite_ = indefinite;
  return c;
}

CborValue CborValue::map(std::vector<CborValue> keys_and_values, bool indefinite) {
  assert(keys_and_values.size() % 2 == 0);
  CborValue c;
  c.type_ = Type::kMap;
  c.items_ = std::move(keys_and_values);
  c.indefinite_ = indefinite;
  return c;
}

CborValue CborValue::tag(uint64_t tag, CborValue content) {
  CborValue c;
  c.type_ = Type::kTag;
  c.u_ = tag;
  c.items_.push_back(std::move(content));
  return c;
}

CborValue CborValue::boolean(bool b) {
  CborValue c;
  c.type_ = Type::kBool;
  c.u_ = b ? 1 : 0;
  return c;
}

CborValue CborValue::null() { return CborValue(); }

CborValue CborValue::undefined() {
  CborValue c;
  c.type_ = Type::kUndefined;
  return c;
}

CborValue CborValue::floating(double d) {
  CborValue c;
  c.type_ = Type::kFloat;
  c.f_ = d;
  return c;
}

std::optional<int64_t> CborValue::as_int64() const {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (type_ == Type::kUint) {
    if (u_ > kMax) return std::nullopt;
    return static_cast<int64_t>(u_);
  }
  if (type_ == Type::kNegint) {
    if (u_ > kMax) return std::nullopt;
    return -1 - static_cast<int64_t>(u_);
  }
  return std::nullopt;
}

const CborValue* CborValue::find(std::string_view text_key) const {
  if (type_ != Type::kMap) return nullptr;
  for (size_t i = 0; i < map_size(); ++i) {
    const CborValue& k = map_key(i);
    if (k.is_text() && k.text_content() == text_key) return &map_value(i);
  }
  return nullptr;
}

const CborValue* CborValue::find_int(int64_t key) const {
  if (type_ != Type::kMap) return nullptr;
  for (size_t i = 0; i < map_size(); ++i) {
    auto k = map_key(i).as_int64();
    if (k && *k == key) return &map_value(i);
  }
  return nullptr;
}

bool operator==(const CborValue& a, const CborValue& b) {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case CborValue::Type::kUint:
    case CborValue::Type::kNegint:
    case CborValue::Type::kBool:
      return a.u_ == b.u_;
    case CborValue::Type::kBytes:
    case CborValue::Type::kText:
      return a.data_ == b.data_;
    case CborValue::Type::kArray:
    case CborValue::Type::kMap:
      return a.items_ == b.items_;
    case CborValue::Type::kTag:
      return a.u_ == b.u_ && a.items_ == b.items_;
    case CborValue::Type::kNull:
    case CborValue::Type::kUndefined:
      return true;
    case CborValue::Type::kFloat:
      // Bitwise, so NaN keys compare equal to themselves (duplicate-key detection).
      return std::memcmp(&a.f_, &b.f_, sizeof(double)) == 0;
  }
  return false;
}

std::string_view CborValue::type_name(Type t) {
  switch (t) {
    case Type::kUint: return "uint";
    case Type::kNegint: return "nint";
    case Type::kBytes: return "bstr";
    case Type::kText: return "tstr";
    case Type::kArray: return "array";
    case Type::kMap: return "map";
    case Type::kTag: return "tag";
    case Type::kBool: return "bool";
    case Type::kNull: return "null";
    case Type::kUndefined: return "undefined";
    case Type::kFloat: return "float";
  }
  return "?";
}

}  // namespace cpipe::codec

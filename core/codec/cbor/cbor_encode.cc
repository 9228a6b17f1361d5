// CborWriter over libcbor's encoding helpers (which emit the shortest head for a value).
#include "core/codec/cbor/cbor_encode.h"

#include <cbor.h>

#include <cassert>

namespace cpipe::codec {

void CborWriter::head(uint8_t major, uint64_t arg) {
  unsigned char buf[9];
  size_t n = 0;
  switch (major) {
    case 0: n = cbor_encode_uint(arg, buf, sizeof buf); break;
    case 1: n = cbor_encode_negint(arg, buf, sizeof buf); break;
    case 2: n = cbor_encode_bytestring_start(arg, buf, sizeof buf); break;
    case 3: n = cbor_encode_string_start(arg, buf, sizeof buf); break;
    case 4: n = cbor_encode_array_start(arg, buf, sizeof buf); break;
    case 5: n = cbor_encode_map_start(arg, buf, sizeof buf); break;
    case 6: n = cbor_encode_tag(arg, buf, sizeof buf); break;
    default: break;
  }
  assert(n > 0);
  out_.insert(out_.end(), buf, buf + n);
}

void CborWriter::uint(uint64_t v) { head(0, v); }

void CborWriter::integer(int64_t v) {
  if (v >= 0) {
    head(0, uint64_t(v));
  } else {
    head(1, uint64_t(-(v + 1)));
  }
}

void CborWriter::bytes(ByteSpan b) {
  head(2, b.size());
  out_.insert(out_.end(), b.begin(), b.end());
}

void CborWriter::text(std::string_view s) {
  head(3, s.size());
  out_.insert(out_.end(), s.begin(), s.end());
}

void CborWriter::array_header(uint64_t n) { head(4, n); }
void CborWriter::map_header(uint64_t n) { head(5, n); }
void CborWriter::tag(uint64_t t) { head(6, t); }
void CborWriter::boolean(bool b) { out_.push_back(b ? 0xF5 : 0xF4); }
void CborWriter::null() { out_.push_back(0xF6); }
void CborWriter::undefined() { out_.push_back(0xF7); }

void CborWriter::floating(double d) {
  unsigned char buf[9];
  size_t n = cbor_encode_double(d, buf, sizeof buf);
  assert(n == 9);
  out_.insert(out_.end(), buf, buf + n);
}

void CborWriter::indef_array_start() { out_.push_back(0x9F); }
void CborWriter::indef_map_start() { out_.push_back(0xBF); }
void CborWriter::indef_bytes_start() { out_.push_back(0x5F); }
void CborWriter::indef_text_start() { out_.push_back(0x7F); }
void CborWriter::brk() { out_.push_back(0xFF); }

void CborWriter::value(const CborValue& v) {
  switch (v.type()) {
    case CborValue::Type::kUint: head(0, v.raw_uint()); return;
    case CborValue::Type::kNegint: head(1, v.raw_uint()); return;
    case CborValue::Type::kBytes: bytes(v.byte_content()); return;
    case CborValue::Type::kText: text(v.text_content()); return;
    case CborValue::Type::kArray:
      array_header(v.items().size());
      for (const CborValue& item : v.items()) value(item);
      return;
    case CborValue::Type::kMap:
      map_header(v.map_size());
      for (const CborValue& item : v.items()) value(item);
      return;
    case CborValue::Type::kTag:
      tag(v.raw_uint());
      value(v.tagged());
      return;
    case CborValue::Type::kBool: boolean(v.as_bool()); return;
    case CborValue::Type::kNull: null(); return;
    case CborValue::Type::kUndefined: undefined(); return;
    case CborValue::Type::kFloat: floating(v.as_double()); return;
  }
}

Bytes cbor_encode(const CborValue& v) {
  Bytes out;
  CborWriter w(out);
  w.value(v);
  return out;
}

}  // namespace cpipe::codec

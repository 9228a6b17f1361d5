// Deterministic CBOR encoding: every integer, length and tag in its shortest form, definite
// lengths, map entries in the order the caller writes them (NSM documents have a fixed field
// order that is not the RFC 8949 canonical order, so sorting is the caller's choice). Used for
// COSE Sig_structure1, SimNsm documents and tests. Indefinite-length heads exist only so tests
// can reproduce encodings that real devices emit.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/base/bytes.h"
#include "core/codec/cbor/cbor_value.h"

namespace cpipe::codec {

class CborWriter {
 public:
  explicit CborWriter(Bytes& out) : out_(out) {}

  void uint(uint64_t v);
  void integer(int64_t v);
  void bytes(ByteSpan b);
  void text(std::string_view s);
  void array_header(uint64_t n);
  void map_header(uint64_t n);
  void tag(uint64_t t);
  void boolean(bool b);
  void null();
  void undefined();
  void floating(double d);  // always the 8-byte form

  void indef_array_start();
  void indef_map_start();
  void indef_bytes_start();
  void indef_text_start();
  void brk();

  // The whole value, definite lengths whatever the decoded value's encoding was.
  void value(const CborValue& v);

 private:
  void head(uint8_t major, uint64_t arg);
  Bytes& out_;
};

Bytes cbor_encode(const CborValue& v);

}  // namespace cpipe::codec

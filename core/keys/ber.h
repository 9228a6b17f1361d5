// A minimal BER reader for the CMS EnvelopedData that KMS returns: definite and indefinite
// lengths, constructed (chunked) OCTET STRINGs, low tag numbers only. Bounded: depth and sizes
// are checked, nothing is read past the input. Errors are KEYS_CMS_INVALID.
#pragma once

#include <cstdint>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::keys::ber {

inline constexpr uint8_t kInteger = 0x02;
inline constexpr uint8_t kOctetString = 0x04;
inline constexpr uint8_t kNull = 0x05;
inline constexpr uint8_t kOid = 0x06;
inline constexpr uint8_t kSequence = 0x30;
inline constexpr uint8_t kSet = 0x31;
inline constexpr uint8_t kContext0Cons = 0xa0;
inline constexpr uint8_t kContext1Cons = 0xa1;
inline constexpr uint8_t kContext0Prim = 0x80;

struct Tlv {
  uint8_t tag = 0;  // identifier octet (class | constructed | number < 31)
  bool indefinite = false;
  ByteSpan content;  // for indefinite lengths: the children, without the end-of-contents
  size_t size = 0;   // bytes of the whole element, header and end-of-contents included
  ByteSpan whole;    // those bytes
  bool constructed() const { return (tag & 0x20) != 0; }
};

// One element at the start of `data`.
Result<Tlv> read(ByteSpan data, int depth = 0);
// The children of a constructed element, in order.
Result<std::vector<Tlv>> children(const Tlv& tlv);
// The element at the start of `data`, which must span all of it.
Result<Tlv> read_all(ByteSpan data);
// An OCTET STRING's value (or an IMPLICIT-tagged one): the content if primitive, the
// concatenated primitive segments if constructed.
Result<Bytes> octets(const Tlv& tlv);

// DER writers (definite lengths) and the BER indefinite-length framing AWS uses.
void put_length(Bytes& out, size_t length);
Bytes der(uint8_t tag, ByteSpan content);
Bytes indefinite(uint8_t tag, ByteSpan content);

}  // namespace cpipe::keys::ber

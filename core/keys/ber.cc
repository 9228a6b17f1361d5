// BER reading for CMS (X.690 8.1): see ber.h.
#include "core/keys/ber.h"

#include <cstring>

namespace cpipe::keys::ber {
namespace {

constexpr int kMaxDepth = 16;

Status bad(std::string message) { return make_error(ErrorCode::KEYS_CMS_INVALID, "BER: " + std::move(message)); }

}  // namespace

Result<Tlv> read(ByteSpan data, int depth) {
  if (depth > kMaxDepth) return bad("nesting too deep");
  if (data.size() < 2) return bad("truncated element header");
  Tlv t;
  t.tag = data[0];
  if ((t.tag & 0x1f) == 0x1f) return bad("high tag numbers are not used by CMS EnvelopedData");
  size_t pos = 2;
  const uint8_t l0 = data[1];
  if (l0 == 0x80) {
    if (!t.constructed()) return bad("indefinite length on a primitive element");
    t.indefinite = true;
    size_t p = pos;
    while (true) {
      if (data.size() - p < 2) return bad("missing end-of-contents");
      if (data[p] == 0 && data[p + 1] == 0) break;
      CPIPE_ASSIGN_OR_RETURN(Tlv child, read(data.subspan(p), depth + 1));
      p += child.size;
    }
    t.content = data.subspan(pos, p - pos);
    t.size = p + 2;
    t.whole = data.subspan(0, t.size);
    return t;
  }
  size_t length = l0;
  if (l0 & 0x80) {
    const size_t n = l0 & 0x7f;
    if (n == 0 || n > 4) return bad("unsupported length of length");
    if (data.size() < 2 + n) return bad("truncated length");
    length = 0;
    for (size_t i = 0; i < n; ++i) length = (length << 8) | data[2 + i];
    pos += n;
  }
  if (data.size() - pos < length) return bad("element longer than its input");
  t.content = data.subspan(pos, length);
  t.size = pos + length;
  t.whole = data.subspan(0, t.size);
  return t;
}

Result<Tlv> read_all(ByteSpan data) {
  CPIPE_ASSIGN_OR_RETURN(Tlv t, read(data));
  if (t.size != data.size()) return bad("trailing bytes after the element");
  return t;
}

Result<std::vector<Tlv>> children(const Tlv& tlv) {
  if (!tlv.constructed()) return bad("expected a constructed element");
  std::vector<Tlv> out;
  ByteSpan rest = tlv.content;
  while (!rest.empty()) {
    CPIPE_ASSIGN_OR_RETURN(Tlv child, read(rest, 1));
    rest = rest.subspan(child.size);
    out.push_back(child);
  }
  return out;
}

Result<Bytes> octets(const Tlv& tlv) {
  if (!tlv.constructed()) return Bytes(tlv.content.begin(), tlv.content.end());
  CPIPE_ASSIGN_OR_RETURN(std::vector<Tlv> parts, children(tlv));
  Bytes out;
  for (const Tlv& p : parts) {
    if (p.tag != kOctetString) return bad("constructed OCTET STRING holds a non-OCTET STRING segment");
    out.insert(out.end(), p.content.begin(), p.content.end());
  }
  return out;
}

void put_length(Bytes& out, size_t length) {
  if (length < 0x80) {
    out.push_back(static_cast<uint8_t>(length));
    return;
  }
  uint8_t buf[8];
  int n = 0;
  for (size_t v = length; v > 0; v >>= 8) buf[n++] = static_cast<uint8_t>(v);
  out.push_back(static_cast<uint8_t>(0x80 | n));
  while (n > 0) out.push_back(buf[--n]);
}

// Sized up front and filled with memcpy: GCC 12 misreports vector range-inserts into small
// freshly built vectors (-Warray-bounds / -Wstringop-overflow false positives).
Bytes der(uint8_t tag, ByteSpan content) {
  Bytes head;
  head.push_back(tag);
  put_length(head, content.size());
  Bytes out(head.size() + content.size());
  std::memcpy(out.data(), head.data(), head.size());
  if (!content.empty()) std::memcpy(out.data() + head.size(), content.data(), content.size());
  return out;
}

Bytes indefinite(uint8_t tag, ByteSpan content) {
  Bytes out(content.size() + 4, 0);
  out[0] = tag;
  out[1] = 0x80;
  if (!content.empty()) std::memcpy(out.data() + 2, content.data(), content.size());
  return out;  // ends with the two end-of-contents zero bytes
}

}  // namespace cpipe::keys::ber

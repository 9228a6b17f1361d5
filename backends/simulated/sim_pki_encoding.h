// Byte encodings the simulated PKIs share (nsm/sim_nsm_pki.cc, snp/sim_amd_pki.cc): a DER
// TLV writer for the few structures they build by hand, and the length-prefixed fields their
// per-thread memo keys are made of.
#pragma once

#include <cstdint>

#include "core/base/bytes.h"

namespace cpipe::sim {

// DER: tag, definite length (contents up to 64 KiB), contents.
inline void der_tlv(Bytes& out, uint8_t tag, ByteSpan content) {
  out.push_back(tag);
  size_t n = content.size();
  if (n < 0x80) {
    out.push_back(uint8_t(n));
  } else if (n < 0x100) {
    out.push_back(0x81);
    out.push_back(uint8_t(n));
  } else {
    out.push_back(0x82);
    out.push_back(uint8_t(n >> 8));
    out.push_back(uint8_t(n));
  }
  out.insert(out.end(), content.begin(), content.end());
}

// Memo-key fields: u64le length + bytes, or a u64le value (no two inputs share a key).
inline void put_memo_field(Bytes& out, ByteSpan b) {
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(uint64_t(b.size()) >> (8 * i)));
  out.insert(out.end(), b.begin(), b.end());
}
inline void put_memo_field(Bytes& out, int64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(uint64_t(v) >> (8 * i)));
}

}  // namespace cpipe::sim

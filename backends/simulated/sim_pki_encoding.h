// What the simulated PKIs share (nsm/sim_nsm_pki.cc, snp/sim_amd_pki.cc): a DER TLV writer for
// the few structures they build by hand, the length-prefixed fields their per-thread memo keys
// are made of, and the memo of a whole PKI.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/base/bytes.h"
#include "core/base/status.h"

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

// A whole PKI from (seed, validity window), memoized per thread: a seed sweep builds the same few
// in every run, and building one signs several certificates.
template <typename Pki, typename MakeUncached>
Result<Pki> memoized_pki(ByteSpan seed, int64_t not_before_ms, int64_t not_after_ms, MakeUncached make) {
  thread_local std::map<std::string, Pki> memo;
  Bytes in;
  put_memo_field(in, seed);
  put_memo_field(in, not_before_ms);
  put_memo_field(in, not_after_ms);
  std::string key(in.begin(), in.end());
  if (auto it = memo.find(key); it != memo.end()) return it->second;
  CPIPE_ASSIGN_OR_RETURN(Pki pki, make(seed, not_before_ms, not_after_ms));
  if (memo.size() > 64) memo.clear();
  memo.emplace(std::move(key), pki);
  return pki;
}

}  // namespace cpipe::sim

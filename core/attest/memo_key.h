// MemoKey: the key of a verification memo (nitro/nitro_chain_cache, snp/amd_chain_cache): a
// SHA-256 over length-prefixed fields, so different inputs never encode alike.
#pragma once

#include <cstdint>
#include <string>

#include "core/base/bytes.h"
#include "core/crypto/hash.h"

namespace cpipe::attest {

class MemoKey {
 public:
  void reserve(size_t bytes) { in_.reserve(bytes); }
  MemoKey& add(uint64_t v) {
    for (int i = 0; i < 8; ++i) in_.push_back(uint8_t(v >> (8 * i)));
    return *this;
  }
  MemoKey& add(ByteSpan b) {
    add(uint64_t(b.size()));
    in_.insert(in_.end(), b.begin(), b.end());
    return *this;
  }
  std::string digest() const {
    Bytes d = crypto::sha256(in_);
    return std::string(d.begin(), d.end());
  }

 private:
  Bytes in_;
};

}  // namespace cpipe::attest

// NitroChainCache: a memo of verify_nitro_chain. The chain check is a pure function of the
// pinned root, the cabundle, the leaf and the verification time at whole seconds (OpenSSL checks
// validity at a time_t), so a verifier that meets the same chain again in the same second — every
// handshake of an enclave whose NSM leaf has not changed, or the simulator's many runs of one
// seed sweep — can skip the five P-384 signature checks (OpenSSL has no fast P-384 path; they
// were most of a simulated run). Errors are memoized too: the answer is always what
// verify_nitro_chain would say. Not thread-safe: use one per thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/attest/nitro/nitro_chain.h"

namespace cpipe::attest::nitro {

class NitroChainCache {
 public:
  explicit NitroChainCache(size_t max_entries = 4096) : max_entries_(max_entries) {}
  Result<ChainResult> verify(ByteSpan root_der, const std::vector<Bytes>& cabundle, ByteSpan leaf_der,
                             int64_t at_unix_ms);
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  size_t max_entries_;
  std::map<std::string, Result<ChainResult>> entries_;  // SHA-256 of the inputs -> the answer
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace cpipe::attest::nitro

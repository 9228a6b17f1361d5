// The chain-check memo (nitro_chain_cache.h).
#include "core/attest/nitro/nitro_chain_cache.h"

#include "core/attest/memo_key.h"

namespace cpipe::attest::nitro {

Result<ChainResult> NitroChainCache::verify(ByteSpan root_der, const std::vector<Bytes>& cabundle,
                                            ByteSpan leaf_der, int64_t at_unix_ms) {
  // Every input, and the time as OpenSSL sees it.
  MemoKey k;
  k.add(root_der).add(uint64_t(cabundle.size()));
  for (const Bytes& c : cabundle) k.add(c);
  k.add(leaf_der).add(uint64_t(at_unix_ms / 1000));
  std::string key = k.digest();
  if (auto it = entries_.find(key); it != entries_.end()) {
    ++hits_;
    return it->second;
  }
  ++misses_;
  Result<ChainResult> r = verify_nitro_chain(root_der, cabundle, leaf_der, at_unix_ms);
  if (entries_.size() >= max_entries_) entries_.clear();
  entries_.emplace(std::move(key), r);
  return r;
}

}  // namespace cpipe::attest::nitro

// The chain-check memo (nitro_chain_cache.h).
#include "core/attest/nitro/nitro_chain_cache.h"

#include "core/crypto/hash.h"

namespace cpipe::attest::nitro {
namespace {

void put_u64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

void put_bytes(Bytes& out, ByteSpan b) {
  put_u64(out, b.size());
  out.insert(out.end(), b.begin(), b.end());
}

}  // namespace

Result<ChainResult> NitroChainCache::verify(ByteSpan root_der, const std::vector<Bytes>& cabundle,
                                            ByteSpan leaf_der, int64_t at_unix_ms) {
  // Length-prefixed fields, so different inputs never encode alike; the time as OpenSSL sees it.
  Bytes in;
  put_bytes(in, root_der);
  put_u64(in, cabundle.size());
  for (const Bytes& c : cabundle) put_bytes(in, c);
  put_bytes(in, leaf_der);
  put_u64(in, uint64_t(at_unix_ms / 1000));
  Bytes digest = crypto::sha256(in);
  std::string key(digest.begin(), digest.end());
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

// The AMD chain memo (amd_chain_cache.h).
#include "core/attest/snp/amd_chain_cache.h"

#include <utility>

#include "core/attest/memo_key.h"

namespace cpipe::attest::snp {
namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Every ChainInput field, length-prefixed (so different inputs never encode alike; an absent
// root override differs from an empty one), and the time as the chain check can see it.
std::string chain_key(const ChainInput& in) {
  MemoKey k;
  size_t size = 64 + in.leaf_der.size();
  for (const Bytes& c : in.intermediates_der) size += 8 + c.size();
  for (const Bytes& c : in.crls) size += 8 + c.size();
  if (in.root_override_der) size += in.root_override_der->size();
  k.reserve(size);
  k.add(in.leaf_der).add(uint64_t(in.product)).add(uint64_t(in.kind));
  k.add(uint64_t(in.intermediates_der.size()));
  for (const Bytes& c : in.intermediates_der) k.add(c);
  k.add(uint64_t(in.root_override_der ? 1 : 0));
  if (in.root_override_der) k.add(*in.root_override_der);
  k.add(uint64_t(in.crls.size()));
  for (const Bytes& c : in.crls) k.add(c);
  // OpenSSL sees whole seconds; the CRL window test (bounds are whole seconds) also sees whether
  // the time lies exactly on a second: t > next <=> sec > next || (sec == next && frac).
  int64_t secs = floor_div(in.at_unix_ms, 1000);
  k.add(uint64_t(secs)).add(uint64_t(in.at_unix_ms != secs * 1000 ? 1 : 0));
  return k.digest();
}

}  // namespace

Result<ChainResult> AmdChainCache::verify_chain(const ChainInput& in) {
  std::string key = chain_key(in);
  if (auto it = chains_.find(key); it != chains_.end()) {
    // A success holds for the whole key; an error's message quotes the exact time.
    if (it->second.result.ok() || it->second.at_unix_ms == in.at_unix_ms) {
      ++chain_hits_;
      return it->second.result;
    }
  }
  ++chain_misses_;
  Result<ChainResult> r = verify_amd_chain(in);
  if (chains_.size() >= max_entries_ && chains_.find(key) == chains_.end()) chains_.clear();
  chains_.insert_or_assign(std::move(key), ChainEntry{r, in.at_unix_ms});
  return r;
}

Result<SigningCertInfo> AmdChainCache::parse_signing_cert(ByteSpan der) {
  std::string key = MemoKey().add(der).digest();
  if (auto it = certs_.find(key); it != certs_.end()) {
    ++cert_hits_;
    return it->second;
  }
  ++cert_misses_;
  Result<SigningCertInfo> r = snp::parse_signing_cert(der);
  if (certs_.size() >= max_entries_) certs_.clear();
  certs_.emplace(std::move(key), r);
  return r;
}

}  // namespace cpipe::attest::snp

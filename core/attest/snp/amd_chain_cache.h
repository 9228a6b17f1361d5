// AmdChainCache: a memo of verify_amd_chain and parse_signing_cert (amd_certs.h). Both are pure
// functions of their inputs, and a verifier meets the same VCEK/ASK/ARK again and again — every
// handshake with a guest whose VCEK has not changed, or the simulator's many runs of one seed
// sweep — so it can skip the RSA-PSS chain links, the X.509 parsing and the CRL checks (about a
// third of a simulated SEV-SNP run before this memo).
//
// The answer is always exactly what the uncached function would say, errors included:
//  - parse_signing_cert is keyed by SHA-256 of the DER.
//  - verify_amd_chain is keyed by SHA-256 over every ChainInput field (length-prefixed) and the
//    time reduced to what the check can see of it: OpenSSL checks certificate validity at whole
//    seconds, and the CRL window test (lastUpdate <= t <= nextUpdate, both whole seconds) only
//    also sees whether t falls exactly on a second. So (floor(t / 1s), t % 1s != 0) decides the
//    outcome, and a success carries no time. Error messages do quote t to the millisecond, so a
//    memoized error is only replayed for the very same millisecond (a different one recomputes).
// Bounded: a table that reaches max_entries is emptied (a memo, not a store: the next calls
// recompute). Not thread-safe: use one per thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/attest/snp/amd_certs.h"
#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::attest::snp {

class AmdChainCache {
 public:
  explicit AmdChainCache(size_t max_entries = 4096) : max_entries_(max_entries == 0 ? 1 : max_entries) {}

  // verify_amd_chain(in), memoized.
  Result<ChainResult> verify_chain(const ChainInput& in);
  // parse_signing_cert(der), memoized.
  Result<SigningCertInfo> parse_signing_cert(ByteSpan der);

  uint64_t chain_hits() const { return chain_hits_; }
  uint64_t chain_misses() const { return chain_misses_; }
  uint64_t cert_hits() const { return cert_hits_; }
  uint64_t cert_misses() const { return cert_misses_; }
  size_t chain_entries() const { return chains_.size(); }
  size_t cert_entries() const { return certs_.size(); }

 private:
  struct ChainEntry {
    Result<ChainResult> result;
    int64_t at_unix_ms;  // the time an error was computed at (its message quotes it)
  };

  size_t max_entries_;
  std::map<std::string, ChainEntry> chains_;                // key digest -> answer
  std::map<std::string, Result<SigningCertInfo>> certs_;    // SHA-256 of the DER -> answer
  uint64_t chain_hits_ = 0;
  uint64_t chain_misses_ = 0;
  uint64_t cert_hits_ = 0;
  uint64_t cert_misses_ = 0;
};

}  // namespace cpipe::attest::snp

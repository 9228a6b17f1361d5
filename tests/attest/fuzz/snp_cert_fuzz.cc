// libFuzzer target: AMD certificate handling on arbitrary bytes (DER or a PEM bundle) —
// loading, the VCEK/VLEK extension reader, and OpenSSL chain building with each certificate of
// the input as the leaf under the built-in chain of its product (Milan when unknown).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/attest/snp/amd_certs.h"

using namespace cpipe::attest::snp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cpipe::ByteSpan in(data, size);
  constexpr int64_t kAt = 1748736000000;  // 2025-06-01
  if (auto certs = load_certificates(in); certs.ok()) {
    for (const cpipe::Bytes& der : *certs) {
      auto info = parse_signing_cert(der);
      ChainInput chain;
      chain.leaf_der = der;
      chain.product = info.ok() ? info->product : Product::kMilan;
      chain.kind = info.ok() ? info->kind : SigningKey::kVcek;
      chain.at_unix_ms = kAt;
      (void)verify_amd_chain(chain);
    }
  }
  return 0;
}

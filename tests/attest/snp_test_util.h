// Shared helpers of the SEV-SNP tests: the real reports in ../shared/data/sev-snp, their
// certificates and the times at which they verify (validity windows from `openssl x509 -dates`).
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>

#include "core/attest/snp/snp_verifier.h"
#include "core/base/bytes.h"

namespace cpipe::testing_snp {

inline Bytes read_file(const std::string& rel) {
  std::ifstream f(std::string(CPIPE_SHARED_DATA) + "/sev-snp/" + rel, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
inline std::string read_text(const std::string& rel) {
  Bytes b = read_file(rel);
  return std::string(b.begin(), b.end());
}

// 2025-06-01T00:00:00Z: inside every VCEK window, and inside the Milan CRL's
// [2025-05-06, 2026-05-12] window.
inline constexpr int64_t kPinMs = 1748736000000;
// milan-v2-virtee.vcek.der: notBefore 2023-04-03T19:23:43Z, notAfter 2030-04-03T19:23:43Z.
inline constexpr int64_t kVirteeNotBeforeMs = 1680549823000;
inline constexpr int64_t kVirteeNotAfterMs = 1901474623000;
// 2027-01-01T00:00:00Z: after the Milan CRL's nextUpdate.
inline constexpr int64_t kAfterCrlMs = 1798761600000;

inline constexpr char kVirteeMeasurement[] =
    "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f";

inline attest::snp::SnpCerts virtee_certs() {
  attest::snp::SnpCerts c;
  c.signing_cert = read_file("reports/milan-v2-virtee.vcek.der");
  return c;
}
inline attest::snp::SnpCerts gosevguest_certs() {
  attest::snp::SnpCerts c;
  c.signing_cert = read_file("reports/milan-v2-gosevguest.vcek.der");
  return c;
}
inline attest::snp::SnpCerts azure_certs() {
  attest::snp::SnpCerts c;
  c.signing_cert = read_file("reports/azure-milan-hcl.vcek-chain.pem");
  return c;
}

}  // namespace cpipe::testing_snp

// AMD SEV-SNP certificates over OpenSSL: loading DER/PEM, reading a VCEK/VLEK (its kind, product,
// TCB extensions and hwID), and verifying VCEK -> ASK (VLEK -> ASVK) -> ARK with RSA-PSS/SHA-384
// at a caller-supplied time, the ARK pinned per product, with optional ARK/ASK-issued CRLs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/attest/snp/snp_report.h"
#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::attest::snp {

struct CertSummary {
  std::string subject;  // OpenSSL one-line form: "OU = Engineering, ..., CN = SEV-VCEK"
  std::string issuer;
  int64_t not_before_unix_ms = 0;
  int64_t not_after_unix_ms = 0;
  std::string sha256_hex;  // of the DER
};

// The X.509 extensions AMD puts in a VCEK/VLEK (OIDs under 1.3.6.1.4.1.3704.1).
struct SigningCertInfo {
  SigningKey kind = SigningKey::kVcek;  // subject CN "SEV-VCEK" or "SEV-VLEK"
  Product product = Product::kUnknown;  // issuer CN "SEV-<product>" / "SEV-VLEK-<product>"
  std::optional<std::string> product_name;  // .1.2, e.g. "Milan-B0"
  std::optional<uint8_t> bl_spl, tee_spl, snp_spl, ucode_spl, fmc_spl;  // .1.3.{1,2,3,8,9}
  std::optional<Bytes> hwid;  // .1.4 (VCEK only)
  Bytes public_key_spki;      // DER SubjectPublicKeyInfo of the P-384 key
  CertSummary summary;
};

// One certificate as DER (a single PEM certificate is accepted too); ATTEST_BAD_FORMAT when it is
// not exactly one well-formed X.509 certificate (trailing bytes included).
Result<Bytes> load_certificate(ByteSpan der_or_pem);
// Every certificate of a PEM text, in order (at least one), or one DER certificate.
Result<std::vector<Bytes>> load_certificates(ByteSpan der_or_pem);

// Reads the VCEK/VLEK fields. ATTEST_BAD_FORMAT for malformed DER or extensions (duplicates,
// SPL values that are not DER INTEGERs 0..255); ATTEST_CHAIN_INVALID when the subject/issuer are
// not those of an AMD VCEK/VLEK; ATTEST_BAD_ALG for a key that is not EC P-384.
Result<SigningCertInfo> parse_signing_cert(ByteSpan der);

struct ChainInput {
  Bytes leaf_der;                         // VCEK / VLEK
  Product product = Product::kUnknown;    // from the leaf
  SigningKey kind = SigningKey::kVcek;
  std::vector<Bytes> intermediates_der;   // ASK/ASVK and optionally the ARK; empty = built-in ASK
  std::optional<Bytes> root_override_der; // replaces the pinned ARK
  std::vector<Bytes> crls;                // DER or PEM
  int64_t at_unix_ms = 0;
};

struct ChainResult {
  CertSummary leaf, intermediate, root;
  int64_t valid_from_unix_ms = 0;
  int64_t valid_until_unix_ms = 0;
  bool crl_checked = false;
};

// ATTEST_CHAIN_INVALID (bad signature, wrong issuer, wrong product, foreign ARK), ATTEST_BAD_ALG
// (a link not signed with RSA-PSS/SHA-384), ATTEST_CERT_EXPIRED (any certificate, or a CRL, not
// valid at at_unix_ms), ATTEST_REVOKED.
Result<ChainResult> verify_amd_chain(const ChainInput& in);

// RFC 3339 UTC ("2023-04-03T19:23:43Z"; milliseconds when nonzero).
std::string format_rfc3339_ms(int64_t unix_ms);

}  // namespace cpipe::attest::snp

// The SEV-SNP evidence verifier: a raw 1184-byte report, or an Azure HCL report (the SNP report
// at offset 32, runtime-data JSON after it whose SHA-256 is in report_data), checked against a
// VCEK/VLEK certificate, the AMD chain (ASK/ASVK -> ARK, the ARK pinned per product), the
// verification time the caller supplies, the TCB in the certificate, and a policy.
// The order of checks and every error code are documented in docs/attestation-sev-snp.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/attest/snp/amd_certs.h"
#include "core/attest/snp/snp_report.h"
#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::attest::snp {

// What the evidence must satisfy beyond a valid signature and chain. Defaults are the
// production defaults: no debug, no migration agent; everything else unchecked unless set.
struct SnpPolicy {
  bool allow_debug = false;            // guest policy bit 19
  bool allow_migration_agent = false;  // guest policy bit 18
  bool allow_smt = true;               // guest policy bit 16 (most real VMs allow SMT)
  std::optional<uint32_t> max_vmpl;    // e.g. 0: only reports requested at VMPL0
  std::optional<TcbVersion> minimum_tcb;  // compared with reported_tcb, component-wise
  std::vector<Bytes> allowed_measurements;  // 48 bytes each; empty = not checked
  std::optional<Bytes> expected_host_data;    // exactly 32 bytes
  std::optional<Bytes> expected_report_data;  // exactly 64 bytes (the whole field)
  std::optional<Product> expected_product;
  std::optional<SigningKey> required_signing_key;  // VCEK or VLEK only
  std::optional<uint32_t> min_guest_svn;
  std::optional<Bytes> expected_id_key_digest;      // 48 bytes: SHA-384 of the ID-block key
  std::optional<Bytes> expected_author_key_digest;  // 48 bytes
};

// The certificates for one verification.
struct SnpCerts {
  // The VCEK or VLEK: DER, or PEM. A PEM holding several certificates is a bundle
  // "VCEK [ASK [ARK]]" (like Azure's vcek-chain.pem): the rest is used as `chain_pem`.
  Bytes signing_cert;
  // ASK (or ASVK) and optionally ARK, PEM. Absent: the built-in ASK of the product (VCEK only;
  // a VLEK needs its ASVK given here). An ARK given here must equal the pinned one.
  std::optional<std::string> chain_pem;
  // CRLs (DER or PEM) issued by the ARK; when given, the ASK/ASVK and signing cert are checked
  // against them (ATTEST_REVOKED), and they must be valid at the verification time.
  std::vector<Bytes> crls;
  // Replaces the pinned ARK of the product (tests with private roots; `cpipe attest --root`).
  std::optional<std::string> root_pem_override;
};

// Everything a successful verification established.
struct SnpVerification {
  std::string platform;  // "sev-snp" or "azure-sev-snp"
  Report report;
  Product product = Product::kUnknown;
  SigningKey signing_key = SigningKey::kVcek;
  TcbVersion reported_tcb;
  CertSummary signing_cert;   // VCEK / VLEK
  CertSummary intermediate;   // ASK / ASVK
  CertSummary root;           // ARK
  int64_t valid_from_unix_ms = 0;   // intersection of the three validity windows
  int64_t valid_until_unix_ms = 0;
  bool crl_checked = false;
  // Azure: the runtime data (JSON text) whose hash is bound in report_data, and its hash type.
  std::optional<Bytes> runtime_data;
  std::optional<std::string> runtime_data_hash;  // "sha256" | "sha384" | "sha512"
};

class AmdChainCache;

// Verifies a raw 1184-byte report. at_unix_ms is required (ATTEST_NO_TIME otherwise).
// `cache` (optional, amd_chain_cache.h) memoizes the VCEK parsing and the AMD chain check; the
// answer is the same with or without it.
Result<SnpVerification> verify_report(ByteSpan report, const SnpCerts& certs,
                                      const SnpPolicy& policy, std::optional<int64_t> at_unix_ms,
                                      AmdChainCache* cache = nullptr);

// Verifies an Azure vTPM HCL report (the NV index blob; zero padding after it is allowed).
Result<SnpVerification> verify_azure_hcl(ByteSpan hcl, const SnpCerts& certs,
                                         const SnpPolicy& policy,
                                         std::optional<int64_t> at_unix_ms,
                                         AmdChainCache* cache = nullptr);

// Dispatches on the platform name: "sev-snp" or "azure-sev-snp" (INVALID_ARGUMENT otherwise).
Result<SnpVerification> verify(std::string_view platform, ByteSpan evidence, const SnpCerts& certs,
                               const SnpPolicy& policy, std::optional<int64_t> at_unix_ms,
                               AmdChainCache* cache = nullptr);

// JSON summary: platform, version, product, signing_key, measurement, report_data, host_data,
// chip_id, vmpl, guest_svn, policy (decoded bits), platform_info, reported/current/committed/
// launch TCB {bootloader, tee, snp, microcode[, fmc]}, cpuid / mitigation vectors when present,
// certificates and validity window (RFC 3339), azure runtime data when present.
nlohmann::ordered_json to_json(const SnpVerification& v);

}  // namespace cpipe::attest::snp

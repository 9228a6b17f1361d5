// runtime::AttestationVerifier for "sev-snp" and "azure-sev-snp" evidence, and the one rule that
// maps an AttestationRequest (public_key, user_data, nonce) onto the 64 bytes an SEV-SNP report
// can bind. Providers (backends/sevsnp) must use snp_report_data() to fill REPORT_DATA (on Azure:
// the vTPM "user-data", which the HCL puts into the runtime data the report hashes).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/attest/snp/amd_chain_cache.h"
#include "core/attest/snp/snp_verifier.h"
#include "core/base/bytes.h"
#include "core/runtime/attestation.h"

namespace cpipe::attest::snp {

inline constexpr std::string_view kReportDataDomain = "cpipe/sev-snp/report-data/v1";

// REPORT_DATA = SHA-512( "cpipe/sev-snp/report-data/v1" || u32be(len pk) || pk
//                        || u32be(len user_data) || user_data || u32be(len nonce) || nonce ).
// Length prefixes keep the three fields apart; an absent field is the empty string.
Bytes snp_report_data(ByteSpan public_key, ByteSpan user_data, ByteSpan nonce);

// The "sev-snp" evidence document: the 1184-byte report, optionally followed by the certificate
// table of an extended report (SNP_GET_EXT_REPORT / GHCB: entries {GUID, u32le offset,
// u32le length} ended by an all-zero entry; offsets from the start of the table).
struct ExtendedReport {
  ByteSpan report;
  std::optional<Bytes> vcek, vlek, ask, ark;
};
Result<ExtendedReport> parse_extended_report(ByteSpan document);
// The inverse: the report, then (when any certificate is given) the table with the VCEK or VLEK,
// ASK and ARK entries in that order (RFC 4122 GUID byte order), the terminator and the DER.
Bytes encode_extended_report(const ExtendedReport& ext);

struct SnpVerifierConfig {
  SnpPolicy policy;
  // The Evidence::platform of raw (extended) reports this verifier takes: "sev-snp"; the
  // simulator's firmware says "sim-sev-snp", so its evidence never passes for real hardware's.
  std::string platform = "sev-snp";
  // Certificates used when the evidence carries none (e.g. a VCEK fetched from AMD KDS, the
  // Azure chain from THIM). Certificates in an extended report take precedence over these.
  SnpCerts certs;
  // The production default fails closed: a verifier without pinned measurements rejects every
  // report unless this is set (development only; it shows in every VerifiedEvidence).
  bool allow_any_measurement = false;
  // Optional memo of VCEK parsing and AMD chain checks (amd_chain_cache.h), shared by the
  // verifiers of one thread (verify() is const; the memo is not part of the verifier's state).
  std::shared_ptr<AmdChainCache> chain_cache;
};

class SnpAttestationVerifier final : public runtime::AttestationVerifier {
 public:
  explicit SnpAttestationVerifier(SnpVerifierConfig config) : config_(std::move(config)) {}

  // Checks the evidence as verify_report / verify_azure_hcl do at ctx.now_unix_ms, then the
  // bindings: when any of ctx.expect_* is set, REPORT_DATA (Azure: the runtime data's
  // "user-data") must equal snp_report_data(expect_public_key, expect_user_data, expect_nonce),
  // absent expectations counting as empty (ATTEST_BINDING_MISMATCH otherwise).
  Result<runtime::VerifiedEvidence> verify(const runtime::Evidence& evidence,
                                           const runtime::VerifyContext& ctx) const override;

 private:
  SnpVerifierConfig config_;
};

}  // namespace cpipe::attest::snp

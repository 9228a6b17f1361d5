// An AMD-shaped SEV-SNP PKI for the simulator and for tests: certificates laid out like AMD's
// (RSA-PSS/SHA-384 ARK -> ASK -> P-384 VCEK/VLEK carrying AMD's TCB and hwID extensions), signed
// ATTESTATION_REPORTs, and the simulated PKI itself (make_sim_amd_pki), which the SimSnpFirmware
// signs with and a real SnpAttestationVerifier pins through SnpCerts::root_pem_override.
//
// Determinism: RSA-PSS normally draws a random salt; here the salt is derived from the signing
// key and the message, and report signatures use sim_p384_sign (per-(key, message) nonces), so a
// certificate or report is a pure function of its inputs. The ARK/ASK keys are the fixed,
// SIMULATION-ONLY pairs of sim_amd_keys.h; the VCEK is derived from a seed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backends/simulated/nsm/sim_nsm_pki.h"
#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/crypto/openssl_ptr.h"

namespace cpipe::sim {

// AMD's extension OIDs on a VCEK/VLEK (values are DER; the SPLs are INTEGERs, hwID raw bytes).
inline constexpr const char* kAmdOidBlSpl = "1.3.6.1.4.1.3704.1.3.1";
inline constexpr const char* kAmdOidTeeSpl = "1.3.6.1.4.1.3704.1.3.2";
inline constexpr const char* kAmdOidSnpSpl = "1.3.6.1.4.1.3704.1.3.3";
inline constexpr const char* kAmdOidUcodeSpl = "1.3.6.1.4.1.3704.1.3.8";
inline constexpr const char* kAmdOidFmcSpl = "1.3.6.1.4.1.3704.1.3.9";
inline constexpr const char* kAmdOidHwId = "1.3.6.1.4.1.3704.1.4";

struct AmdCertSpec {
  std::string subject_cn, issuer_cn;
  EVP_PKEY* subject_key = nullptr;  // only its public part is used
  EVP_PKEY* issuer_key = nullptr;   // RSA private key
  int64_t serial = 1;
  bool pss = true;     // RSASSA-PSS/SHA-384, salt 48, like AMD; false: PKCS#1 v1.5 (negative tests)
  bool is_ca = false;  // basicConstraints CA:TRUE (ARK, ASK)
  int64_t not_before_ms = 0, not_after_ms = 0;
  std::vector<std::pair<std::string, Bytes>> extensions;  // OID -> extension value (DER)
};

// A DER certificate; deterministic (see above).
Result<Bytes> make_amd_certificate(const AmdCertSpec& spec);

// A CRL (DER) issued by `issuer_cn`, signed RSA-PSS/SHA-384 (salt 48) by `issuer_key`, valid
// [last_update_s, next_update_s], revoking `revoked_serial` when given. For tests of revocation:
// the PSS salt is OpenSSL's random one, so unlike the certificates it is not byte-identical.
Result<Bytes> make_amd_crl(EVP_PKEY* issuer_key, const std::string& issuer_cn, std::optional<int64_t> revoked_serial,
                           int64_t last_update_s, int64_t next_update_s);

// TCB security patch levels, as a VCEK's extensions and a report's TCB_VERSION carry them.
struct AmdTcb {
  uint8_t bl = 3, tee = 0, snp = 8, ucode = 115;
  std::optional<uint8_t> fmc;  // Turin
};
// TCB_VERSION: Milan/Genoa [0] bl [1] tee [6] snp [7] ucode; with fmc (Turin) [0] fmc [1] bl
// [2] tee [3] snp [7] ucode.
uint64_t amd_tcb_raw(const AmdTcb& tcb);
// DER INTEGER of a small non-negative value.
Bytes der_small_int(uint8_t v);
// The SPL extensions of `tcb`, plus hwID when given (VCEK only).
std::vector<std::pair<std::string, Bytes>> amd_signing_cert_extensions(const AmdTcb& tcb,
                                                                       const std::optional<Bytes>& hwid);

// Keys as OpenSSL objects: a PEM private key, and the public key of a P-384 point (0x04||X||Y).
Result<crypto::EvpPkeyPtr> load_private_key_pem(std::string_view pem);
Result<crypto::EvpPkeyPtr> p384_public_key(ByteSpan point);

// The fields of an ATTESTATION_REPORT a simulated guest or a test chooses; the rest is zero.
struct SnpReportSpec {
  uint32_t version = 3;       // 2..5
  uint32_t guest_svn = 0;
  uint64_t policy = 0x30000;  // bit 17 (must be one) and bit 16 (SMT allowed)
  uint32_t vmpl = 0;
  uint64_t tcb_raw = 0;       // current, reported, committed and launch TCB
  bool vlek = false;          // SIGNING_KEY = VLEK
  Bytes report_data;          // up to 64 bytes
  Bytes measurement;          // up to 48 bytes
  Bytes host_data;            // up to 32 bytes
  Bytes report_id;            // up to 32 bytes
  Bytes chip_id;              // up to 64 bytes
  uint8_t cpuid_family = 0x19, cpuid_model = 0x11, cpuid_stepping = 0;  // v3+
  uint8_t fw_build = 0, fw_minor = 0, fw_major = 0;  // current and committed firmware
  uint64_t mit_vector = 3;    // v5+: launch and current mitigation vectors
};

// The 1184-byte report signed with `key` (ECDSA P-384/SHA-384 over bytes [0, 0x2A0), r and s
// little-endian in 72-byte fields).
Result<Bytes> make_signed_snp_report(const SnpReportSpec& spec, const SimP384Key& key);

// The simulated AMD PKI of one seed: the fixed simulated ARK/ASK ("ARK-Milan", "SEV-Milan") and a
// VCEK whose key, hwID (= chip_id) and serial derive from the seed.
struct SimAmdPki {
  std::string product = "Milan";
  Bytes ark_der, ask_der, vcek_der;
  SimP384Key vcek_key;
  Bytes chip_id;  // 64 bytes: the VCEK's hwID
  AmdTcb tcb;     // the VCEK's TCB, and what the firmware reports
};

// Memoized per thread (the RSA signatures are slow; a seed sweep makes the same PKI every run).
Result<SimAmdPki> make_sim_amd_pki(ByteSpan seed, int64_t not_before_ms, int64_t not_after_ms);

}  // namespace cpipe::sim

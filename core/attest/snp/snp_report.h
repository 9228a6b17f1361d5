// The AMD SEV-SNP ATTESTATION_REPORT (SEV-SNP ABI spec 56860, "ATTESTATION_REPORT Structure"):
// the 1184-byte layout, its strict parser (every reserved/MBZ byte checked, versions 2..5) and
// the decoders for the packed fields (TCB_VERSION, guest policy, platform info, signer info).
// Parsing never verifies the signature; snp_verifier.h does that.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::attest::snp {

inline constexpr size_t kReportSize = 0x4A0;       // 1184
inline constexpr size_t kSignedSize = 0x2A0;       // the signature covers [0, 0x2A0)
inline constexpr size_t kSignatureOffset = 0x2A0;  // r at 0x2A0, s at 0x2E8 (72 bytes each, LE)
inline constexpr size_t kSigComponentSize = 72;
inline constexpr size_t kP384Size = 48;
inline constexpr uint32_t kMinReportVersion = 2;
inline constexpr uint32_t kMaxReportVersion = 5;
inline constexpr uint32_t kSigAlgoEcdsaP384Sha384 = 1;

// Which AMD processor generation produced a report. It decides the TCB_VERSION layout and the
// pinned ARK, and comes from the certificates (the VCEK issuer "SEV-Milan", ...).
enum class Product { kUnknown, kMilan, kGenoa, kTurin };
std::string_view product_name(Product p);              // "Milan", "Genoa", "Turin", "unknown"
std::optional<Product> product_from_name(std::string_view name);  // case-sensitive as AMD spells it

// SIGNING_KEY in the report (bits 4:2 at 0x48).
enum class SigningKey : uint8_t { kVcek = 0, kVlek = 1, kNone = 7 };
std::string_view signing_key_name(SigningKey k);  // "VCEK", "VLEK", "none"

// TCB_VERSION, 64 bits. Milan/Genoa: [0] bootloader, [1] tee, [6] snp, [7] microcode, the rest
// reserved. Turin: [0] fmc, [1] bootloader, [2] tee, [3] snp, [7] microcode.
struct TcbVersion {
  uint8_t bootloader = 0;
  uint8_t tee = 0;
  uint8_t snp = 0;
  uint8_t microcode = 0;
  std::optional<uint8_t> fmc;  // Turin only
  uint64_t raw = 0;
};
TcbVersion decode_tcb(uint64_t raw, Product product);
// True when every component of `tcb` is >= the same component of `minimum` (fmc only when both
// have one).
bool tcb_at_least(const TcbVersion& tcb, const TcbVersion& minimum);

// Guest POLICY (0x08). Bit 17 is reserved and must be one; bits above kPolicyKnownBits are MBZ.
struct GuestPolicy {
  uint8_t abi_minor = 0;
  uint8_t abi_major = 0;
  bool smt = false;               // bit 16: SMT allowed
  bool migrate_ma = false;        // bit 18: a migration agent may be associated
  bool debug = false;             // bit 19: the host may debug (decrypt) the guest
  bool single_socket = false;     // bit 20
  bool cxl_allow = false;         // bit 21
  bool mem_aes_256_xts = false;   // bit 22
  bool rapl_dis = false;          // bit 23
  bool ciphertext_hiding = false; // bit 24
  bool page_swap_disable = false; // bit 25
  uint64_t raw = 0;
};
GuestPolicy decode_policy(uint64_t raw);

// PLATFORM_INFO (0x40).
struct PlatformInfo {
  bool smt_enabled = false;             // bit 0
  bool tsme_enabled = false;            // bit 1
  bool ecc_enabled = false;             // bit 2
  bool rapl_disabled = false;           // bit 3
  bool ciphertext_hiding_enabled = false;  // bit 4
  bool alias_check_complete = false;    // bit 5
  bool tio_enabled = false;             // bit 7
  uint64_t raw = 0;
};
PlatformInfo decode_platform_info(uint64_t raw);

// A parsed report. Byte arrays are copies; `raw` holds all 1184 bytes.
struct Report {
  uint32_t version = 0;
  uint32_t guest_svn = 0;
  GuestPolicy policy;
  std::array<uint8_t, 16> family_id{};
  std::array<uint8_t, 16> image_id{};
  uint32_t vmpl = 0;
  uint32_t signature_algo = 0;
  uint64_t current_tcb = 0;
  PlatformInfo platform_info;
  bool author_key_en = false;
  bool mask_chip_key = false;
  SigningKey signing_key = SigningKey::kVcek;
  std::array<uint8_t, 64> report_data{};
  std::array<uint8_t, 48> measurement{};
  std::array<uint8_t, 32> host_data{};
  std::array<uint8_t, 48> id_key_digest{};
  std::array<uint8_t, 48> author_key_digest{};
  std::array<uint8_t, 32> report_id{};
  std::array<uint8_t, 32> report_id_ma{};
  uint64_t reported_tcb = 0;
  // Version 3+: CPUID(1) family/model/stepping of the chip.
  std::optional<uint8_t> cpuid_fam_id, cpuid_mod_id, cpuid_step;
  std::array<uint8_t, 64> chip_id{};
  uint64_t committed_tcb = 0;
  uint8_t current_build = 0, current_minor = 0, current_major = 0;
  uint8_t committed_build = 0, committed_minor = 0, committed_major = 0;
  uint64_t launch_tcb = 0;
  // Version 5+: mitigation vectors.
  std::optional<uint64_t> launch_mit_vector, current_mit_vector;
  // The signature as IEEE P1363 r||s, big-endian, 48 bytes each.
  std::array<uint8_t, 96> signature_p1363{};
  Bytes raw;

  ByteSpan signed_bytes() const { return ByteSpan(raw).first(kSignedSize); }
};

// Strict parse of exactly kReportSize bytes: ATTEST_BAD_FORMAT for a wrong size, an unknown
// version, a nonzero MBZ field or padding (including the upper 24 bytes of r and s), reserved
// policy/signer bits, VMPL > 3; ATTEST_BAD_ALG for a SIGNATURE_ALGO other than ECDSA P-384.
Result<Report> parse_report(ByteSpan data);

}  // namespace cpipe::attest::snp

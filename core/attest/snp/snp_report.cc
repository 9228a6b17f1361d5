// Strict parser for the SEV-SNP ATTESTATION_REPORT. Field offsets follow the ABI spec's table;
// every byte the spec marks reserved must be zero, so that a report can only mean one thing.
#include "core/attest/snp/snp_report.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace cpipe::attest::snp {
namespace {

// Offsets (ABI spec, ATTESTATION_REPORT structure).
constexpr size_t kOffVersion = 0x00;
constexpr size_t kOffGuestSvn = 0x04;
constexpr size_t kOffPolicy = 0x08;
constexpr size_t kOffFamilyId = 0x10;
constexpr size_t kOffImageId = 0x20;
constexpr size_t kOffVmpl = 0x30;
constexpr size_t kOffSigAlgo = 0x34;
constexpr size_t kOffCurrentTcb = 0x38;
constexpr size_t kOffPlatformInfo = 0x40;
constexpr size_t kOffSignerInfo = 0x48;
constexpr size_t kOffReportData = 0x50;
constexpr size_t kOffMeasurement = 0x90;
constexpr size_t kOffHostData = 0xC0;
constexpr size_t kOffIdKeyDigest = 0xE0;
constexpr size_t kOffAuthorKeyDigest = 0x110;
constexpr size_t kOffReportId = 0x140;
constexpr size_t kOffReportIdMa = 0x160;
constexpr size_t kOffReportedTcb = 0x180;
constexpr size_t kOffCpuid = 0x188;  // v3+: fam, model, stepping
constexpr size_t kOffChipId = 0x1A0;
constexpr size_t kOffCommittedTcb = 0x1E0;
constexpr size_t kOffCurrentVersion = 0x1E8;    // build, minor, major, reserved
constexpr size_t kOffCommittedVersion = 0x1EC;  // build, minor, major, reserved
constexpr size_t kOffLaunchTcb = 0x1F0;
constexpr size_t kOffLaunchMit = 0x1F8;   // v5+
constexpr size_t kOffCurrentMit = 0x200;  // v5+
constexpr size_t kOffSigR = kSignatureOffset;
constexpr size_t kOffSigS = kSignatureOffset + kSigComponentSize;
constexpr size_t kOffSigEnd = kSignatureOffset + 2 * kSigComponentSize;

// Policy bits 0..25 are defined (bit 17 reserved, must be one); 26..63 MBZ.
constexpr uint64_t kPolicyDefinedMask = (uint64_t{1} << 26) - 1;
constexpr uint64_t kPolicyMustBeOne = uint64_t{1} << 17;
// Platform info bits 0..5 and 7 are defined.
constexpr uint64_t kPlatformInfoDefinedMask = 0xBF;

Status mbz(ByteSpan d, size_t lo, size_t hi, const char* what) {
  for (size_t i = lo; i < hi; ++i) {
    if (d[i] != 0) {
      return make_error(ErrorCode::ATTEST_BAD_FORMAT,
                        std::string("SNP report: reserved ") + what + " byte at 0x" +
                            hex_encode(ByteSpan(std::array<uint8_t, 2>{uint8_t(i >> 8), uint8_t(i)})) +
                            " is not zero");
    }
  }
  return Status::Ok();
}

template <size_t N>
void copy_field(std::array<uint8_t, N>& out, ByteSpan d, size_t off) {
  std::memcpy(out.data(), d.data() + off, N);
}

// AMD stores r and s as 72-byte little-endian integers; P1363 wants 48-byte big-endian.
void le72_to_be48(const uint8_t* le, uint8_t* be) {
  for (size_t i = 0; i < kP384Size; ++i) be[i] = le[kP384Size - 1 - i];
}

}  // namespace

std::string_view product_name(Product p) {
  switch (p) {
    case Product::kMilan: return "Milan";
    case Product::kGenoa: return "Genoa";
    case Product::kTurin: return "Turin";
    case Product::kUnknown: break;
  }
  return "unknown";
}

std::optional<Product> product_from_name(std::string_view name) {
  if (name == "Milan") return Product::kMilan;
  if (name == "Genoa") return Product::kGenoa;
  if (name == "Turin") return Product::kTurin;
  return std::nullopt;
}

std::string_view signing_key_name(SigningKey k) {
  switch (k) {
    case SigningKey::kVcek: return "VCEK";
    case SigningKey::kVlek: return "VLEK";
    case SigningKey::kNone: break;
  }
  return "none";
}

TcbVersion decode_tcb(uint64_t raw, Product product) {
  TcbVersion t;
  t.raw = raw;
  auto byte = [raw](int i) { return uint8_t(raw >> (8 * i)); };
  if (product == Product::kTurin) {
    t.fmc = byte(0);
    t.bootloader = byte(1);
    t.tee = byte(2);
    t.snp = byte(3);
  } else {
    t.bootloader = byte(0);
    t.tee = byte(1);
    t.snp = byte(6);
  }
  t.microcode = byte(7);
  return t;
}

bool tcb_at_least(const TcbVersion& tcb, const TcbVersion& minimum) {
  if (tcb.bootloader < minimum.bootloader || tcb.tee < minimum.tee || tcb.snp < minimum.snp ||
      tcb.microcode < minimum.microcode) {
    return false;
  }
  if (tcb.fmc && minimum.fmc && *tcb.fmc < *minimum.fmc) return false;
  return true;
}

GuestPolicy decode_policy(uint64_t raw) {
  GuestPolicy p;
  p.raw = raw;
  p.abi_minor = uint8_t(raw);
  p.abi_major = uint8_t(raw >> 8);
  auto bit = [raw](int b) { return ((raw >> b) & 1) != 0; };
  p.smt = bit(16);
  p.migrate_ma = bit(18);
  p.debug = bit(19);
  p.single_socket = bit(20);
  p.cxl_allow = bit(21);
  p.mem_aes_256_xts = bit(22);
  p.rapl_dis = bit(23);
  p.ciphertext_hiding = bit(24);
  p.page_swap_disable = bit(25);
  return p;
}

PlatformInfo decode_platform_info(uint64_t raw) {
  PlatformInfo p;
  p.raw = raw;
  auto bit = [raw](int b) { return ((raw >> b) & 1) != 0; };
  p.smt_enabled = bit(0);
  p.tsme_enabled = bit(1);
  p.ecc_enabled = bit(2);
  p.rapl_disabled = bit(3);
  p.ciphertext_hiding_enabled = bit(4);
  p.alias_check_complete = bit(5);
  p.tio_enabled = bit(7);
  return p;
}

Result<Report> parse_report(ByteSpan d) {
  if (d.size() != kReportSize) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT,
                      "SNP report must be exactly 1184 bytes, got " + std::to_string(d.size()));
  }
  Report r;
  r.version = load_u32_le(d.data() + kOffVersion);
  if (r.version < kMinReportVersion || r.version > kMaxReportVersion) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT,
                      "SNP report version " + std::to_string(r.version) + " is not supported (2..5)");
  }
  r.signature_algo = load_u32_le(d.data() + kOffSigAlgo);
  if (r.signature_algo != kSigAlgoEcdsaP384Sha384) {
    return make_error(ErrorCode::ATTEST_BAD_ALG,
                      "SNP report signature_algo " + std::to_string(r.signature_algo) +
                          " is not ECDSA P-384 with SHA-384 (1)");
  }
  r.guest_svn = load_u32_le(d.data() + kOffGuestSvn);

  uint64_t policy = load_u64_le(d.data() + kOffPolicy);
  if ((policy & kPolicyMustBeOne) == 0) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT, "SNP report: policy bit 17 must be one");
  }
  if ((policy & ~kPolicyDefinedMask) != 0) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT, "SNP report: reserved policy bits 63:26 are set");
  }
  r.policy = decode_policy(policy);
  copy_field(r.family_id, d, kOffFamilyId);
  copy_field(r.image_id, d, kOffImageId);
  r.vmpl = load_u32_le(d.data() + kOffVmpl);
  if (r.vmpl > 3) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT,
                      "SNP report: vmpl " + std::to_string(r.vmpl) + " is not 0..3");
  }
  r.current_tcb = load_u64_le(d.data() + kOffCurrentTcb);
  uint64_t platform_info = load_u64_le(d.data() + kOffPlatformInfo);
  if ((platform_info & ~kPlatformInfoDefinedMask) != 0) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT, "SNP report: reserved platform_info bits are set");
  }
  r.platform_info = decode_platform_info(platform_info);

  uint32_t signer = load_u32_le(d.data() + kOffSignerInfo);
  if ((signer >> 5) != 0) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT, "SNP report: reserved signer-info bits 31:5 are set");
  }
  r.author_key_en = (signer & 1) != 0;
  r.mask_chip_key = (signer & 2) != 0;
  uint32_t key = (signer >> 2) & 7;
  if (key != 0 && key != 1 && key != 7) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT,
                      "SNP report: signing_key " + std::to_string(key) + " is reserved");
  }
  r.signing_key = static_cast<SigningKey>(key);
  CPIPE_RETURN_IF_ERROR(mbz(d, 0x4C, kOffReportData, "field"));

  copy_field(r.report_data, d, kOffReportData);
  copy_field(r.measurement, d, kOffMeasurement);
  copy_field(r.host_data, d, kOffHostData);
  copy_field(r.id_key_digest, d, kOffIdKeyDigest);
  copy_field(r.author_key_digest, d, kOffAuthorKeyDigest);
  copy_field(r.report_id, d, kOffReportId);
  copy_field(r.report_id_ma, d, kOffReportIdMa);
  r.reported_tcb = load_u64_le(d.data() + kOffReportedTcb);
  if (r.version >= 3) {
    r.cpuid_fam_id = d[kOffCpuid];
    r.cpuid_mod_id = d[kOffCpuid + 1];
    r.cpuid_step = d[kOffCpuid + 2];
    CPIPE_RETURN_IF_ERROR(mbz(d, kOffCpuid + 3, kOffChipId, "field"));
  } else {
    CPIPE_RETURN_IF_ERROR(mbz(d, kOffCpuid, kOffChipId, "field"));
  }
  copy_field(r.chip_id, d, kOffChipId);
  if (r.mask_chip_key && std::any_of(r.chip_id.begin(), r.chip_id.end(), [](uint8_t b) { return b != 0; })) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT, "SNP report: MASK_CHIP_KEY is set but chip_id is not zero");
  }
  r.committed_tcb = load_u64_le(d.data() + kOffCommittedTcb);
  r.current_build = d[kOffCurrentVersion];
  r.current_minor = d[kOffCurrentVersion + 1];
  r.current_major = d[kOffCurrentVersion + 2];
  CPIPE_RETURN_IF_ERROR(mbz(d, kOffCurrentVersion + 3, kOffCommittedVersion, "field"));
  r.committed_build = d[kOffCommittedVersion];
  r.committed_minor = d[kOffCommittedVersion + 1];
  r.committed_major = d[kOffCommittedVersion + 2];
  CPIPE_RETURN_IF_ERROR(mbz(d, kOffCommittedVersion + 3, kOffLaunchTcb, "field"));
  r.launch_tcb = load_u64_le(d.data() + kOffLaunchTcb);
  if (r.version >= 5) {
    r.launch_mit_vector = load_u64_le(d.data() + kOffLaunchMit);
    r.current_mit_vector = load_u64_le(d.data() + kOffCurrentMit);
    CPIPE_RETURN_IF_ERROR(mbz(d, kOffCurrentMit + 8, kSignatureOffset, "field"));
  } else {
    CPIPE_RETURN_IF_ERROR(mbz(d, kOffLaunchMit, kSignatureOffset, "field"));
  }

  // Signature: r and s are 72-byte little-endian fields of which only 48 bytes carry a P-384
  // scalar; the zero padding is checked so that the signature has exactly one encoding.
  CPIPE_RETURN_IF_ERROR(mbz(d, kOffSigR + kP384Size, kOffSigS, "signature r padding"));
  CPIPE_RETURN_IF_ERROR(mbz(d, kOffSigS + kP384Size, kOffSigEnd, "signature s padding"));
  CPIPE_RETURN_IF_ERROR(mbz(d, kOffSigEnd, kReportSize, "signature"));
  le72_to_be48(d.data() + kOffSigR, r.signature_p1363.data());
  le72_to_be48(d.data() + kOffSigS, r.signature_p1363.data() + kP384Size);
  r.raw.assign(d.begin(), d.end());
  return r;
}

}  // namespace cpipe::attest::snp

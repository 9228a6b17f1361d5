// The Azure confidential-VM "HCL report" read from the vTPM NV index: a 32-byte attestation
// header ("HCLA", version, report size, request type, status, reserved), the 1184-byte SEV-SNP
// report, then the IGVM request data (data size, version, report type, hash type, variable data
// size) followed by the runtime data (a JSON document with the HCL keys, VM configuration and
// user data). The hardware binds the runtime data by putting its hash in report_data.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::attest::snp {

inline constexpr size_t kHclHeaderSize = 32;
inline constexpr size_t kHclReportOffset = kHclHeaderSize;
inline constexpr size_t kHclRequestDataOffset = kHclReportOffset + 0x4A0;  // 0x4C0
inline constexpr size_t kHclRequestDataHeaderSize = 20;
inline constexpr uint32_t kHclSignature = 0x414C4348;  // "HCLA" little-endian
inline constexpr uint32_t kHclReportTypeSnp = 2;

enum class HclHashType : uint32_t { kSha256 = 1, kSha384 = 2, kSha512 = 3 };
std::string_view hcl_hash_name(HclHashType t);  // "sha256", ...

struct HclReport {
  uint32_t header_version = 0;
  uint32_t report_size = 0;   // bytes from the start of the header to the end of runtime data
  uint32_t request_type = 0;
  uint32_t status = 0;
  uint32_t data_size = 0;     // IGVM request data size (header + runtime data)
  uint32_t data_version = 0;
  uint32_t report_type = 0;   // 2 = SNP
  HclHashType hash_type = HclHashType::kSha256;
  ByteSpan snp_report;    // 1184 bytes, views into the input
  ByteSpan runtime_data;  // variable data (JSON text)
};

// Structural parse (no signature, no hash check). ATTEST_BAD_FORMAT for a wrong signature,
// report type other than SNP, unknown hash type, sizes that disagree or overrun the input, a
// nonzero reserved field, or nonzero bytes after report_size (the NV index is zero-padded).
Result<HclReport> parse_hcl_report(ByteSpan data);

// The hash of the runtime data with the report's hash type.
Bytes hcl_runtime_data_hash(const HclReport& hcl);

}  // namespace cpipe::attest::snp

// Parser for the Azure vTPM HCL report. Layout from Microsoft's guest attestation design
// ("attestation report format"): header, hardware report, IGVM request data, runtime data.
#include "core/attest/snp/hcl_report.h"

#include <algorithm>
#include <string>

#include "core/attest/snp/snp_report.h"
#include "core/crypto/hash.h"

namespace cpipe::attest::snp {

std::string_view hcl_hash_name(HclHashType t) {
  switch (t) {
    case HclHashType::kSha256: return "sha256";
    case HclHashType::kSha384: return "sha384";
    case HclHashType::kSha512: return "sha512";
  }
  return "unknown";
}

Result<HclReport> parse_hcl_report(ByteSpan d) {
  auto bad = [](std::string msg) { return make_error(ErrorCode::ATTEST_BAD_FORMAT, "HCL report: " + msg); };
  if (d.size() < kHclRequestDataOffset + kHclRequestDataHeaderSize) {
    return bad("too short (" + std::to_string(d.size()) + " bytes)");
  }
  const uint8_t* p = d.data();
  if (load_u32_le(p) != kHclSignature) return bad("signature is not \"HCLA\"");
  HclReport h;
  h.header_version = load_u32_le(p + 4);
  h.report_size = load_u32_le(p + 8);
  h.request_type = load_u32_le(p + 12);
  h.status = load_u32_le(p + 16);
  if (std::any_of(p + 20, p + kHclHeaderSize, [](uint8_t b) { return b != 0; })) {
    return bad("reserved header bytes are not zero");
  }
  if (h.header_version == 0) return bad("header version 0");
  h.snp_report = d.subspan(kHclReportOffset, kReportSize);

  const uint8_t* q = p + kHclRequestDataOffset;
  h.data_size = load_u32_le(q);
  h.data_version = load_u32_le(q + 4);
  h.report_type = load_u32_le(q + 8);
  uint32_t hash_type = load_u32_le(q + 12);
  uint32_t var_size = load_u32_le(q + 16);
  if (h.report_type != kHclReportTypeSnp) {
    return bad("report type " + std::to_string(h.report_type) + " is not SNP (2)");
  }
  if (hash_type < 1 || hash_type > 3) return bad("unknown runtime-data hash type " + std::to_string(hash_type));
  h.hash_type = static_cast<HclHashType>(hash_type);
  // The three sizes must agree: report_size covers header + SNP report + request data, and
  // data_size covers the request-data header + the runtime data.
  if (uint64_t(h.data_size) != uint64_t(kHclRequestDataHeaderSize) + var_size) {
    return bad("data_size " + std::to_string(h.data_size) + " != 20 + variable_data_size " +
               std::to_string(var_size));
  }
  if (uint64_t(h.report_size) != uint64_t(kHclRequestDataOffset) + h.data_size) {
    return bad("report_size " + std::to_string(h.report_size) + " disagrees with data_size");
  }
  if (h.report_size > d.size()) return bad("report_size overruns the input");
  h.runtime_data = d.subspan(kHclRequestDataOffset + kHclRequestDataHeaderSize, var_size);
  ByteSpan tail = d.subspan(h.report_size);
  if (std::any_of(tail.begin(), tail.end(), [](uint8_t b) { return b != 0; })) {
    return bad("nonzero bytes after report_size");
  }
  return h;
}

Bytes hcl_runtime_data_hash(const HclReport& hcl) {
  switch (hcl.hash_type) {
    case HclHashType::kSha384: return crypto::sha384(hcl.runtime_data);
    case HclHashType::kSha512: return crypto::sha512(hcl.runtime_data);
    case HclHashType::kSha256: break;
  }
  return crypto::sha256(hcl.runtime_data);
}

}  // namespace cpipe::attest::snp

// Every byte of the real report, and of each certificate of its chain, flipped: nothing
// verifies, and the error code names the region that was broken.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "core/attest/snp/amd_certs.h"
#include "core/attest/snp/snp_verifier.h"
#include "tests/attest/snp_test_util.h"

namespace cpipe::attest::snp {
namespace {

using testing_snp::kPinMs;
using testing_snp::read_file;
using testing_snp::read_text;

struct Region {
  size_t lo, hi;
  const char* name;
};

// The expected code for a flipped low bit (xor 0x01) of the virtee report (version 2, policy
// 0x30000, vmpl 0, platform_info 1, signer info 0), by region: reserved and structured fields fail
// to parse, the signature algorithm is an algorithm error, everything else breaks the signature.
ErrorCode expected_for(size_t off) {
  const ErrorCode sig = ErrorCode::ATTEST_SIGNATURE_INVALID;
  const ErrorCode fmt = ErrorCode::ATTEST_BAD_FORMAT;
  if (off < 0x04) return off == 0 ? sig : fmt;               // version 2 -> 3 still parses
  if (off >= 0x08 && off < 0x10) return off <= 0x0B ? sig : fmt;  // policy bits 0..31 / 32..63
  if (off >= 0x30 && off < 0x34) return off == 0x30 ? sig : fmt;  // vmpl 1 ok, > 3 not
  if (off >= 0x34 && off < 0x38) return ErrorCode::ATTEST_BAD_ALG;
  if (off >= 0x40 && off < 0x48) return off == 0x40 ? sig : fmt;  // platform_info bits 0..7
  if (off >= 0x48 && off < 0x50) return off == 0x48 ? sig : fmt;  // author_key_en; reserved
  if (off >= 0x188 && off < 0x1A0) return fmt;
  if (off == 0x1EB || off == 0x1EF) return fmt;
  if (off >= 0x1F8 && off < 0x2A0) return fmt;
  if (off >= 0x2A0 && off < 0x2A0 + 48) return sig;  // r
  if (off >= 0x2E8 && off < 0x2E8 + 48) return sig;  // s
  if (off >= 0x2A0) return fmt;                      // r/s padding, reserved tail
  return sig;
}

TEST(SnpMutation, EveryReportByteFlipIsRejectedWithItsRegionsCode) {
  Bytes report = read_file("reports/milan-v2-virtee.report");
  SnpCerts certs = testing_snp::virtee_certs();
  ASSERT_TRUE(verify_report(report, certs, SnpPolicy{}, kPinMs).ok());
  for (size_t off = 0; off < report.size(); ++off) {
    Bytes m = report;
    m[off] ^= 0x01;
    ErrorCode want = expected_for(off);
    auto r = verify_report(m, certs, SnpPolicy{}, kPinMs);
    EXPECT_EQ(r.code(), want) << "offset 0x" << std::hex << off << ": " << r.status().to_string();
  }
}

TEST(SnpMutation, FullByteInversionInSignedFieldsBreaksTheSignature) {
  Bytes report = read_file("reports/milan-v2-virtee.report");
  SnpCerts certs = testing_snp::virtee_certs();
  const Region signed_fields[] = {
      {0x04, 0x08, "guest_svn"},      {0x10, 0x20, "family_id"},     {0x20, 0x30, "image_id"},
      {0x38, 0x40, "current_tcb"},    {0x50, 0x90, "report_data"},   {0x90, 0xC0, "measurement"},
      {0xC0, 0xE0, "host_data"},      {0xE0, 0x110, "id_key_digest"}, {0x110, 0x140, "author_key_digest"},
      {0x140, 0x160, "report_id"},    {0x160, 0x180, "report_id_ma"}, {0x180, 0x188, "reported_tcb"},
      {0x1A0, 0x1E0, "chip_id"},      {0x1E0, 0x1E8, "committed_tcb"}, {0x1E8, 0x1EB, "current version"},
      {0x1EC, 0x1EF, "committed version"}, {0x1F0, 0x1F8, "launch_tcb"}, {0x2A0, 0x2D0, "r"},
      {0x2E8, 0x318, "s"}};
  for (const Region& g : signed_fields) {
    for (size_t off = g.lo; off < g.hi; ++off) {
      Bytes m = report;
      m[off] ^= 0xFF;
      EXPECT_EQ(verify_report(m, certs, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_SIGNATURE_INVALID)
          << g.name << " offset 0x" << std::hex << off;
    }
  }
}

TEST(SnpMutation, ZeroedOrMaxedSignatureComponents) {
  Bytes report = read_file("reports/milan-v2-virtee.report");
  SnpCerts certs = testing_snp::virtee_certs();
  for (size_t base : {size_t(0x2A0), size_t(0x2E8)}) {
    Bytes zero = report;
    std::fill(zero.begin() + base, zero.begin() + base + 48, 0);
    EXPECT_EQ(verify_report(zero, certs, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_SIGNATURE_INVALID);
    Bytes max = report;
    std::fill(max.begin() + base, max.begin() + base + 48, 0xFF);  // >= the group order
    EXPECT_EQ(verify_report(max, certs, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_SIGNATURE_INVALID);
  }
  // r and s swapped.
  Bytes swapped = report;
  std::swap_ranges(swapped.begin() + 0x2A0, swapped.begin() + 0x2A0 + 72, swapped.begin() + 0x2E8);
  EXPECT_EQ(verify_report(swapped, certs, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_SIGNATURE_INVALID);
}

std::string to_pem(const Bytes& der) {
  static constexpr char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (size_t i = 0; i < der.size(); i += 3) {
    uint32_t v = uint32_t(der[i]) << 16;
    if (i + 1 < der.size()) v |= uint32_t(der[i + 1]) << 8;
    if (i + 2 < der.size()) v |= der[i + 2];
    b64 += k[(v >> 18) & 63];
    b64 += k[(v >> 12) & 63];
    b64 += i + 1 < der.size() ? k[(v >> 6) & 63] : '=';
    b64 += i + 2 < der.size() ? k[v & 63] : '=';
  }
  std::string out = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END CERTIFICATE-----\n";
}

// Flips every `stride`-th byte of one certificate of VCEK -> ASK -> ARK (the ASK and ARK given
// as the chain) and checks that nothing verifies, with a certificate/chain error: never OK,
// never a signature or policy error.
void flip_certificate(const std::string& which, size_t stride) {
  Bytes report = read_file("reports/milan-v2-virtee.report");
  Bytes vcek = read_file("reports/milan-v2-virtee.vcek.der");
  auto ask = load_certificate(read_file("amd-kds/Milan/ask.pem"));
  auto ark = load_certificate(read_file("amd-kds/Milan/ark.pem"));
  ASSERT_TRUE(ask.ok() && ark.ok());
  {
    SnpCerts certs;
    certs.signing_cert = vcek;
    certs.chain_pem = to_pem(*ask) + to_pem(*ark);
    ASSERT_TRUE(verify_report(report, certs, SnpPolicy{}, kPinMs).ok());
  }
  Bytes& target = which == "vcek" ? vcek : which == "ask" ? *ask : *ark;
  const std::set<ErrorCode> allowed = {ErrorCode::ATTEST_BAD_FORMAT, ErrorCode::ATTEST_CHAIN_INVALID,
                                       ErrorCode::ATTEST_BAD_ALG};
  std::map<ErrorCode, int> seen;
  const Bytes original = target;
  for (size_t off = 0; off < original.size(); off += stride) {
    target = original;
    target[off] ^= 0x01;
    SnpCerts certs;
    certs.signing_cert = vcek;
    certs.chain_pem = to_pem(*ask) + to_pem(*ark);
    auto r = verify_report(report, certs, SnpPolicy{}, kPinMs);
    ++seen[r.code()];
    EXPECT_TRUE(allowed.count(r.code())) << which << " offset " << off << ": " << r.status().to_string();
  }
  target = original;
  // Most flips break a signature of the chain rather than the DER structure.
  EXPECT_GT(seen[ErrorCode::ATTEST_CHAIN_INVALID], 0) << which;
}

TEST(SnpMutation, EveryVcekByteFlipIsRejected) { flip_certificate("vcek", 2); }
TEST(SnpMutation, AskByteFlipsAreRejected) { flip_certificate("ask", 5); }
TEST(SnpMutation, ArkByteFlipsAreRejected) { flip_certificate("ark", 5); }

TEST(SnpMutation, AzureHclReportBodyFlipsAreRejected) {
  Bytes hcl = read_file("reports/azure-milan-hcl.bin");
  SnpCerts certs = testing_snp::azure_certs();
  ASSERT_TRUE(verify_azure_hcl(hcl, certs, SnpPolicy{}, kPinMs).ok());
  for (size_t off = 32; off < 32 + 0x2A0; off += 5) {
    Bytes m = hcl;
    m[off] ^= 0x01;
    EXPECT_NE(verify_azure_hcl(m, certs, SnpPolicy{}, kPinMs).code(), ErrorCode::OK) << off;
  }
  // The header and the request-data header.
  for (size_t off : {size_t(0), size_t(4), size_t(8), size_t(0x4C0), size_t(0x4C8), size_t(0x4CC), size_t(0x4D0)}) {
    Bytes m = hcl;
    m[off] ^= 0x01;
    EXPECT_NE(verify_azure_hcl(m, certs, SnpPolicy{}, kPinMs).code(), ErrorCode::OK) << off;
  }
}

}  // namespace
}  // namespace cpipe::attest::snp

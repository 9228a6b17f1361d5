// runtime::AttestationVerifier over SEV-SNP: evidence as a raw report, as an extended report with
// its GHCB certificate table, as an Azure HCL report; the fail-closed measurement default; the
// REPORT_DATA binding rule.
#include <gtest/gtest.h>

#include "core/attest/snp/amd_certs.h"
#include "core/attest/snp/snp_attestation_verifier.h"
#include "core/crypto/hash.h"
#include "tests/attest/snp_test_util.h"

namespace cpipe::attest::snp {
namespace {

using testing_snp::kPinMs;
using testing_snp::read_file;

runtime::VerifyContext at_pin() {
  runtime::VerifyContext ctx;
  ctx.now_unix_ms = kPinMs;
  return ctx;
}

SnpVerifierConfig virtee_config() {
  SnpVerifierConfig c;
  c.policy.allowed_measurements = {*hex_decode(testing_snp::kVirteeMeasurement)};
  c.certs = testing_snp::virtee_certs();
  return c;
}

// report || GHCB certificate table {GUID, offset, length}... 0-entry, then the certificates.
Bytes extended_report(const Bytes& report, const std::vector<std::pair<std::array<uint8_t, 16>, Bytes>>& certs) {
  Bytes table((certs.size() + 1) * 24, 0);
  uint32_t off = uint32_t(table.size());
  for (size_t i = 0; i < certs.size(); ++i) {
    std::copy(certs[i].first.begin(), certs[i].first.end(), table.begin() + i * 24);
    store_u32_le(table.data() + i * 24 + 16, off);
    store_u32_le(table.data() + i * 24 + 20, uint32_t(certs[i].second.size()));
    off += uint32_t(certs[i].second.size());
  }
  for (const auto& c : certs) table.insert(table.end(), c.second.begin(), c.second.end());
  Bytes out = report;
  out.insert(out.end(), table.begin(), table.end());
  return out;
}

constexpr std::array<uint8_t, 16> kVcekGuid = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                               0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
constexpr std::array<uint8_t, 16> kAskGuid = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                                              0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82};
constexpr std::array<uint8_t, 16> kArkGuid = {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
                                              0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae};

TEST(SnpAttestationVerifier, RawReportVerifiesWithConfiguredVcek) {
  SnpAttestationVerifier verifier(virtee_config());
  runtime::Evidence ev{"sev-snp", read_file("reports/milan-v2-virtee.report")};
  auto v = verifier.verify(ev, at_pin());
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->platform, "sev-snp");
  EXPECT_EQ(hex_encode(v->measurements.at("measurement")), testing_snp::kVirteeMeasurement);
  EXPECT_FALSE(v->debug);
  EXPECT_FALSE(v->development_only);
  EXPECT_TRUE(v->public_key.empty());
}

TEST(SnpAttestationVerifier, FailsClosedWithoutTimeOrPinnedMeasurement) {
  runtime::Evidence ev{"sev-snp", read_file("reports/milan-v2-virtee.report")};
  SnpAttestationVerifier verifier(virtee_config());
  EXPECT_EQ(verifier.verify(ev, runtime::VerifyContext{}).code(), ErrorCode::ATTEST_NO_TIME);
  SnpVerifierConfig open = virtee_config();
  open.policy.allowed_measurements.clear();
  EXPECT_EQ(SnpAttestationVerifier(open).verify(ev, at_pin()).code(), ErrorCode::ATTEST_MEASUREMENT_MISMATCH);
  open.allow_any_measurement = true;
  auto v = SnpAttestationVerifier(open).verify(ev, at_pin());
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_TRUE(v->development_only);
  runtime::Evidence nitro{"nitro", ev.document};
  EXPECT_EQ(verifier.verify(nitro, at_pin()).code(), ErrorCode::ATTEST_BAD_FORMAT);
}

TEST(SnpAttestationVerifier, ExtendedReportCarriesItsOwnCertificates) {
  Bytes report = read_file("reports/milan-v2-virtee.report");
  Bytes vcek = read_file("reports/milan-v2-virtee.vcek.der");
  auto ask = load_certificate(read_file("amd-kds/Milan/ask.pem"));
  auto ark = load_certificate(read_file("amd-kds/Milan/ark.pem"));
  ASSERT_TRUE(ask.ok() && ark.ok());
  SnpVerifierConfig config = virtee_config();
  config.certs = SnpCerts{};  // nothing configured: the evidence must bring the VCEK
  SnpAttestationVerifier verifier(config);
  runtime::Evidence ev{"sev-snp", extended_report(report, {{kVcekGuid, vcek}, {kAskGuid, *ask}, {kArkGuid, *ark}})};
  auto v = verifier.verify(ev, at_pin());
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  // Only the VCEK: the built-in ASK is used.
  runtime::Evidence only_vcek{"sev-snp", extended_report(report, {{kVcekGuid, vcek}})};
  EXPECT_TRUE(verifier.verify(only_vcek, at_pin()).ok());
  // Without any certificate the verifier has nothing to check against.
  runtime::Evidence bare{"sev-snp", report};
  EXPECT_EQ(verifier.verify(bare, at_pin()).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  // Malformed tables.
  Bytes unterminated = ev.document;
  unterminated.resize(report.size() + 24);
  EXPECT_EQ(verifier.verify({"sev-snp", unterminated}, at_pin()).code(), ErrorCode::ATTEST_BAD_FORMAT);
  Bytes overrun = ev.document;
  store_u32_le(overrun.data() + report.size() + 20, 0x7fffffff);
  EXPECT_EQ(verifier.verify({"sev-snp", overrun}, at_pin()).code(), ErrorCode::ATTEST_BAD_FORMAT);
  Bytes dup = extended_report(report, {{kVcekGuid, vcek}, {kVcekGuid, vcek}});
  EXPECT_EQ(verifier.verify({"sev-snp", dup}, at_pin()).code(), ErrorCode::ATTEST_BAD_FORMAT);
  EXPECT_EQ(verifier.verify({"sev-snp", Bytes(report.begin(), report.end() - 1)}, at_pin()).code(),
            ErrorCode::ATTEST_BAD_FORMAT);
}

TEST(SnpAttestationVerifier, ReportDataBindingRule) {
  Bytes a = snp_report_data(to_bytes("pk"), to_bytes("ud"), to_bytes("nonce"));
  EXPECT_EQ(a.size(), 64u);
  // Length prefixes keep the fields apart.
  EXPECT_NE(a, snp_report_data(to_bytes("pku"), to_bytes("d"), to_bytes("nonce")));
  EXPECT_NE(a, snp_report_data(to_bytes("pk"), to_bytes("udnonce"), Bytes{}));
  // Known answer, computed independently of ByteWriter: SHA-512 over the documented layout.
  Bytes layout = to_bytes("cpipe/sev-snp/report-data/v1");
  for (std::string f : {"pk", "ud", "nonce"}) {
    Bytes len = {0, 0, 0, uint8_t(f.size())};
    layout.insert(layout.end(), len.begin(), len.end());
    layout.insert(layout.end(), f.begin(), f.end());
  }
  EXPECT_EQ(a, crypto::sha512(layout));
}

TEST(SnpAttestationVerifier, RealReportsDoNotBindOurKeys) {
  SnpAttestationVerifier verifier(virtee_config());
  runtime::Evidence ev{"sev-snp", read_file("reports/milan-v2-virtee.report")};
  runtime::VerifyContext ctx = at_pin();
  ctx.expect_public_key = to_bytes("some key");
  ctx.expect_nonce = to_bytes("transcript hash");
  EXPECT_EQ(verifier.verify(ev, ctx).code(), ErrorCode::ATTEST_BINDING_MISMATCH);
}

TEST(SnpAttestationVerifier, AzureHclBindsThroughRuntimeUserData) {
  SnpVerifierConfig config;
  Bytes hcl = read_file("reports/azure-milan-hcl.bin");
  config.policy.allowed_measurements = {Bytes(hcl.begin() + 32 + 0x90, hcl.begin() + 32 + 0xC0)};
  config.certs = testing_snp::azure_certs();
  SnpAttestationVerifier verifier(config);
  runtime::Evidence ev{"azure-sev-snp", hcl};
  auto v = verifier.verify(ev, at_pin());
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->platform, "azure-sev-snp");
  // The recorded VM's user-data is 64 zero bytes, which is not our binding of any request.
  runtime::VerifyContext ctx = at_pin();
  ctx.expect_nonce = to_bytes("n");
  EXPECT_EQ(verifier.verify(ev, ctx).code(), ErrorCode::ATTEST_BINDING_MISMATCH);
}

}  // namespace
}  // namespace cpipe::attest::snp

// The SEV-SNP verifier on the real reports: each verifies with its VCEK and the Milan chain at a
// pinned time; every policy knob, time boundary, wrong chain and wrong certificate is rejected
// with its own error code.
#include <gtest/gtest.h>

#include "core/attest/snp/amd_certs.h"
#include "core/attest/snp/amd_roots.h"
#include "core/attest/snp/snp_verifier.h"
#include "tests/attest/snp_test_util.h"

namespace cpipe::attest::snp {
namespace {

using testing_snp::azure_certs;
using testing_snp::gosevguest_certs;
using testing_snp::kPinMs;
using testing_snp::read_file;
using testing_snp::read_text;
using testing_snp::virtee_certs;

Bytes virtee_report() { return read_file("reports/milan-v2-virtee.report"); }

TEST(AmdRoots, BuiltInCertificatesAreTheKdsFiles) {
  for (Product p : {Product::kMilan, Product::kGenoa, Product::kTurin}) {
    std::string dir = "amd-kds/" + std::string(product_name(p)) + "/";
    auto ark = load_certificate(as_bytes(builtin_ark_pem(p)));
    auto ask = load_certificate(as_bytes(builtin_ask_pem(p)));
    auto ark_file = load_certificate(read_file(dir + "ark.pem"));
    auto ask_file = load_certificate(read_file(dir + "ask.pem"));
    ASSERT_TRUE(ark.ok() && ask.ok() && ark_file.ok() && ask_file.ok());
    EXPECT_EQ(*ark, *ark_file) << dir;
    EXPECT_EQ(*ask, *ask_file) << dir;
  }
  EXPECT_TRUE(builtin_ark_pem(Product::kUnknown).empty());
}

TEST(SnpVerifier, VirteeReportVerifiesWithBuiltInChain) {
  auto v = verify_report(virtee_report(), virtee_certs(), SnpPolicy{}, kPinMs);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->platform, "sev-snp");
  EXPECT_EQ(v->product, Product::kMilan);
  EXPECT_EQ(v->signing_key, SigningKey::kVcek);
  EXPECT_EQ(hex_encode(v->report.measurement), testing_snp::kVirteeMeasurement);
  EXPECT_EQ(v->reported_tcb.microcode, 115);
  EXPECT_EQ(v->valid_from_unix_ms, testing_snp::kVirteeNotBeforeMs);
  EXPECT_EQ(v->valid_until_unix_ms, testing_snp::kVirteeNotAfterMs);
  EXPECT_NE(v->intermediate.subject.find("SEV-Milan"), std::string::npos);
  EXPECT_NE(v->root.subject.find("ARK-Milan"), std::string::npos);
  EXPECT_FALSE(v->crl_checked);
}

TEST(SnpVerifier, VirteeReportVerifiesWithKdsChainFileAndCrl) {
  SnpCerts certs = virtee_certs();
  certs.chain_pem = read_text("amd-kds/Milan/cert_chain.pem");
  certs.crls.push_back(read_file("amd-kds/Milan/crl.der"));
  auto v = verify_report(virtee_report(), certs, SnpPolicy{}, kPinMs);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_TRUE(v->crl_checked);
}

TEST(SnpVerifier, VcekAsPemIsAccepted) {
  // The first certificate of Azure's bundle alone, as a single-certificate PEM (the ASK then
  // comes built in).
  SnpCerts certs;
  std::string azure = read_text("reports/azure-milan-hcl.vcek-chain.pem");
  std::string first = azure.substr(0, azure.find("-----END CERTIFICATE-----") + 25) + "\n";
  certs.signing_cert = to_bytes(first);
  auto hcl = read_file("reports/azure-milan-hcl.bin");
  auto v = verify_azure_hcl(hcl, certs, SnpPolicy{}, kPinMs);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
}

TEST(SnpVerifier, GoSevGuestReportIsDebugAndNeedsAllowDebug) {
  Bytes report = read_file("reports/milan-v2-gosevguest.report");
  EXPECT_EQ(verify_report(report, gosevguest_certs(), SnpPolicy{}, kPinMs).code(),
            ErrorCode::ATTEST_DEBUG_NOT_ALLOWED);
  SnpPolicy dev;
  dev.allow_debug = true;
  auto v = verify_report(report, gosevguest_certs(), dev, kPinMs);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_TRUE(v->report.policy.debug);
  EXPECT_EQ(v->reported_tcb.bootloader, 2);
  EXPECT_EQ(v->reported_tcb.snp, 5);
  EXPECT_EQ(v->reported_tcb.microcode, 0x44);
}

TEST(SnpVerifier, AzureHclVerifiesAndBindsRuntimeData) {
  Bytes hcl = read_file("reports/azure-milan-hcl.bin");
  auto v = verify_azure_hcl(hcl, azure_certs(), SnpPolicy{}, kPinMs);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->platform, "azure-sev-snp");
  ASSERT_TRUE(v->runtime_data.has_value());
  EXPECT_EQ(v->runtime_data->size(), 1110u);
  EXPECT_EQ(*v->runtime_data_hash, "sha256");
  EXPECT_EQ(verify("azure-sev-snp", hcl, azure_certs(), SnpPolicy{}, kPinMs).code(), ErrorCode::OK);
  // The bundle's ASK/ARK given again as a chain are the same certificates: accepted.
  SnpCerts twice = azure_certs();
  twice.chain_pem = read_text("amd-kds/Milan/cert_chain.pem");
  EXPECT_EQ(verify_azure_hcl(hcl, twice, SnpPolicy{}, kPinMs).code(), ErrorCode::OK);
  // The raw report inside verifies on its own too.
  EXPECT_TRUE(verify_report(ByteSpan(hcl).subspan(32, 1184), azure_certs(), SnpPolicy{}, kPinMs).ok());

  // Every byte of the runtime data is bound.
  for (size_t i = 0x4C0 + 20; i < 0x4C0 + 20 + 1110; i += 37) {
    Bytes m = hcl;
    m[i] ^= 0x20;
    EXPECT_EQ(verify_azure_hcl(m, azure_certs(), SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_BINDING_MISMATCH)
        << i;
  }
  // Another hash type with the same data does not match.
  Bytes sha384 = hcl;
  store_u32_le(sha384.data() + 0x4C0 + 12, 2);
  EXPECT_EQ(verify_azure_hcl(sha384, azure_certs(), SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_BINDING_MISMATCH);
  // The HCL header is not signed but is parsed strictly.
  Bytes header = hcl;
  header[0] ^= 1;
  EXPECT_EQ(verify_azure_hcl(header, azure_certs(), SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_BAD_FORMAT);
  // A raw report is not an HCL report and vice versa.
  EXPECT_EQ(verify_azure_hcl(virtee_report(), virtee_certs(), SnpPolicy{}, kPinMs).code(),
            ErrorCode::ATTEST_BAD_FORMAT);
  EXPECT_EQ(verify_report(hcl, azure_certs(), SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_BAD_FORMAT);
}

TEST(SnpVerifier, TruncatedAndExtendedInputs) {
  Bytes report = virtee_report();
  for (size_t n : {size_t(0), size_t(4), size_t(0x2A0), report.size() - 1}) {
    EXPECT_EQ(verify_report(ByteSpan(report).first(n), virtee_certs(), SnpPolicy{}, kPinMs).code(),
              ErrorCode::ATTEST_BAD_FORMAT) << n;
  }
  for (uint8_t extra : {uint8_t(0), uint8_t(1)}) {
    Bytes longer = report;
    longer.push_back(extra);
    EXPECT_EQ(verify_report(longer, virtee_certs(), SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_BAD_FORMAT);
  }
  Bytes hcl = read_file("reports/azure-milan-hcl.bin");
  for (size_t n : {size_t(0), size_t(32), size_t(32 + 1184), size_t(2345)}) {
    EXPECT_EQ(verify_azure_hcl(ByteSpan(hcl).first(n), azure_certs(), SnpPolicy{}, kPinMs).code(),
              ErrorCode::ATTEST_BAD_FORMAT) << n;
  }
  Bytes longer = hcl;
  longer.push_back(0x7B);
  EXPECT_EQ(verify_azure_hcl(longer, azure_certs(), SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_BAD_FORMAT);
}

TEST(SnpVerifier, NoTimeFailsClosed) {
  EXPECT_EQ(verify_report(virtee_report(), virtee_certs(), SnpPolicy{}, std::nullopt).code(),
            ErrorCode::ATTEST_NO_TIME);
  EXPECT_EQ(verify_azure_hcl(read_file("reports/azure-milan-hcl.bin"), azure_certs(), SnpPolicy{}, std::nullopt)
                .code(),
            ErrorCode::ATTEST_NO_TIME);
}

TEST(SnpVerifier, ValidityWindowBoundaries) {
  using testing_snp::kVirteeNotAfterMs;
  using testing_snp::kVirteeNotBeforeMs;
  auto at = [](int64_t t) { return verify_report(virtee_report(), virtee_certs(), SnpPolicy{}, t).code(); };
  EXPECT_EQ(at(kVirteeNotBeforeMs), ErrorCode::OK);
  EXPECT_EQ(at(kVirteeNotBeforeMs - 1000), ErrorCode::ATTEST_CERT_EXPIRED);
  EXPECT_EQ(at(kVirteeNotAfterMs - 1000), ErrorCode::OK);  // OpenSSL: notAfter itself is expired
  EXPECT_EQ(at(kVirteeNotAfterMs), ErrorCode::ATTEST_CERT_EXPIRED);
  EXPECT_EQ(at(kVirteeNotAfterMs + 1000), ErrorCode::ATTEST_CERT_EXPIRED);
  EXPECT_EQ(at(0), ErrorCode::ATTEST_CERT_EXPIRED);
  EXPECT_EQ(at(int64_t(4102444800000)), ErrorCode::ATTEST_CERT_EXPIRED);  // 2100
}

TEST(SnpVerifier, WrongProductChainIsRejected) {
  SnpCerts certs = virtee_certs();
  certs.chain_pem = read_text("amd-kds/Genoa/cert_chain.pem");
  auto r = verify_report(virtee_report(), certs, SnpPolicy{}, kPinMs);
  EXPECT_EQ(r.code(), ErrorCode::ATTEST_CHAIN_INVALID);
  // Only the Genoa ASK, or only the Genoa ARK next to the Milan ASK.
  certs.chain_pem = read_text("amd-kds/Genoa/ask.pem");
  EXPECT_EQ(verify_report(virtee_report(), certs, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  certs.chain_pem = read_text("amd-kds/Milan/ask.pem") + read_text("amd-kds/Genoa/ark.pem");
  EXPECT_EQ(verify_report(virtee_report(), certs, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  // A Genoa root pinned instead of Milan's.
  certs = virtee_certs();
  certs.root_pem_override = read_text("amd-kds/Genoa/ark.pem");
  EXPECT_EQ(verify_report(virtee_report(), certs, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  // Policy pinning the product.
  SnpPolicy genoa;
  genoa.expected_product = Product::kGenoa;
  EXPECT_EQ(verify_report(virtee_report(), virtee_certs(), genoa, kPinMs).code(), ErrorCode::ATTEST_POLICY_VIOLATION);
  SnpPolicy milan;
  milan.expected_product = Product::kMilan;
  EXPECT_EQ(verify_report(virtee_report(), virtee_certs(), milan, kPinMs).code(), ErrorCode::OK);
}

TEST(SnpVerifier, InvalidVcekIsRejectedByTheChain) {
  SnpCerts certs;
  certs.signing_cert = read_file("reports/invalid-vcek-legacy.der");
  auto r = verify_report(virtee_report(), certs, SnpPolicy{}, kPinMs);
  EXPECT_EQ(r.code(), ErrorCode::ATTEST_CHAIN_INVALID);
  EXPECT_NE(r.status().message().find("signature"), std::string::npos) << r.status().to_string();
}

TEST(SnpVerifier, AnotherChipsVcekDoesNotVerifyTheSignature) {
  auto r = verify_report(virtee_report(), gosevguest_certs(), SnpPolicy{}, kPinMs);
  EXPECT_EQ(r.code(), ErrorCode::ATTEST_SIGNATURE_INVALID);
}

TEST(SnpVerifier, MissingOrGarbageCertificates) {
  SnpCerts none;
  EXPECT_EQ(verify_report(virtee_report(), none, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  SnpCerts garbage;
  garbage.signing_cert = to_bytes("not a certificate");
  EXPECT_EQ(verify_report(virtee_report(), garbage, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_BAD_FORMAT);
  SnpCerts trailing = virtee_certs();
  trailing.signing_cert.push_back(0);
  EXPECT_EQ(verify_report(virtee_report(), trailing, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_BAD_FORMAT);
  // An ARK in place of the VCEK.
  SnpCerts ark;
  ark.signing_cert = read_file("amd-kds/Milan/ark.pem");
  EXPECT_EQ(verify_report(virtee_report(), ark, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  // A chain that is not PEM.
  SnpCerts bad_chain = virtee_certs();
  bad_chain.chain_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  EXPECT_EQ(verify_report(virtee_report(), bad_chain, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_BAD_FORMAT);
}

TEST(SnpVerifier, ReportThatClaimsNoSignatureOrAVlekIsRejected) {
  Bytes none = virtee_report();
  none[0x48] = 7 << 2;
  EXPECT_EQ(verify_report(none, virtee_certs(), SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_SIGNATURE_INVALID);
  Bytes vlek = virtee_report();
  vlek[0x48] = 1 << 2;
  auto r = verify_report(vlek, virtee_certs(), SnpPolicy{}, kPinMs);
  EXPECT_EQ(r.code(), ErrorCode::ATTEST_SIGNATURE_INVALID);
  EXPECT_NE(r.status().message().find("VLEK"), std::string::npos);
  SnpPolicy vlek_only;
  vlek_only.required_signing_key = SigningKey::kVlek;
  EXPECT_EQ(verify_report(virtee_report(), virtee_certs(), vlek_only, kPinMs).code(),
            ErrorCode::ATTEST_POLICY_VIOLATION);
}

TEST(SnpVerifier, CrlChecks) {
  SnpCerts certs = virtee_certs();
  certs.crls.push_back(read_file("amd-kds/Milan/crl.der"));
  EXPECT_EQ(verify_report(virtee_report(), certs, SnpPolicy{}, kPinMs).code(), ErrorCode::OK);
  // The CRL itself has a validity window (nextUpdate 2026-05-12).
  EXPECT_EQ(verify_report(virtee_report(), certs, SnpPolicy{}, testing_snp::kAfterCrlMs).code(),
            ErrorCode::ATTEST_CERT_EXPIRED);
  // Another product's CRL does not belong to this chain.
  certs.crls = {read_file("amd-kds/Genoa/crl.der")};
  EXPECT_EQ(verify_report(virtee_report(), certs, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  // A corrupted CRL signature.
  Bytes crl = read_file("amd-kds/Milan/crl.der");
  crl[crl.size() - 10] ^= 1;
  certs.crls = {crl};
  EXPECT_EQ(verify_report(virtee_report(), certs, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  certs.crls = {to_bytes("garbage")};
  EXPECT_EQ(verify_report(virtee_report(), certs, SnpPolicy{}, kPinMs).code(), ErrorCode::ATTEST_BAD_FORMAT);
}

TEST(SnpVerifier, PolicyMeasurementHostDataReportData) {
  Bytes report = virtee_report();
  auto code = [&](const SnpPolicy& p) { return verify_report(report, virtee_certs(), p, kPinMs).code(); };
  SnpPolicy p;
  p.allowed_measurements = {*hex_decode(testing_snp::kVirteeMeasurement)};
  EXPECT_EQ(code(p), ErrorCode::OK);
  Bytes other = p.allowed_measurements[0];
  other[0] ^= 1;
  p.allowed_measurements = {other};
  EXPECT_EQ(code(p), ErrorCode::ATTEST_MEASUREMENT_MISMATCH);
  p.allowed_measurements.push_back(*hex_decode(testing_snp::kVirteeMeasurement));
  EXPECT_EQ(code(p), ErrorCode::OK);

  SnpPolicy rd;
  rd.expected_report_data = Bytes(report.begin() + 0x50, report.begin() + 0x90);
  EXPECT_EQ(code(rd), ErrorCode::OK);
  (*rd.expected_report_data)[63] ^= 1;
  EXPECT_EQ(code(rd), ErrorCode::ATTEST_BINDING_MISMATCH);
  rd.expected_report_data = Bytes(report.begin() + 0x50, report.begin() + 0x70);  // 32 bytes: not exact
  EXPECT_EQ(code(rd), ErrorCode::ATTEST_BINDING_MISMATCH);

  SnpPolicy hd;
  hd.expected_host_data = Bytes(32, 0);
  EXPECT_EQ(code(hd), ErrorCode::OK);
  (*hd.expected_host_data)[0] = 1;
  EXPECT_EQ(code(hd), ErrorCode::ATTEST_POLICY_VIOLATION);
}

TEST(SnpVerifier, PolicyGuestSvnAndKeyDigests) {
  Bytes report = virtee_report();  // guest_svn 0, no ID block: both digests zero
  auto code = [&](const SnpPolicy& p) { return verify_report(report, virtee_certs(), p, kPinMs).code(); };
  SnpPolicy p;
  p.min_guest_svn = 0;
  p.expected_id_key_digest = Bytes(48, 0);
  p.expected_author_key_digest = Bytes(48, 0);
  EXPECT_EQ(code(p), ErrorCode::OK);
  SnpPolicy svn;
  svn.min_guest_svn = 1;
  EXPECT_EQ(code(svn), ErrorCode::ATTEST_POLICY_VIOLATION);
  SnpPolicy id;
  id.expected_id_key_digest = Bytes(48, 1);
  EXPECT_EQ(code(id), ErrorCode::ATTEST_POLICY_VIOLATION);
  SnpPolicy author;
  author.expected_author_key_digest = Bytes(47, 0);
  EXPECT_EQ(code(author), ErrorCode::ATTEST_POLICY_VIOLATION);
}

TEST(SnpVerifier, PolicySmtVmplMigrationTcb) {
  Bytes report = virtee_report();
  auto code = [&](const SnpPolicy& p) { return verify_report(report, virtee_certs(), p, kPinMs).code(); };
  SnpPolicy smt;
  smt.allow_smt = false;  // the virtee guest allows SMT (policy 0x30000)
  EXPECT_EQ(code(smt), ErrorCode::ATTEST_POLICY_VIOLATION);
  SnpPolicy vmpl;
  vmpl.max_vmpl = 0;
  EXPECT_EQ(code(vmpl), ErrorCode::OK);
  SnpPolicy tcb;
  tcb.minimum_tcb = TcbVersion{3, 0, 8, 115, std::nullopt, 0};
  EXPECT_EQ(code(tcb), ErrorCode::OK);
  tcb.minimum_tcb->microcode = 116;
  EXPECT_EQ(code(tcb), ErrorCode::ATTEST_TCB_MISMATCH);
  tcb.minimum_tcb = TcbVersion{4, 0, 0, 0, std::nullopt, 0};
  EXPECT_EQ(code(tcb), ErrorCode::ATTEST_TCB_MISMATCH);
  // No real report allows a migration agent; its check is covered by the Azure/others' bit 18
  // being clear: the default policy must pass on all of them.
  SnpPolicy mig;
  mig.allow_migration_agent = false;
  EXPECT_EQ(code(mig), ErrorCode::OK);
}

TEST(SnpVerifier, TcbBindingToTheVcek) {
  // The gosevguest VCEK is for bootloader 2 / snp 5 / ucode 0x44; the virtee report says 3/8/115.
  // Signature checks come first, so cross the TCB binding with a chip whose VCEK has another TCB
  // only through the parsed-certificate values.
  auto info = parse_signing_cert(read_file("reports/milan-v2-virtee.vcek.der"));
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->kind, SigningKey::kVcek);
  EXPECT_EQ(info->product, Product::kMilan);
  EXPECT_EQ(*info->product_name, "Milan-B0");
  EXPECT_EQ(*info->bl_spl, 3);
  EXPECT_EQ(*info->tee_spl, 0);
  EXPECT_EQ(*info->snp_spl, 8);
  EXPECT_EQ(*info->ucode_spl, 115);
  EXPECT_FALSE(info->fmc_spl.has_value());
  ASSERT_TRUE(info->hwid.has_value());
  Bytes report = virtee_report();
  EXPECT_EQ(*info->hwid, Bytes(report.begin() + 0x1A0, report.begin() + 0x1E0));
  auto invalid = parse_signing_cert(read_file("reports/invalid-vcek-legacy.der"));
  ASSERT_TRUE(invalid.ok()) << invalid.status().to_string();
  EXPECT_EQ(*invalid->ucode_spl, 0xA9);
}

TEST(SnpVerifier, JsonSummary) {
  auto v = verify_report(virtee_report(), virtee_certs(), SnpPolicy{}, kPinMs);
  ASSERT_TRUE(v.ok());
  auto j = to_json(*v);
  EXPECT_EQ(j["platform"], "sev-snp");
  EXPECT_EQ(j["version"], 2);
  EXPECT_EQ(j["product"], "Milan");
  EXPECT_EQ(j["signing_key"], "VCEK");
  EXPECT_EQ(j["measurement"], testing_snp::kVirteeMeasurement);
  EXPECT_EQ(j["vmpl"], 0);
  EXPECT_EQ(j["policy"]["raw"], "0x0000000000030000");
  EXPECT_EQ(j["policy"]["debug"], false);
  EXPECT_EQ(j["policy"]["smt"], true);
  EXPECT_EQ(j["reported_tcb"]["bootloader"], 3);
  EXPECT_EQ(j["reported_tcb"]["tee"], 0);
  EXPECT_EQ(j["reported_tcb"]["snp"], 8);
  EXPECT_EQ(j["reported_tcb"]["microcode"], 115);
  EXPECT_FALSE(j["reported_tcb"].contains("fmc"));
  EXPECT_EQ(j["valid_from"], "2023-04-03T19:23:43Z");
  EXPECT_EQ(j["valid_until"], "2030-04-03T19:23:43Z");
  EXPECT_EQ(j["certificates"]["root"]["not_before"], "2020-10-22T17:23:05Z");
  auto az = verify_azure_hcl(read_file("reports/azure-milan-hcl.bin"), azure_certs(), SnpPolicy{}, kPinMs);
  ASSERT_TRUE(az.ok());
  auto ja = to_json(*az);
  EXPECT_EQ(ja["platform"], "azure-sev-snp");
  EXPECT_EQ(ja["runtime_data"]["vm-configuration"]["vmUniqueId"], "911B0EF8-9DBA-48B0-B275-4E4DF2D39252");
}

TEST(Rfc3339, Formats) {
  EXPECT_EQ(format_rfc3339_ms(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339_ms(kPinMs), "2025-06-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339_ms(951782400123), "2000-02-29T00:00:00.123Z");
  EXPECT_EQ(format_rfc3339_ms(-1000), "1969-12-31T23:59:59Z");
}

}  // namespace
}  // namespace cpipe::attest::snp

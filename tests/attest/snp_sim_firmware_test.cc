// SimSnpFirmware: extended reports in the real SNP_GET_EXT_REPORT layout that the real
// SnpAttestationVerifier accepts with the simulated ARK pinned — and only then, only for the
// pinned measurement and the request's binding; deterministic from the seed.
#include <gtest/gtest.h>

#include "backends/simulated/nsm/sim_nsm_pki.h"
#include "backends/simulated/snp/sim_amd_keys.h"
#include "backends/simulated/snp/sim_snp_firmware.h"
#include "core/attest/snp/snp_attestation_verifier.h"
#include "core/runtime/clock.h"

namespace cpipe::sim {
namespace {

using attest::snp::SnpAttestationVerifier;
using attest::snp::SnpVerifierConfig;

constexpr int64_t kNow = 1766650846577;  // 2025-12-25

// The firmware's clock is only used by attest(); these tests call make_document().
class FixedClock final : public runtime::Clock {
 public:
  runtime::MonoTime now() const override { return runtime::MonoTime{0}; }
  runtime::WallTime wall_now() const override { return runtime::WallTime{kNow * 1'000'000}; }
  runtime::TimerId start_timer(runtime::Duration, std::function<void()>) override { return 0; }
  bool cancel_timer(runtime::TimerId) override { return false; }
};

SimSnpConfig config(std::string_view seed = "seed-1") {
  SimSnpConfig c;
  c.seed = to_bytes(seed);
  c.image.firmware = to_bytes("OVMF");
  c.image.kernel = to_bytes("linux-6.8");
  c.image.initrd = to_bytes("cpipe stage initrd");
  c.image.cmdline = to_bytes("console=ttyS0");
  return c;
}

runtime::AttestationRequest request() {
  runtime::AttestationRequest r;
  r.public_key = Bytes(32, 0x11);
  r.user_data = to_bytes("handshake transcript hash");
  r.nonce = Bytes(16, 0x22);
  return r;
}

runtime::VerifyContext context(const runtime::AttestationRequest& r) {
  runtime::VerifyContext ctx;
  ctx.now_unix_ms = kNow;
  ctx.expect_public_key = r.public_key;
  ctx.expect_user_data = r.user_data;
  ctx.expect_nonce = r.nonce;
  return ctx;
}

SnpVerifierConfig verifier_config(const SimSnpFirmware& fw) {
  SnpVerifierConfig vc;
  vc.platform = SimSnpFirmware::kPlatform;
  vc.certs.root_pem_override = certificate_der_to_pem(fw.ark_der()).value();
  vc.policy.allowed_measurements = {fw.measurement()};
  return vc;
}

TEST(SimSnpFirmware, RealVerifierAcceptsAndBindsTheRequest) {
  FixedClock clock;
  auto fw = SimSnpFirmware::create(clock, config()).value();
  EXPECT_EQ(fw->platform(), "sim-sev-snp");
  EXPECT_EQ(fw->measurement(), sim_guest_measurement(config().image));
  Bytes doc = fw->make_document(request()).value();
  SnpAttestationVerifier verifier(verifier_config(*fw));
  auto v = verifier.verify({SimSnpFirmware::kPlatform, doc}, context(request()));
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->platform, "sim-sev-snp");
  EXPECT_EQ(v->measurements.at("measurement"), fw->measurement());
  EXPECT_FALSE(v->development_only);
  EXPECT_FALSE(v->debug);
  EXPECT_EQ(v->public_key, request().public_key);

  // The layout: a 1184-byte report and a VCEK/ASK/ARK table; the chain is AMD-shaped (Milan).
  auto ext = attest::snp::parse_extended_report(doc).value();
  ASSERT_TRUE(ext.vcek && ext.ask && ext.ark);
  EXPECT_EQ(*ext.ark, fw->ark_der());
  attest::snp::SnpCerts certs;
  certs.signing_cert = *ext.vcek;
  certs.chain_pem = certificate_der_to_pem(*ext.ask).value();
  certs.root_pem_override = certificate_der_to_pem(*ext.ark).value();
  auto full = attest::snp::verify_report(ext.report, certs, {}, kNow);
  ASSERT_TRUE(full.ok()) << full.status().to_string();
  EXPECT_EQ(full->product, attest::snp::Product::kMilan);
  EXPECT_EQ(full->signing_key, attest::snp::SigningKey::kVcek);
  EXPECT_EQ(full->report.version, 3u);
  EXPECT_EQ(full->reported_tcb.snp, 8);
  EXPECT_EQ(full->report.current_major, 1);
  Bytes rd(full->report.report_data.begin(), full->report.report_data.end());
  EXPECT_EQ(rd, attest::snp::snp_report_data(request().public_key, request().user_data, request().nonce));

  // Another nonce than the one attested.
  runtime::VerifyContext other = context(request());
  other.expect_nonce = Bytes(16, 0x23);
  EXPECT_EQ(verifier.verify({SimSnpFirmware::kPlatform, doc}, other).code(), ErrorCode::ATTEST_BINDING_MISMATCH);
}

TEST(SimSnpFirmware, RefusedWithoutTheSimulatedRootOrTheMeasurementOrAsHardware) {
  FixedClock clock;
  auto fw = SimSnpFirmware::create(clock, config()).value();
  Bytes doc = fw->make_document(request()).value();
  runtime::Evidence ev{SimSnpFirmware::kPlatform, doc};

  SnpVerifierConfig other_image = verifier_config(*fw);
  SimGuestImage rogue = config().image;
  rogue.initrd = to_bytes("rogue initrd");
  other_image.policy.allowed_measurements = {sim_guest_measurement(rogue)};
  EXPECT_EQ(SnpAttestationVerifier(other_image).verify(ev, context(request())).code(),
            ErrorCode::ATTEST_MEASUREMENT_MISMATCH);

  SnpVerifierConfig amd_root = verifier_config(*fw);
  amd_root.certs.root_pem_override.reset();  // the real AMD ARK-Milan
  EXPECT_EQ(SnpAttestationVerifier(amd_root).verify(ev, context(request())).code(), ErrorCode::ATTEST_CHAIN_INVALID);

  // A production verifier takes "sev-snp" evidence only: simulated evidence never passes as such.
  SnpVerifierConfig hardware = verifier_config(*fw);
  hardware.platform = "sev-snp";
  EXPECT_EQ(SnpAttestationVerifier(hardware).verify(ev, context(request())).code(), ErrorCode::ATTEST_BAD_FORMAT);

  Bytes flipped = doc;
  flipped[0x90] ^= 1;  // MEASUREMENT
  EXPECT_EQ(SnpAttestationVerifier(verifier_config(*fw)).verify({SimSnpFirmware::kPlatform, flipped}, context(request())).code(),
            ErrorCode::ATTEST_SIGNATURE_INVALID);

  SimSnpConfig debug = config();
  debug.policy |= uint64_t(1) << 19;
  auto dfw = SimSnpFirmware::create(clock, debug).value();
  EXPECT_EQ(SnpAttestationVerifier(verifier_config(*dfw))
                .verify({SimSnpFirmware::kPlatform, dfw->make_document(request()).value()}, context(request()))
                .code(),
            ErrorCode::ATTEST_DEBUG_NOT_ALLOWED);
}

TEST(SimSnpFirmware, DeterministicFromTheSeed) {
  FixedClock clock;
  auto a = SimSnpFirmware::create(clock, config("seed-1")).value();
  auto b = SimSnpFirmware::create(clock, config("seed-1")).value();
  auto c = SimSnpFirmware::create(clock, config("seed-2")).value();
  Bytes da = a->make_document(request()).value();
  EXPECT_EQ(da, b->make_document(request()).value());
  Bytes dc = c->make_document(request()).value();
  EXPECT_NE(da, dc);
  auto ea = attest::snp::parse_extended_report(da).value();
  auto ec = attest::snp::parse_extended_report(dc).value();
  EXPECT_NE(*ea.vcek, *ec.vcek);  // the VCEK and chip id come from the seed ...
  EXPECT_EQ(*ea.ark, *ec.ark);    // ... the simulated ARK/ASK are fixed keys
  EXPECT_EQ(*ea.ask, *ec.ask);

  // RSA-PSS certificates do not depend on OS randomness.
  auto ark_key = load_private_key_pem(sim_ark_private_key_pem()).value();
  AmdCertSpec spec{"ARK-Milan", "ARK-Milan", ark_key.get(), ark_key.get(), 9, true, true, kNow, kNow + 1000, {}};
  EXPECT_EQ(make_amd_certificate(spec).value(), make_amd_certificate(spec).value());
}

}  // namespace
}  // namespace cpipe::sim

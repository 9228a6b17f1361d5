// The DEVELOPMENT-ONLY mock attestation: it is a real check (signature under a pinned mock
// root, measurements, freshness, bindings), and it says it is the development mock.
#include "core/attest/mock_attestation.h"

#include <gtest/gtest.h>

namespace cpipe::attest {
namespace {

constexpr int64_t kNow = 1767225600000;  // 2026-01-01T00:00:00Z

struct Fixture {
  crypto::Ed25519KeyPair key = *mock_platform_key("tests");
  MockDocument doc;
  MockVerifierPolicy policy;
  CollectingEventSink events;

  Fixture() {
    doc.timestamp_ms = kNow - 1000;
    doc.measurements = {{"PCR0", Bytes(48, 0xa0)}, {"PCR1", Bytes(48, 0xa1)}};
    doc.public_key = Bytes(32, 0x11);
    doc.user_data = Bytes(32, 0x22);
    doc.nonce = Bytes(32, 0x33);
    policy.platform_public_key = mock_platform_public_key("tests");
    policy.expected_measurements = {{"PCR0", Bytes(48, 0xa0)}};
  }
  runtime::Evidence evidence() const {
    return runtime::Evidence{"mock-dev", encode_mock_document(doc, key)};
  }
  runtime::VerifyContext ctx() const {
    runtime::VerifyContext c;
    c.now_unix_ms = kNow;
    c.expect_public_key = doc.public_key;
    c.expect_user_data = doc.user_data;
    c.expect_nonce = doc.nonce;
    return c;
  }
  Result<runtime::VerifiedEvidence> verify(const runtime::Evidence& ev,
                                           const runtime::VerifyContext& c) {
    MockAttestationVerifier v(policy, &events);
    return v.verify(ev, c);
  }
};

TEST(MockAttestation, AcceptsAGoodDocumentAndMarksItDevelopmentOnly) {
  Fixture f;
  auto r = f.verify(f.evidence(), f.ctx());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->platform, "mock-dev");
  EXPECT_TRUE(r->development_only);
  EXPECT_EQ(r->public_key, f.doc.public_key);
  EXPECT_EQ(r->nonce, f.doc.nonce);
  EXPECT_EQ(r->measurements.at("PCR1"), Bytes(48, 0xa1));
  EXPECT_EQ(r->timestamp_ms, kNow - 1000);
  ASSERT_TRUE(f.events.contains("mock_attestation_used"));
  EXPECT_NE(f.events.events()[0].to_text().find("DEVELOPMENT-ONLY"), std::string::npos);
}

TEST(MockAttestation, PlatformKeyIsDeterministicPerSeed) {
  EXPECT_EQ(mock_platform_public_key("a"), mock_platform_public_key("a"));
  EXPECT_NE(mock_platform_public_key("a"), mock_platform_public_key("b"));
  EXPECT_EQ(mock_platform_public_key("a").size(), 32u);
}

TEST(MockAttestation, WrongRootIsRejected) {
  Fixture f;
  f.key = *mock_platform_key("attacker");
  EXPECT_EQ(f.verify(f.evidence(), f.ctx()).code(), ErrorCode::ATTEST_SIGNATURE_INVALID);
}

TEST(MockAttestation, EveryFlippedByteIsRejected) {
  Fixture f;
  runtime::Evidence good = f.evidence();
  for (size_t i = 0; i < good.document.size(); ++i) {
    runtime::Evidence ev = good;
    ev.document[i] ^= 0x01;
    auto r = f.verify(ev, f.ctx());
    EXPECT_FALSE(r.ok()) << "byte " << i;
    EXPECT_TRUE(r.code() == ErrorCode::ATTEST_SIGNATURE_INVALID ||
                r.code() == ErrorCode::ATTEST_BAD_FORMAT)
        << "byte " << i << ": " << r.status().to_string();
  }
}

TEST(MockAttestation, EveryTruncationIsRejected) {
  Fixture f;
  runtime::Evidence good = f.evidence();
  for (size_t n = 0; n < good.document.size(); ++n) {
    runtime::Evidence ev = good;
    ev.document.resize(n);
    EXPECT_FALSE(f.verify(ev, f.ctx()).ok()) << n;
  }
}

TEST(MockAttestation, MeasurementMismatchAndMissing) {
  Fixture f;
  f.policy.expected_measurements["PCR0"] = Bytes(48, 0xff);
  EXPECT_EQ(f.verify(f.evidence(), f.ctx()).code(), ErrorCode::ATTEST_MEASUREMENT_MISMATCH);
  Fixture g;
  g.policy.expected_measurements["PCR8"] = Bytes(48, 0);
  EXPECT_EQ(g.verify(g.evidence(), g.ctx()).code(), ErrorCode::ATTEST_MEASUREMENT_MISMATCH);
}

TEST(MockAttestation, FreshnessWindow) {
  Fixture f;
  f.doc.timestamp_ms = kNow - f.policy.max_age_ms - 1;
  EXPECT_EQ(f.verify(f.evidence(), f.ctx()).code(), ErrorCode::ATTEST_STALE);
  f.doc.timestamp_ms = kNow - f.policy.max_age_ms;
  EXPECT_TRUE(f.verify(f.evidence(), f.ctx()).ok());
  f.doc.timestamp_ms = kNow + f.policy.max_future_skew_ms + 1;
  EXPECT_EQ(f.verify(f.evidence(), f.ctx()).code(), ErrorCode::ATTEST_STALE);
}

TEST(MockAttestation, NoTimeFailsClosed) {
  Fixture f;
  runtime::VerifyContext c = f.ctx();
  c.now_unix_ms.reset();
  EXPECT_EQ(f.verify(f.evidence(), c).code(), ErrorCode::ATTEST_NO_TIME);
}

TEST(MockAttestation, BindingsAreChecked) {
  Fixture f;
  for (int which = 0; which < 3; ++which) {
    runtime::VerifyContext c = f.ctx();
    if (which == 0) c.expect_public_key = Bytes(32, 0);
    if (which == 1) c.expect_user_data = Bytes(32, 0);
    if (which == 2) c.expect_nonce = Bytes(31, 0x33);
    EXPECT_EQ(f.verify(f.evidence(), c).code(), ErrorCode::ATTEST_BINDING_MISMATCH) << which;
  }
}

TEST(MockAttestation, DebugIsRefusedByDefault) {
  Fixture f;
  f.doc.debug = true;
  EXPECT_EQ(f.verify(f.evidence(), f.ctx()).code(), ErrorCode::ATTEST_DEBUG_NOT_ALLOWED);
  f.policy.allow_debug = true;
  auto r = f.verify(f.evidence(), f.ctx());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->debug);
}

TEST(MockAttestation, OtherPlatformsAreNotMockEvidence) {
  Fixture f;
  runtime::Evidence ev = f.evidence();
  ev.platform = "nitro";
  EXPECT_EQ(f.verify(ev, f.ctx()).code(), ErrorCode::ATTEST_BAD_FORMAT);
}

TEST(MockAttestation, ParseRoundTrips) {
  Fixture f;
  auto p = parse_mock_document(f.evidence().document);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->doc.measurements, f.doc.measurements);
  EXPECT_EQ(p->doc.user_data, f.doc.user_data);
  EXPECT_EQ(p->signature.size(), 64u);
}

}  // namespace
}  // namespace cpipe::attest

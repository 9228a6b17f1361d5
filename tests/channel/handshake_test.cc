// The handshake without I/O: both sides agree on keys; each confirmation MAC, transcript hash
// and binding is what docs/protocol.md says; malformed messages get their codes.
#include "core/channel/handshake.h"

#include <gtest/gtest.h>

#include "backends/simulated/sim_random.h"
#include "core/attest/mock_attestation.h"
#include "core/crypto/hash.h"
#include "core/crypto/hkdf.h"

namespace cpipe::channel {
namespace {

// Evidence as the mock provider would make it, synchronously.
runtime::Evidence mock_evidence(const runtime::AttestationRequest& req) {
  attest::MockDocument doc;
  doc.timestamp_ms = 1;
  doc.public_key = req.public_key;
  doc.nonce = req.nonce;
  return runtime::Evidence{"mock-dev",
                           attest::encode_mock_document(doc, *attest::mock_platform_key("t"))};
}

struct HsRun {
  sim::SimRandom ri{1}, rr{2};
  InitiatorHandshake init;
  ResponderHandshake resp;
  Bytes m1, m2, m3;
};

void run_to_m2(HsRun& r) {
  r.m1 = r.init.write_hello(r.ri);
  ASSERT_TRUE(r.resp.read_hello(r.m1, r.rr).ok());
  auto m2 = r.resp.write_responder_auth(mock_evidence(r.resp.own_attestation_request()));
  ASSERT_TRUE(m2.ok());
  r.m2 = *m2;
}

void run_all(HsRun& r) {
  run_to_m2(r);
  ASSERT_TRUE(r.init.read_responder_auth(r.m2).ok());
  ASSERT_TRUE(r.init.check_responder_confirm().ok());
  auto m3 = r.init.write_initiator_auth(mock_evidence(r.init.own_attestation_request()));
  ASSERT_TRUE(m3.ok());
  r.m3 = *m3;
  ASSERT_TRUE(r.resp.read_initiator_auth(r.m3).ok());
  ASSERT_TRUE(r.resp.check_initiator_confirm().ok());
}

Bytes sha(std::initializer_list<ByteSpan> parts) {
  Bytes all;
  for (ByteSpan p : parts) all.insert(all.end(), p.begin(), p.end());
  return crypto::sha256(all);
}

TEST(Handshake, BothSidesDeriveTheSameDistinctDirectionalSecrets) {
  HsRun r;
  run_all(r);
  auto a = r.init.traffic_secrets();
  auto b = r.resp.traffic_secrets();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->initiator_to_responder, b->initiator_to_responder);
  EXPECT_EQ(a->responder_to_initiator, b->responder_to_initiator);
  EXPECT_NE(a->initiator_to_responder, a->responder_to_initiator);
  EXPECT_EQ(a->transcript_hash, sha({r.m1, r.m2, r.m3}));
}

TEST(Handshake, HelloLayoutIsAsDocumented) {
  HsRun r;
  r.m1 = r.init.write_hello(r.ri);
  ASSERT_EQ(r.m1.size(), 16 + kHelloBodySize);
  EXPECT_EQ(hex_encode(ByteSpan(r.m1).first(16)), "01000000000000000000000000000048");
  EXPECT_EQ(to_string(ByteSpan(r.m1).subspan(16, 4)), "CPSC");
  EXPECT_EQ(hex_encode(ByteSpan(r.m1).subspan(20, 4)), "00010001");
}

TEST(Handshake, EvidenceBindsOwnKeyAndPeersTranscript) {
  HsRun r;
  run_to_m2(r);
  // Responder: its e_r, and h1 = SHA-256(M1 || e_r || n_r).
  runtime::AttestationRequest rq = r.resp.own_attestation_request();
  ByteSpan e_r = ByteSpan(r.m2).subspan(16, 32);
  ByteSpan n_r = ByteSpan(r.m2).subspan(48, 32);
  EXPECT_EQ(rq.public_key, Bytes(e_r.begin(), e_r.end()));
  EXPECT_EQ(rq.nonce, sha({r.m1, e_r, n_r}));
  ASSERT_TRUE(r.init.read_responder_auth(r.m2).ok());
  EXPECT_EQ(r.init.peer().expect_public_key, rq.public_key);
  EXPECT_EQ(r.init.peer().expect_nonce, rq.nonce);
  // Initiator: its e_i, and SHA-256(M1 || M2).
  runtime::AttestationRequest iq = r.init.own_attestation_request();
  EXPECT_EQ(iq.public_key, Bytes(r.m1.begin() + 24, r.m1.begin() + 56));
  EXPECT_EQ(iq.nonce, sha({r.m1, r.m2}));
}

TEST(Handshake, ConfirmationMacsAreTheLast32BytesAndDifferPerDirection) {
  HsRun r;
  run_all(r);
  Bytes mac_r(r.m2.end() - 32, r.m2.end());
  Bytes mac_i(r.m3.end() - 32, r.m3.end());
  EXPECT_NE(mac_r, mac_i);
  EXPECT_NE(mac_r, Bytes(32, 0));
}

TEST(Handshake, FlippedConfirmMacsFail) {
  for (int side = 0; side < 2; ++side) {
    HsRun r;
    run_to_m2(r);
    if (side == 0) {
      r.m2.back() ^= 1;
      ASSERT_TRUE(r.init.read_responder_auth(r.m2).ok());
      EXPECT_EQ(r.init.check_responder_confirm().code(), ErrorCode::CHANNEL_CONFIRM_FAILED);
    } else {
      ASSERT_TRUE(r.init.read_responder_auth(r.m2).ok());
      auto m3 = r.init.write_initiator_auth(mock_evidence(r.init.own_attestation_request()));
      ASSERT_TRUE(m3.ok());
      Bytes bad = *m3;
      bad.back() ^= 1;
      ASSERT_TRUE(r.resp.read_initiator_auth(bad).ok());
      EXPECT_EQ(r.resp.check_initiator_confirm().code(), ErrorCode::CHANNEL_CONFIRM_FAILED);
    }
  }
}

TEST(Handshake, LowOrderKeysAreWeak) {
  // e_i = 0 (a low-order point) in M1.
  HsRun r;
  r.m1 = r.init.write_hello(r.ri);
  Bytes bad = r.m1;
  std::fill(bad.begin() + 24, bad.begin() + 56, 0);
  EXPECT_EQ(r.resp.read_hello(bad, r.rr).code(), ErrorCode::CHANNEL_WEAK_KEY);
  // e_r = 1 (low order) in M2.
  HsRun s;
  run_to_m2(s);
  std::fill(s.m2.begin() + 16, s.m2.begin() + 48, 0);
  s.m2[16] = 1;
  EXPECT_EQ(s.init.read_responder_auth(s.m2).code(), ErrorCode::CHANNEL_WEAK_KEY);
}

TEST(Handshake, HelloChecks) {
  HsRun r;
  Bytes m1 = r.init.write_hello(r.ri);
  Bytes v = m1;
  v[21] = 2;
  EXPECT_EQ(r.resp.read_hello(v, r.rr).code(), ErrorCode::CHANNEL_VERSION_MISMATCH);
  Bytes s = m1;
  s[23] = 9;
  EXPECT_EQ(r.resp.read_hello(s, r.rr).code(), ErrorCode::CHANNEL_VERSION_MISMATCH);
  Bytes m = m1;
  m[16] = 'X';
  EXPECT_EQ(r.resp.read_hello(m, r.rr).code(), ErrorCode::CHANNEL_BAD_MESSAGE);
  EXPECT_EQ(r.resp.read_hello(ByteSpan(m1).first(m1.size() - 1), r.rr).code(),
            ErrorCode::CHANNEL_BAD_MESSAGE);
}

TEST(Handshake, HeaderChecks) {
  uint8_t h[16];
  auto check = [&](FrameHeader fh, FrameType want, size_t max = 65536) {
    encode_frame_header(fh, h);
    return check_handshake_header(ByteSpan(h), want, max).code();
  };
  EXPECT_EQ(check({0x01, 0, 0, 0, 72}, FrameType::kHello), ErrorCode::OK);
  EXPECT_EQ(check({0x00, 0, 0, 0, 72}, FrameType::kHello), ErrorCode::CHANNEL_UNKNOWN_TYPE);
  EXPECT_EQ(check({0x02, 0, 0, 0, 72}, FrameType::kHello), ErrorCode::CHANNEL_BAD_MESSAGE);
  EXPECT_EQ(check({0x10, 0, 0, 0, 72}, FrameType::kHello), ErrorCode::CHANNEL_BAD_MESSAGE);
  EXPECT_EQ(check({0x01, 1, 0, 0, 72}, FrameType::kHello), ErrorCode::CHANNEL_BAD_FLAGS);
  EXPECT_EQ(check({0x01, 0, 8, 0, 72}, FrameType::kHello), ErrorCode::CHANNEL_BAD_FLAGS);
  EXPECT_EQ(check({0x01, 0, 0, 1, 72}, FrameType::kHello), ErrorCode::CHANNEL_BAD_MESSAGE);
  EXPECT_EQ(check({0x01, 0, 0, 0, 73}, FrameType::kHello), ErrorCode::CHANNEL_BAD_MESSAGE);
  EXPECT_EQ(check({0x02, 0, 0, 0, 65537}, FrameType::kResponderAuth), ErrorCode::CHANNEL_OVERSIZE);
  EXPECT_EQ(check({0x02, 0, 0, 0, 65536}, FrameType::kResponderAuth), ErrorCode::OK);
}

TEST(Handshake, EveryTruncationOfM2AndM3IsBadMessage) {
  HsRun r;
  run_all(r);
  for (size_t n = 16; n < r.m2.size(); ++n) {
    HsRun q;
    run_to_m2(q);
    Bytes cut(q.m2.begin(), q.m2.begin() + long(n));
    EXPECT_EQ(q.init.read_responder_auth(cut).code(), ErrorCode::CHANNEL_BAD_MESSAGE) << n;
  }
  for (size_t n = 16; n < r.m3.size(); n += 7) {
    HsRun q;
    run_all(q);
    ResponderHandshake fresh = q.resp;
    Bytes cut(q.m3.begin(), q.m3.begin() + long(n));
    EXPECT_EQ(fresh.read_initiator_auth(cut).code(), ErrorCode::CHANNEL_BAD_MESSAGE) << n;
  }
}

TEST(Handshake, DifferentRandomnessGivesDifferentTranscripts) {
  HsRun a, b;
  b.ri = sim::SimRandom(3);
  run_all(a);
  run_all(b);
  EXPECT_NE(a.init.traffic_secrets()->transcript_hash, b.init.traffic_secrets()->transcript_hash);
}

}  // namespace
}  // namespace cpipe::channel

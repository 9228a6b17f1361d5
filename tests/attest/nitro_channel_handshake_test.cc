// Issue 4 item 5, end to end on the sans-IO handshake: two SimNsm enclaves run the channel
// handshake (core/channel/handshake.h), each side's evidence is checked by the real
// NitroVerifier with the simulated root pinned and the bindings the handshake expects. A wrong
// pinned PCR, a debug document or a document replayed from an earlier handshake fails.
#include <gtest/gtest.h>

#include "backends/simulated/nsm/sim_nsm.h"
#include "core/attest/nitro/nitro_verifier.h"
#include "core/channel/handshake.h"
#include "core/crypto/hash.h"

namespace cpipe {
namespace {

using attest::nitro::NitroPolicy;
using attest::nitro::NitroVerifier;
using sim::SimNsm;

constexpr int64_t kNow = 1766650846577;

// Deterministic test randomness: SHA-384 counter stream.
class TestRandom final : public runtime::Random {
 public:
  explicit TestRandom(std::string seed) : seed_(std::move(seed)) {}
  void fill(MutableByteSpan out) override {
    for (uint8_t& b : out) {
      if (pos_ == block_.size()) {
        block_ = crypto::sha384(to_bytes(seed_ + std::to_string(counter_++)));
        pos_ = 0;
      }
      b = block_[pos_++];
    }
  }

 private:
  std::string seed_;
  uint64_t counter_ = 0;
  Bytes block_;
  size_t pos_ = 0;
};

class NullClock final : public runtime::Clock {
 public:
  runtime::MonoTime now() const override { return {}; }
  runtime::WallTime wall_now() const override { return runtime::WallTime::from_unix_ms(kNow); }
  runtime::TimerId start_timer(runtime::Duration, std::function<void()>) override { return 0; }
  bool cancel_timer(runtime::TimerId) override { return false; }
};

sim::SimNsmConfig stage(const std::string& app, bool debug = false) {
  sim::SimNsmConfig c;
  c.seed = to_bytes("shared-sim-pki");  // both enclaves under the same simulated AWS root
  c.image.eif = to_bytes(app + ".eif");
  c.image.kernel = to_bytes("kernel");
  c.image.application = to_bytes(app);
  c.image.debug = debug;
  c.module_id = "i-00000000000000001-enc" + app;
  return c;
}

Status check_peer(const NitroVerifier& v, const channel::PeerEvidence& peer) {
  runtime::VerifyContext ctx;
  ctx.now_unix_ms = kNow + 5;
  ctx.expect_public_key = peer.expect_public_key;
  ctx.expect_nonce = peer.expect_nonce;
  return v.verify(peer.evidence, ctx).status();
}

struct Outcome {
  Status initiator_view;  // the initiator's verdict on the responder's evidence
  Status responder_view;
  Bytes i_secret, r_secret;
};

// One handshake; `replay_responder` substitutes the responder's evidence.
Outcome handshake(const SimNsm& initiator_nsm, const SimNsm& responder_nsm, const NitroVerifier& initiator_verifier,
                  const NitroVerifier& responder_verifier, const std::string& seed,
                  const runtime::Evidence* replay_responder = nullptr, runtime::Evidence* responder_evidence_out = nullptr) {
  TestRandom ri(seed + "i"), rr(seed + "r");
  channel::InitiatorHandshake ini;
  channel::ResponderHandshake res;
  Outcome out;
  Bytes m1 = ini.write_hello(ri);
  EXPECT_TRUE(res.read_hello(m1, rr).ok());
  runtime::Evidence ev_r{SimNsm::kPlatform, responder_nsm.make_document(res.own_attestation_request(), kNow).value()};
  if (responder_evidence_out) *responder_evidence_out = ev_r;
  if (replay_responder) ev_r = *replay_responder;
  Bytes m2 = res.write_responder_auth(ev_r).value();
  EXPECT_TRUE(ini.read_responder_auth(m2).ok());
  out.initiator_view = check_peer(initiator_verifier, ini.peer());
  if (!out.initiator_view.ok()) return out;
  EXPECT_TRUE(ini.check_responder_confirm().ok());
  runtime::Evidence ev_i{SimNsm::kPlatform, initiator_nsm.make_document(ini.own_attestation_request(), kNow).value()};
  Bytes m3 = ini.write_initiator_auth(ev_i).value();
  EXPECT_TRUE(res.read_initiator_auth(m3).ok());
  out.responder_view = check_peer(responder_verifier, res.peer());
  if (!out.responder_view.ok()) return out;
  EXPECT_TRUE(res.check_initiator_confirm().ok());
  out.i_secret = ini.traffic_secrets()->initiator_to_responder;
  out.r_secret = res.traffic_secrets()->initiator_to_responder;
  return out;
}

NitroVerifier verifier_for(const SimNsm& root_of, const SimNsm& expected_peer, bool allow_debug = false) {
  NitroPolicy p;
  p.root_der = root_of.root_der();
  p.platform = SimNsm::kPlatform;
  p.allow_debug = allow_debug;
  for (uint32_t i : {0u, 1u, 2u}) p.expected_pcrs[i] = expected_peer.pcrs().at(i);
  return NitroVerifier::create(p).value();
}

TEST(NitroChannelHandshake, TwoSimNsmEnclavesVerifyEachOther) {
  NullClock clock;
  auto a = SimNsm::create(clock, stage("stage0")).value();
  auto b = SimNsm::create(clock, stage("stage1")).value();
  Outcome o = handshake(*a, *b, verifier_for(*a, *b), verifier_for(*b, *a), "h1");
  ASSERT_TRUE(o.initiator_view.ok()) << o.initiator_view.to_string();
  ASSERT_TRUE(o.responder_view.ok()) << o.responder_view.to_string();
  EXPECT_FALSE(o.i_secret.empty());
  EXPECT_EQ(o.i_secret, o.r_secret);
}

TEST(NitroChannelHandshake, WrongPcrFailsTheHandshake) {
  NullClock clock;
  auto a = SimNsm::create(clock, stage("stage0")).value();
  auto b = SimNsm::create(clock, stage("stage1")).value();
  auto evil = SimNsm::create(clock, stage("stage1-patched")).value();
  // The initiator pins stage1's PCRs; the responder runs a patched image.
  Outcome o = handshake(*a, *evil, verifier_for(*a, *b), verifier_for(*b, *a), "h2");
  EXPECT_EQ(o.initiator_view.code(), ErrorCode::ATTEST_MEASUREMENT_MISMATCH);
}

TEST(NitroChannelHandshake, DebugDocumentFailsTheHandshake) {
  NullClock clock;
  auto a = SimNsm::create(clock, stage("stage0")).value();
  auto dbg = SimNsm::create(clock, stage("stage1", /*debug=*/true)).value();
  NitroPolicy p;
  p.root_der = a->root_der();
  p.platform = SimNsm::kPlatform;
  Outcome o = handshake(*a, *dbg, NitroVerifier::create(p).value(), verifier_for(*dbg, *a), "h3");
  EXPECT_EQ(o.initiator_view.code(), ErrorCode::ATTEST_DEBUG_NOT_ALLOWED);
}

TEST(NitroChannelHandshake, ReplayedDocumentFailsTheHandshake) {
  NullClock clock;
  auto a = SimNsm::create(clock, stage("stage0")).value();
  auto b = SimNsm::create(clock, stage("stage1")).value();
  runtime::Evidence recorded;
  Outcome first = handshake(*a, *b, verifier_for(*a, *b), verifier_for(*b, *a), "h4", nullptr, &recorded);
  ASSERT_TRUE(first.initiator_view.ok());
  // The host replays the responder's earlier, genuine document into a new handshake.
  Outcome o = handshake(*a, *b, verifier_for(*a, *b), verifier_for(*b, *a), "h5", &recorded);
  EXPECT_EQ(o.initiator_view.code(), ErrorCode::ATTEST_BINDING_MISMATCH);
}

}  // namespace
}  // namespace cpipe

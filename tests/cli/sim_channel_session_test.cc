// The main job: it completes, the host sees no plaintext, and it is a pure function of its seed.
#include "apps/cpipe/sim_channel_session.h"

#include <gtest/gtest.h>

namespace cpipe::cli {
namespace {

SimChannelOptions small(uint64_t seed, std::string attestation = "sim-nitro") {
  SimChannelOptions o;
  o.seed = seed;
  o.messages = 3;
  o.tensor_bytes = 256 * 1024;
  o.attestation = std::move(attestation);
  o.rekey_after_records = 2;
  return o;
}

TEST(SimChannelSessionTest, CompletesWithSimulatedNitroAttestation) {
  Result<SimChannelReport> r = run_sim_channel(small(1));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->attestation, "sim-nitro");
  EXPECT_FALSE(r->development_only);
  EXPECT_EQ(r->round_trips, 3);
  EXPECT_TRUE(r->tensor_intact);
  EXPECT_FALSE(r->host_saw_plaintext);
  EXPECT_GT(r->relayed_bytes, r->app_bytes);  // ciphertext plus handshake and headers
  EXPECT_GE(r->rekeys, 1u);
  EXPECT_EQ(r->close_status, "CHANNEL_PEER_CLOSED");
  EXPECT_EQ(r->trace_hash.size(), 64u);
}

TEST(SimChannelSessionTest, MockAttestationIsMarkedDevelopmentOnly) {
  Result<SimChannelReport> r = run_sim_channel(small(1, "mock-dev"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->attestation, "mock-dev");
  EXPECT_TRUE(r->development_only);
  EXPECT_NE(r->a_sees_b.find("DEVELOPMENT ONLY"), std::string::npos);
}

TEST(SimChannelSessionTest, SameSeedSameTraceHashOtherSeedOtherHash) {
  Result<SimChannelReport> a = run_sim_channel(small(42));
  Result<SimChannelReport> b = run_sim_channel(small(42));
  Result<SimChannelReport> c = run_sim_channel(small(43));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->trace_hash, b->trace_hash);
  EXPECT_EQ(a->unseed, b->unseed);
  EXPECT_EQ(a->events, b->events);
  EXPECT_NE(a->trace_hash, c->trace_hash);
  EXPECT_NE(a->unseed, c->unseed);
}

// Issue 4 item 5 in the simulator: the channel's policy runs the real Nitro verifier on SimNsm
// documents, so an enclave running another image, or a debug-mode enclave, is refused.
TEST(SimChannelSessionTest, WrongImageFailsTheHandshakeWithAMeasurementMismatch) {
  for (const char* mode : {"sim-nitro", "mock-dev"}) {
    SimChannelOptions o = small(5, mode);
    o.b_image = "rogue";
    Result<SimChannelReport> r = run_sim_channel(o);
    ASSERT_FALSE(r.ok()) << mode;
    EXPECT_EQ(r.code(), ErrorCode::CHANNEL_ATTESTATION_REJECTED) << mode << ": " << r.status().to_string();
    EXPECT_NE(r.status().message().find("ATTEST_MEASUREMENT_MISMATCH"), std::string::npos)
        << r.status().to_string();
  }
}

TEST(SimChannelSessionTest, DebugEnclaveFailsTheHandshake) {
  for (const char* mode : {"sim-nitro", "mock-dev"}) {
    SimChannelOptions o = small(5, mode);
    o.b_debug = true;
    Result<SimChannelReport> r = run_sim_channel(o);
    ASSERT_FALSE(r.ok()) << mode;
    EXPECT_EQ(r.code(), ErrorCode::CHANNEL_ATTESTATION_REJECTED) << mode << ": " << r.status().to_string();
    EXPECT_NE(r.status().message().find("ATTEST_DEBUG_NOT_ALLOWED"), std::string::npos)
        << r.status().to_string();
  }
}

TEST(SimChannelSessionTest, UnknownAttestationModeIsAnError) {
  Result<SimChannelReport> r = run_sim_channel(small(1, "nitro-on-a-laptop"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace cpipe::cli

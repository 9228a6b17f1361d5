// The secure channel between two simulated enclaves (SimWorld, DEVELOPMENT-ONLY mock
// attestation): handshake, data both ways, large tensors, rekey, close, timeout, attestation
// policy failures, and determinism of the whole session.
#include <gtest/gtest.h>

#include "tests/channel/sim_world_util.h"

namespace cpipe::channel::testing {
namespace {

TEST(SimChannel, HandshakeAndDataBothWays) {
  ChannelWorld w(1, /*via_relay=*/false);
  w.client_spec.to_send = {Outgoing::bytes(to_bytes("hello server")), Outgoing::bytes(pattern(3000, 1))};
  w.client_spec.receive_count = 2;
  w.server_spec.receive_first = true;
  w.server_spec.receive_count = 2;
  w.server_spec.to_send = {Outgoing::bytes(to_bytes("hello client")), Outgoing::bytes({})};
  w.run();
  ASSERT_EQ(code_name(w.client_state.handshake), "OK");
  ASSERT_EQ(code_name(w.server_state.handshake), "OK");
  ASSERT_EQ(w.server_state.received.size(), 2u);
  EXPECT_EQ(to_string(w.server_state.received[0].payload), "hello server");
  EXPECT_EQ(w.server_state.received[1].payload, pattern(3000, 1));
  ASSERT_EQ(w.client_state.received.size(), 2u);
  EXPECT_EQ(to_string(w.client_state.received[0].payload), "hello client");
  EXPECT_TRUE(w.client_state.received[1].payload.empty());
  // Both saw the other's development-only evidence, bound to the same transcript.
  const SecureChannel& c = *w.client_state.channel;
  const SecureChannel& s = *w.server_state.channel;
  EXPECT_EQ(c.peer_evidence().platform, "mock-dev");
  EXPECT_TRUE(c.peer_evidence().development_only);
  EXPECT_EQ(c.peer_evidence().measurements.at("PCR0"), measurement_of("server"));
  EXPECT_EQ(s.peer_evidence().measurements.at("PCR0"), measurement_of("client"));
  EXPECT_EQ(c.transcript_hash(), s.transcript_hash());
  EXPECT_EQ(c.transcript_hash().size(), 32u);
  EXPECT_TRUE(c.is_open());
  EXPECT_TRUE(s.is_open());
}

TEST(SimChannel, FullDuplexSendAndReceiveAtTheSameTime) {
  ChannelWorld w(18);
  for (int i = 0; i < 20; ++i) {
    w.client_spec.to_send.push_back(Outgoing::bytes(pattern(5000 + i, uint8_t(i))));
    w.server_spec.to_send.push_back(Outgoing::bytes(pattern(7000 + i, uint8_t(i + 50))));
  }
  w.client_spec.duplex = w.server_spec.duplex = true;
  w.client_spec.receive_count = w.server_spec.receive_count = 20;
  w.client_spec.config.rekey_after_records = 7;
  w.run();
  ASSERT_EQ(w.client_state.received.size(), 20u);
  ASSERT_EQ(w.server_state.received.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(w.server_state.received[i].payload, pattern(5000 + i, uint8_t(i)));
    EXPECT_EQ(w.client_state.received[i].payload, pattern(7000 + i, uint8_t(i + 50)));
  }
  for (const Status& s : w.client_state.send_results) EXPECT_TRUE(s.ok()) << s.to_string();
}

TEST(SimChannel, EveryUseOfTheMockIsLoggedAsDevelopmentOnly) {
  ChannelWorld w(2, false);
  w.world.set_keep_events(true);
  w.run();
  ASSERT_EQ(code_name(w.client_state.handshake), "OK");
  int mock_events = 0, complete = 0;
  for (const auto& te : w.world.kept_events()) {
    std::string text = te.event.to_text();
    if (te.event.name == "mock_attestation_used") {
      ++mock_events;
      EXPECT_NE(text.find("DEVELOPMENT-ONLY"), std::string::npos) << text;
    }
    if (te.event.name == "handshake_complete") {
      ++complete;
      EXPECT_NE(text.find("DEVELOPMENT-ONLY"), std::string::npos) << text;
    }
  }
  EXPECT_EQ(mock_events, 4);  // two provider uses, two verifier uses
  EXPECT_EQ(complete, 2);
}

TEST(SimChannel, LargeTensorsThroughTheRelay) {
  ChannelWorld w(3);
  codec::TensorHeader big{codec::DType::F32, {5, 1024, 1024}, "hidden_states"};  // 20 MiB
  codec::TensorHeader ids{codec::DType::I64, {1, 7}, "input_ids"};
  w.client_spec.to_send = {Outgoing::tensor_of(big, pattern(20u << 20, 9)),
                           Outgoing::tensor_of(ids, pattern(56, 2))};
  w.server_spec.receive_count = 2;
  w.run();
  ASSERT_EQ(code_name(w.server_state.handshake), "OK");
  ASSERT_EQ(w.server_state.received.size(), 2u);
  const Received& r = w.server_state.received[0];
  EXPECT_EQ(r.kind, MessageKind::kTensor);
  ASSERT_TRUE(r.header.has_value());
  EXPECT_EQ(r.header->name, "hidden_states");
  EXPECT_EQ(r.header->shape, big.shape);
  EXPECT_EQ(r.header->dtype, codec::DType::F32);
  EXPECT_TRUE(r.payload == pattern(20u << 20, 9));
  EXPECT_EQ(w.server_state.received[1].header->name, "input_ids");
  EXPECT_EQ(w.server_state.received[1].payload, pattern(56, 2));
}

TEST(SimChannel, TensorLargerThanOneRecordIsRefusedWithoutClosing) {
  ChannelWorld w(4, false);
  codec::TensorHeader huge{codec::DType::U8, {33u << 20}, "too_big"};
  w.client_spec.to_send = {Outgoing::tensor_of(huge, Bytes(33u << 20)),
                           };
  w.run();
  ASSERT_EQ(w.client_state.send_results.size(), 1u);
  EXPECT_EQ(name(w.client_state.send_results[0].code()), "CHANNEL_OVERSIZE");
  EXPECT_TRUE(w.client_state.channel->is_open());
}

TEST(SimChannel, RekeyByRecordCountKeepsWorkingBothWays) {
  ChannelWorld w(5, false);
  w.client_spec.config.rekey_after_records = 3;
  w.server_spec.config.rekey_after_records = 2;
  for (int i = 0; i < 10; ++i) {
    w.client_spec.to_send.push_back(Outgoing::bytes(pattern(100 + i, uint8_t(i))));
    w.server_spec.to_send.push_back(Outgoing::bytes(pattern(50 + i, uint8_t(i + 100))));
  }
  w.client_spec.receive_count = 10;
  w.server_spec.receive_count = 10;
  w.run();
  ASSERT_EQ(w.server_state.received.size(), 10u);
  ASSERT_EQ(w.client_state.received.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(w.server_state.received[i].payload, pattern(100 + i, uint8_t(i)));
    EXPECT_EQ(w.client_state.received[i].payload, pattern(50 + i, uint8_t(i + 100)));
  }
  const SecureChannel& c = *w.client_state.channel;
  const SecureChannel& s = *w.server_state.channel;
  EXPECT_EQ(c.rekeys_sent(), 3u);  // before records 3, 6, 9 under the key
  EXPECT_EQ(s.rekeys_received(), 3u);
  EXPECT_EQ(s.rekeys_sent(), 4u);  // after every 2 records under a key (rekey records count)
  EXPECT_EQ(c.rekeys_received(), 4u);
}

TEST(SimChannel, RekeyByBytesAndByTime) {
  ChannelWorld w(6, false);
  w.client_spec.config.rekey_after_bytes = 10000;
  for (int i = 0; i < 6; ++i) w.client_spec.to_send.push_back(Outgoing::bytes(pattern(4000, 1)));
  w.server_spec.receive_count = 6;
  w.run();
  ASSERT_EQ(w.server_state.received.size(), 6u);
  EXPECT_EQ(w.client_state.channel->rekeys_sent(), 2u);  // 4000+4000 | 4000+4000 | 4000+4000
  EXPECT_EQ(w.server_state.channel->rekeys_received(), 2u);

  ChannelWorld t(7, false);
  t.client_spec.config.rekey_after = std::chrono::nanoseconds(0);  // every send
  t.client_spec.to_send = {Outgoing::bytes(to_bytes("a")), Outgoing::bytes(to_bytes("b"))};
  t.server_spec.receive_count = 2;
  t.run();
  ASSERT_EQ(t.server_state.received.size(), 2u);
  EXPECT_EQ(t.client_state.channel->rekeys_sent(), 2u);
}

TEST(SimChannel, PeerThatNeverRekeysIsCutOff) {
  ChannelWorld w(8, false);
  w.server_spec.config.peer_max_records_per_key = 3;
  for (int i = 0; i < 5; ++i) w.client_spec.to_send.push_back(Outgoing::bytes(to_bytes("x")));
  w.run();
  EXPECT_EQ(w.server_state.received.size(), 3u);
  EXPECT_EQ(code_name(w.server_state.receive_end), "CHANNEL_REKEY_REQUIRED");
}

TEST(SimChannel, AuthenticatedCloseIsPeerClosedThenClosed) {
  ChannelWorld w(9, false);
  w.client_spec.to_send = {Outgoing::bytes(to_bytes("last words"))};
  w.client_spec.after = After::kClose;
  w.client_spec.receive_count = 0;
  w.run();
  ASSERT_EQ(w.server_state.received.size(), 1u);
  EXPECT_EQ(code_name(w.server_state.receive_end), "CHANNEL_PEER_CLOSED");
  SecureChannel& s = *w.server_state.channel;
  EXPECT_FALSE(s.is_open());
  EXPECT_EQ(name(s.failure().code()), "CHANNEL_PEER_CLOSED");
  EXPECT_FALSE(w.client_state.channel->is_open());
}

TEST(SimChannel, ClosedChannelStaysClosed) {
  ChannelWorld w(10, false);
  w.client_spec.after = After::kClose;
  w.client_spec.receive_count = 0;
  w.run();
  SecureChannel& s = *w.server_state.channel;
  EXPECT_EQ(code_name(w.server_state.receive_end), "CHANNEL_PEER_CLOSED");
  // Every later call: CHANNEL_CLOSED, the original error kept.
  w.server_spec.to_send = {Outgoing::bytes(to_bytes("too late"))};
  w.server_spec.receive_count = 1;
  w.server_state.received.clear();
  runtime::spawn(w.server, send_phase(&w.server_spec, &w.server_state));
  runtime::spawn(w.server, receive_phase(&w.server_spec, &w.server_state));
  ASSERT_TRUE(w.world.run_until_idle().ok());
  ASSERT_EQ(w.server_state.send_results.size(), 1u);
  EXPECT_EQ(name(w.server_state.send_results[0].code()), "CHANNEL_CLOSED");
  EXPECT_EQ(code_name(w.server_state.receive_end), "CHANNEL_CLOSED");
  EXPECT_EQ(name(s.failure().code()), "CHANNEL_PEER_CLOSED");
}

TEST(SimChannel, HandshakeTimesOutWhenTheHostStalls) {
  ChannelWorld w(11);
  w.relay.policy = [](int dir, size_t, const Bytes& frame) {
    if (dir == kToServer) return RelayDecision::forward(frame);
    RelayDecision d;
    d.stall = true;  // M2 never arrives
    return d;
  };
  w.server_spec.config.handshake_timeout = std::chrono::seconds(1);
  w.run();
  EXPECT_EQ(code_name(w.client_state.handshake), "CHANNEL_HANDSHAKE_TIMEOUT");
  EXPECT_EQ(code_name(w.server_state.handshake), "CHANNEL_HANDSHAKE_TIMEOUT");
  EXPECT_GE(w.world.now().ns, int64_t(2'000'000'000));
}

TEST(SimChannel, SlowAttestationCountsAgainstTheHandshakeTimeout) {
  ChannelWorld w(12, false);
  attest::MockProviderConfig pc;
  pc.platform_seed = "tests-root";
  pc.measurements = {{"PCR0", measurement_of("server")}};
  pc.latency = std::chrono::seconds(5);
  auto slow = std::move(*attest::MockAttestationProvider::create(w.server_env, pc));
  w.server_spec.config.provider = slow.get();
  w.client_spec.config.handshake_timeout = std::chrono::seconds(3);
  w.run();
  EXPECT_EQ(code_name(w.server_state.handshake), "CHANNEL_HANDSHAKE_TIMEOUT");
  // The server gave up first and closed: the client sees the stream end mid-handshake.
  EXPECT_EQ(code_name(w.client_state.handshake), "CHANNEL_TRUNCATED");
}

TEST(SimChannel, WrongMeasurementIsRejected) {
  ChannelWorld w(13, false);
  attest::MockVerifierPolicy vp;
  vp.platform_public_key = attest::mock_platform_public_key("tests-root");
  vp.expected_measurements = {{"PCR0", measurement_of("someone else")}};
  attest::MockAttestationVerifier strict(vp);
  w.client_spec.config.verifier = &strict;
  w.run();
  ASSERT_EQ(code_name(w.client_state.handshake), "CHANNEL_ATTESTATION_REJECTED");
  EXPECT_NE(w.client_state.handshake->message().find("ATTEST_MEASUREMENT_MISMATCH"), std::string::npos);
  EXPECT_NE(code_name(w.server_state.handshake), "OK");
}

TEST(SimChannel, WrongMockRootIsRejected) {
  ChannelWorld w(14, false);
  w.server_att = make_attestation(w.server_env, "server", "client", "another-root", "tests-root");
  w.server_spec.config = ChannelWorld::config_for(w.server_att, "server");
  w.run();
  ASSERT_EQ(code_name(w.client_state.handshake), "CHANNEL_ATTESTATION_REJECTED");
  EXPECT_NE(w.client_state.handshake->message().find("ATTEST_SIGNATURE_INVALID"), std::string::npos);
}

TEST(SimChannel, StaleEvidenceIsRejected) {
  // The host sets the server's wall clock an hour back: its evidence looks an hour old.
  ChannelWorld w(15, false);
  w.server.set_wall_offset(-std::chrono::hours(1));
  w.run();
  ASSERT_EQ(code_name(w.client_state.handshake), "CHANNEL_ATTESTATION_REJECTED");
  EXPECT_NE(w.client_state.handshake->message().find("ATTEST_STALE"), std::string::npos);
}

TEST(SimChannel, InitiatorEvidenceIsCheckedToo) {
  ChannelWorld w(16, false);
  w.client_att = make_attestation(w.client_env, "impostor", "server");
  w.client_spec.config = ChannelWorld::config_for(w.client_att, "client");
  w.run();
  ASSERT_EQ(code_name(w.server_state.handshake), "CHANNEL_ATTESTATION_REJECTED");
  EXPECT_NE(w.server_state.handshake->message().find("ATTEST_MEASUREMENT_MISMATCH"), std::string::npos);
  // The client finished its side but the server never accepts: its first receive fails.
  EXPECT_FALSE(w.client_state.receive_end->ok());
}

TEST(SimChannel, MissingProviderOrVerifierIsAnError) {
  ChannelWorld w(17, false);
  w.client_spec.config.verifier = nullptr;
  w.run();
  EXPECT_EQ(code_name(w.client_state.handshake), "INVALID_ARGUMENT");
}

// ---- determinism -------------------------------------------------------------------------------

std::string session_trace(uint64_t seed) {
  ChannelWorld w(seed);
  w.client_spec.config.rekey_after_records = 2;
  for (int i = 0; i < 5; ++i) w.client_spec.to_send.push_back(Outgoing::bytes(pattern(700, uint8_t(i))));
  w.client_spec.to_send.push_back(
      Outgoing::tensor_of(codec::TensorHeader{codec::DType::BF16, {4, 64}, "t"}, pattern(512, 3)));
  w.client_spec.receive_count = 1;
  w.server_spec.receive_count = 6;
  w.server_spec.to_send = {Outgoing::bytes(to_bytes("done"))};
  w.run();
  EXPECT_EQ(w.server_state.received.size(), 6u);
  EXPECT_EQ(w.client_state.received.size(), 1u);
  return w.world.trace_hash() + "/" + std::to_string(w.world.unseed());
}

TEST(SimChannel, SameSeedSameTraceHashOtherSeedOther) {
  std::string a = session_trace(42);
  std::string b = session_trace(42);
  std::string c = session_trace(43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

}  // namespace
}  // namespace cpipe::channel::testing

// The channel over real TCP loopback through the posix backend: handshake, data both ways, a
// large tensor, and a few hostile-relay attacks (the relay is a real TCP proxy here).
#include <gtest/gtest.h>

#include "backends/posix/posix_env.h"
#include "tests/channel/channel_test_util.h"

namespace cpipe::channel::testing {
namespace {

struct PosixSession {
  PosixSession() : posix(posix::make_posix_env(opts())), env(posix->env) {
    client_att = make_attestation(env, "client", "server");
    server_att = make_attestation(env, "server", "client");
    auto l = env.network->listen(runtime::Endpoint::tcp("127.0.0.1", 0));
    EXPECT_TRUE(l.ok()) << l.status().to_string();
    server_listener = std::move(*l);
    auto rl = env.network->listen(runtime::Endpoint::tcp("127.0.0.1", 0));
    EXPECT_TRUE(rl.ok());
    relay_listener = std::move(*rl);
    relay.env = &env;
    relay.listener = relay_listener.get();
    relay.upstream = server_listener->local_endpoint();
    client_spec.initiator = true;
    client_spec.connect_to = relay_listener->local_endpoint();
    client_spec.config.provider = client_att.provider.get();
    client_spec.config.verifier = client_att.verifier.get();
    client_spec.config.name = "client";
    server_spec.initiator = false;
    server_spec.listener = server_listener.get();
    server_spec.config.provider = server_att.provider.get();
    server_spec.config.verifier = server_att.verifier.get();
    server_spec.config.name = "server";
  }
  ~PosixSession() {
    for (PeerState* st : {&client_state, &server_state})
      if (st->channel) st->channel->abort();
    relay_listener->close();
    server_listener->close();
    // Let every actor see its stream or listener closed and finish.
    posix->loop.run_until([] { return false; });
  }
  static posix::PosixEnvOptions opts() {
    posix::PosixEnvOptions o;
    o.compute_threads = 1;
    o.event_sink = &NullEventSink::instance();
    return o;
  }

  // Runs until both peers finished (or 20 s of real time pass, a hang).
  void run() {
    runtime::spawn(*env.executor, relay_serve(&relay, 1));
    runtime::spawn(*env.executor, run_peer(&env, &server_spec, &server_state));
    runtime::spawn(*env.executor, run_peer(&env, &client_spec, &client_state));
    runtime::MonoTime deadline = env.clock->now() + std::chrono::seconds(20);
    bool ok = posix->loop.run_until([this, deadline] {
      return (client_state.finished && server_state.finished) || posix->loop.now() > deadline;
    });
    EXPECT_TRUE(ok);
    EXPECT_TRUE(client_state.finished && server_state.finished) << "session hung";
  }

  std::unique_ptr<posix::PosixEnv> posix;
  runtime::Env& env;
  Attestation client_att, server_att;
  std::unique_ptr<runtime::Listener> server_listener, relay_listener;
  Relay relay;
  PeerSpec client_spec, server_spec;
  PeerState client_state, server_state;
};

std::string code_name(const std::optional<Status>& s) {
  return s ? std::string(s->code_name()) : std::string("unset");
}

TEST(PosixChannel, HandshakeDataBothWaysAndATensorOverTcp) {
  PosixSession p;
  codec::TensorHeader h{codec::DType::F32, {1024, 1024}, "activations"};  // 4 MiB
  p.client_spec.to_send = {Outgoing::bytes(to_bytes("hello over tcp")),
                           Outgoing::tensor_of(h, pattern(4u << 20, 5))};
  p.client_spec.receive_count = 1;
  p.client_spec.after = After::kNothing;
  p.server_spec.receive_first = true;
  p.server_spec.receive_count = 2;
  p.server_spec.to_send = {Outgoing::bytes(to_bytes("ack"))};
  p.server_spec.after = After::kClose;
  p.run();
  ASSERT_EQ(code_name(p.client_state.handshake), "OK");
  ASSERT_EQ(code_name(p.server_state.handshake), "OK");
  ASSERT_EQ(p.server_state.received.size(), 2u);
  EXPECT_EQ(to_string(p.server_state.received[0].payload), "hello over tcp");
  EXPECT_EQ(p.server_state.received[1].header->name, "activations");
  EXPECT_TRUE(p.server_state.received[1].payload == pattern(4u << 20, 5));
  ASSERT_EQ(p.client_state.received.size(), 1u);
  EXPECT_EQ(to_string(p.client_state.received[0].payload), "ack");
  EXPECT_TRUE(p.client_state.channel->peer_evidence().development_only);
  EXPECT_EQ(p.client_state.channel->transcript_hash(), p.server_state.channel->transcript_hash());
}

TEST(PosixChannel, FlippedRecordByteIsBadTag) {
  PosixSession p;
  p.relay.policy = [](int d, size_t i, const Bytes& f) {
    Bytes m = f;
    if (d == kToServer && i == 3) m[30] ^= 0x01;
    return RelayDecision::forward(std::move(m));
  };
  p.client_spec.to_send = {Outgoing::bytes(pattern(64, 1)), Outgoing::bytes(pattern(64, 2))};
  p.client_spec.receive_count = 0;
  p.client_spec.after = After::kClose;
  p.run();
  ASSERT_EQ(p.server_state.received.size(), 1u);
  EXPECT_EQ(p.server_state.received[0].payload, pattern(64, 1));
  EXPECT_EQ(code_name(p.server_state.receive_end), "CHANNEL_BAD_TAG");
}

TEST(PosixChannel, DroppedAndReplayedRecords) {
  {
    PosixSession p;
    p.relay.policy = [](int d, size_t i, const Bytes& f) {
      return d == kToServer && i == 2 ? RelayDecision::drop() : RelayDecision::forward(f);
    };
    p.client_spec.to_send = {Outgoing::bytes(pattern(64, 1)), Outgoing::bytes(pattern(64, 2))};
    p.client_spec.receive_count = 0;
    p.client_spec.after = After::kClose;
    p.run();
    EXPECT_TRUE(p.server_state.received.empty());
    EXPECT_EQ(code_name(p.server_state.receive_end), "CHANNEL_SEQUENCE_GAP");
  }
  {
    PosixSession p;
    p.relay.policy = [](int d, size_t i, const Bytes& f) {
      if (d == kToServer && i == 2) return RelayDecision{{f, f}, false, false};
      return RelayDecision::forward(f);
    };
    p.client_spec.to_send = {Outgoing::bytes(pattern(64, 1))};
    p.client_spec.receive_count = 0;
    p.client_spec.after = After::kClose;
    p.run();
    ASSERT_EQ(p.server_state.received.size(), 1u);
    EXPECT_EQ(code_name(p.server_state.receive_end), "CHANNEL_REPLAY");
  }
}

TEST(PosixChannel, TamperedEvidenceAndTruncation) {
  {
    PosixSession p;
    p.relay.policy = [](int d, size_t i, const Bytes& f) {
      Bytes m = f;
      if (d == kToClient && i == 0) m[150] ^= 0x01;  // inside the responder's evidence
      return RelayDecision::forward(std::move(m));
    };
    p.run();
    EXPECT_EQ(code_name(p.client_state.handshake), "CHANNEL_ATTESTATION_REJECTED");
    EXPECT_NE(code_name(p.server_state.handshake), "OK");
  }
  {
    PosixSession p;
    p.relay.policy = [](int d, size_t i, const Bytes& f) {
      if (d == kToServer && i == 2) return RelayDecision{{Bytes(f.begin(), f.begin() + 40)}, true, false};
      return RelayDecision::forward(f);
    };
    p.client_spec.to_send = {Outgoing::bytes(pattern(64, 1))};
    p.client_spec.receive_count = 0;
    p.run();
    EXPECT_EQ(code_name(p.server_state.receive_end), "CHANNEL_TRUNCATED");
    EXPECT_TRUE(p.server_state.received.empty());
  }
}

}  // namespace
}  // namespace cpipe::channel::testing

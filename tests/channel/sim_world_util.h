// A SimWorld with a client, a server and the untrusted host between them (the relay), each
// with DEVELOPMENT-ONLY mock attestation, for the channel tests.
#pragma once

#include <gtest/gtest.h>

#include "backends/simulated/sim_network.h"
#include "backends/simulated/sim_world.h"
#include "tests/channel/channel_test_util.h"

namespace cpipe::channel::testing {

struct ChannelWorld {
  explicit ChannelWorld(uint64_t seed, bool via_relay = true)
      : world(seed),
        client(world.add_node("client")),
        server(world.add_node("server")),
        host(world.add_node("host")),
        client_env(client.env()),
        server_env(server.env()),
        host_env(host.env()) {
    client_att = make_attestation(client_env, "client", "server");
    server_att = make_attestation(server_env, "server", "client");
    auto l = server.network().listen(runtime::Endpoint::tcp("server", 7000));
    EXPECT_TRUE(l.ok());
    server_listener = std::move(*l);
    auto rl = host.network().listen(runtime::Endpoint::tcp("host", 7000));
    EXPECT_TRUE(rl.ok());
    relay_listener = std::move(*rl);
    relay.env = &host_env;
    relay.listener = relay_listener.get();
    relay.upstream = runtime::Endpoint::tcp("server", 7000);

    client_spec.initiator = true;
    client_spec.connect_to = via_relay ? runtime::Endpoint::tcp("host", 7000)
                                       : runtime::Endpoint::tcp("server", 7000);
    client_spec.config = config_for(client_att, "client");
    server_spec.initiator = false;
    server_spec.listener = server_listener.get();
    server_spec.config = config_for(server_att, "server");
  }

  // Ends every session and lets every actor finish, so no coroutine is left suspended (and
  // nothing leaks) when the world goes away.
  ~ChannelWorld() {
    for (PeerState* st : {&client_state, &server_state, &client2_state, &server2_state})
      if (st->channel) st->channel->abort();
    relay_listener->close();
    server_listener->close();
    (void)world.run_until_idle();
  }

  static ChannelConfig config_for(const Attestation& a, std::string name) {
    ChannelConfig c;
    c.provider = a.provider.get();
    c.verifier = a.verifier.get();
    c.handshake_timeout = std::chrono::seconds(2);
    c.name = std::move(name);
    return c;
  }

  // Starts relay (if used), server and client, and runs the world until nothing is left to do.
  void run(size_t relay_connections = 1) {
    runtime::spawn(host, relay_serve(&relay, relay_connections));
    runtime::spawn(server, run_peer(&server_env, &server_spec, &server_state));
    runtime::spawn(client, run_peer(&client_env, &client_spec, &client_state));
    Status s = world.run_until_idle();
    EXPECT_TRUE(s.ok()) << s.to_string();
  }

  sim::SimWorld world;
  sim::SimNode& client;
  sim::SimNode& server;
  sim::SimNode& host;
  runtime::Env client_env, server_env, host_env;
  Attestation client_att, server_att;
  std::unique_ptr<runtime::Listener> server_listener, relay_listener;
  Relay relay;
  PeerSpec client_spec, server_spec;
  PeerState client_state, server_state;
  // A second session in the same world (handshake replay tests).
  PeerSpec client2_spec, server2_spec;
  PeerState client2_state, server2_state;
  ReplayState replay;
};

// "CHANNEL_BAD_TAG" (the code's name; "unset" when the outcome never came), for readable
// assertions: EXPECT_EQ(code_name(state.receive_end), "CHANNEL_BAD_TAG").
inline std::string code_name(const std::optional<Status>& s) {
  return s ? std::string(s->code_name()) : std::string("unset");
}
inline std::string name(ErrorCode c) { return std::string(error_code_name(c)); }

}  // namespace cpipe::channel::testing

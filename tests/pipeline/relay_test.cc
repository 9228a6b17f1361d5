// ByteRelay: forwards both ways unchanged, shows every byte to its tap, and tears down both
// sides when either ends or the upstream is unreachable.
#include "core/pipeline/relay.h"

#include <gtest/gtest.h>

#include "backends/simulated/sim_network.h"
#include "backends/simulated/sim_world.h"

namespace cpipe::pipeline {
namespace {

using runtime::Endpoint;
using runtime::Task;

struct Tap final : RelayTap {
  void on_chunk(uint64_t, RelayDirection d, ByteSpan b) override {
    (d == RelayDirection::kToUpstream ? up : down).insert((d == RelayDirection::kToUpstream ? up : down).end(),
                                                          b.begin(), b.end());
  }
  Bytes up, down;
};

struct Outcome {
  Bytes client_got;
  Status client_end;
  Bytes server_got;
};

Task<void> echo_server(runtime::Listener* listener, Outcome* out) {
  auto s = co_await listener->accept();
  if (!s.ok()) co_return;
  Bytes buf(4096);
  for (;;) {
    auto n = co_await (*s)->read_some(buf);
    if (!n.ok()) break;
    out->server_got.insert(out->server_got.end(), buf.begin(), buf.begin() + *n);
    if (!(co_await (*s)->write_all(ByteSpan(buf.data(), *n))).ok()) break;
  }
  (*s)->close();
}

Task<void> client(runtime::Env* env, Bytes message, Outcome* out) {
  auto s = co_await env->network->connect(Endpoint::tcp("host", 80), std::chrono::seconds(1));
  if (!s.ok()) {
    out->client_end = s.status();
    co_return;
  }
  if (!(co_await (*s)->write_all(message)).ok()) co_return;
  Bytes buf(message.size());
  out->client_end = co_await runtime::read_exact(**s, buf);
  if (out->client_end.ok()) out->client_got = buf;
  (*s)->close();
}

TEST(ByteRelayTest, ForwardsBothWaysAndShowsEveryByteToTheTap) {
  sim::SimWorld world(7);
  auto& c = world.add_node("client");
  auto& h = world.add_node("host");
  auto& s = world.add_node("server");
  runtime::Env ce = c.env(), he = h.env(), se = s.env();
  auto server_listener = se.network->listen(Endpoint::tcp("server", 9));
  auto host_listener = he.network->listen(Endpoint::tcp("host", 80));
  ASSERT_TRUE(server_listener.ok() && host_listener.ok());
  Tap tap;
  ByteRelay relay(he, std::move(*host_listener), RelayConfig{Endpoint::tcp("server", 9)}, &tap);
  Outcome out;
  Bytes message = c.random().bytes(100000);
  runtime::spawn(h, relay.serve());
  runtime::spawn(s, echo_server(server_listener->get(), &out));
  runtime::spawn(c, client(&ce, message, &out));
  ASSERT_TRUE(world.run_for(std::chrono::seconds(5)).ok());
  relay.stop();
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_TRUE(out.client_end.ok()) << out.client_end.to_string();
  EXPECT_EQ(out.client_got, message);
  EXPECT_EQ(out.server_got, message);
  EXPECT_EQ(tap.up, message);
  EXPECT_EQ(tap.down, message);
  EXPECT_EQ(relay.connections(), 1u);
  EXPECT_EQ(relay.bytes_relayed(), 2 * message.size());
}

TEST(ByteRelayTest, UnreachableUpstreamClosesTheDownstream) {
  sim::SimWorld world(7);
  auto& c = world.add_node("client");
  auto& h = world.add_node("host");
  runtime::Env ce = c.env(), he = h.env();
  auto host_listener = he.network->listen(Endpoint::tcp("host", 80));
  ASSERT_TRUE(host_listener.ok());
  ByteRelay relay(he, std::move(*host_listener), RelayConfig{Endpoint::tcp("nowhere", 9)});
  Outcome out;
  runtime::spawn(h, relay.serve());
  runtime::spawn(c, client(&ce, Bytes(10, 1), &out));
  ASSERT_TRUE(world.run_for(std::chrono::seconds(5)).ok());
  relay.stop();
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_FALSE(out.client_end.ok());
  EXPECT_TRUE(out.client_got.empty());
}

}  // namespace
}  // namespace cpipe::pipeline

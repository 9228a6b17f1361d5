// The determinism contract: a multi-node run with random message sizes, random latencies,
// bandwidth limits, timers, events and libsodium randomness is a pure function of its seed.
#include <gtest/gtest.h>
#include <sodium.h>

#include <sstream>
#include <string>

#include "backends/simulated/sim_network.h"
#include "backends/simulated/sim_world.h"
#include "core/runtime/transport.h"
#include "sim_test_util.h"

namespace cpipe::sim {
namespace {

using namespace cpipe::sim::testing;
using namespace std::chrono_literals;

struct ClientStats {
  int echoed = 0;
  int failed = 0;
};

Task<void> echo_client(runtime::Env env, Endpoint server, int messages, ClientStats* stats) {
  Logger log = env.logger("client");
  StreamResult c = co_await env.network->connect(server, 1s);
  if (!c.ok()) {
    ++stats->failed;
    co_return;
  }
  StreamPtr s = std::move(c).value();
  for (int i = 0; i < messages; ++i) {
    size_t len = size_t(env.random->uniform_range(1, 40'000));
    Bytes msg = env.random->bytes(len);
    Status st = co_await s->write_all(msg);
    Bytes back(len);
    if (st.ok()) st = co_await runtime::read_exact(*s, back);
    if (st.ok() && back == msg) {
      ++stats->echoed;
    } else {
      ++stats->failed;
    }
    uint8_t tag[8];
    randombytes_buf(tag, sizeof tag);  // libsodium draws through the world's generator
    log.info("echoed", {{"len", std::to_string(len)}, {"tag", hex_encode(tag)}});
    co_await runtime::sleep_for(*env.clock, Duration(int64_t(env.random->uniform(5'000'000))));
  }
  s->close();
}

struct RunResult {
  std::string trace_hash;
  uint64_t unseed = 0;
  int64_t end_ns = 0;
  uint64_t trace_entries = 0;
  int echoed = 0;
  int failed = 0;
};

RunResult run_scenario(uint64_t seed) {
  SimWorld world(seed);
  LinkConfig link;
  link.latency = LatencyDistribution::quantiles(50us, 200us, 2ms, 10ms);
  link.bandwidth_bytes_per_s = 50'000'000;
  link.segment_size = 1460;
  world.network().set_default_link(link);
  SimNode& server = world.add_node("server", {.cid = 16});
  auto listener = server.network().listen(Endpoint::vsock(16, 5000));
  EXPECT_TRUE(listener.ok());
  runtime::spawn(server, echo_server(listener->get(), &server, -1));
  ClientStats stats;
  for (int i = 0; i < 4; ++i) {
    SimNode& n = world.add_node("client" + std::to_string(i), {.cid = uint32_t(20 + i)});
    runtime::spawn(n, echo_client(n.env(), Endpoint::vsock(16, 5000), 8, &stats));
  }
  EXPECT_TRUE(world.run_until_idle().ok());
  (*listener)->close();
  EXPECT_TRUE(world.run_until_idle().ok());
  RunResult r;
  r.end_ns = world.now().ns;
  r.trace_entries = world.trace().entries();
  r.trace_hash = world.trace_hash();
  r.unseed = world.unseed();
  r.echoed = stats.echoed;
  r.failed = stats.failed;
  return r;
}

TEST(SimDeterminismTest, SameSeedSameTraceHashAndUnseedOtherSeedOtherTrace) {
  RunResult a = run_scenario(1);
  RunResult b = run_scenario(1);
  RunResult c = run_scenario(2);
  EXPECT_EQ(a.echoed, 32);
  EXPECT_EQ(a.failed, 0);
  EXPECT_GT(a.trace_entries, 500u);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.unseed, b.unseed);
  EXPECT_EQ(a.end_ns, b.end_ns);
  EXPECT_EQ(a.trace_entries, b.trace_entries);
  EXPECT_EQ(c.echoed, 32);
  EXPECT_NE(a.trace_hash, c.trace_hash);
  EXPECT_NE(a.unseed, c.unseed);
  EXPECT_NE(a.end_ns, c.end_ns);
}

TEST(SimDeterminismTest, TraceHashIsSensitiveToAnySingleDelivery) {
  auto run = [](bool extra_byte) {
    SimWorld world(9);
    SimNode& a = world.add_node("a");
    SimNode& b = world.add_node("b");
    auto l = b.network().listen(Endpoint::tcp("b", 1));
    EXPECT_TRUE(l.ok());
    runtime::spawn(b, echo_server(l->get(), &b, 1));
    Outcome<StreamResult> c;
    runtime::spawn(a, connect_to(&a.network(), &a.clock(), Endpoint::tcp("b", 1), 1s, &c));
    EXPECT_TRUE(world.run_until_idle().ok());
    Outcome<Status> w;
    Bytes msg(100, 0x5a);
    if (extra_byte) msg[99] = 0x5b;
    runtime::spawn(a, write_bytes(*c.value.value(), &a.clock(), msg, &w));
    EXPECT_TRUE(world.run_until_idle().ok());
    return world.trace_hash();
  };
  EXPECT_EQ(run(false), run(false));
  EXPECT_NE(run(false), run(true));
}

TEST(SimDeterminismTest, UnseedSeesRandomnessTheTraceDoesNot) {
  auto run = [](bool extra_draw) {
    SimWorld world(4);
    SimNode& a = world.add_node("a");
    a.clock().start_timer(1ms, [] {});
    if (extra_draw) a.random().next_u64();  // consumed, but never shows up in any message
    EXPECT_TRUE(world.run_until_idle().ok());
    return std::make_pair(world.trace_hash(), world.unseed());
  };
  auto plain = run(false);
  auto drawn = run(true);
  EXPECT_EQ(plain, run(false));
  EXPECT_EQ(plain.first, drawn.first);
  EXPECT_NE(plain.second, drawn.second);
}

TEST(SimDeterminismTest, TraceCanBeWrittenAsJsonLines) {
  SimWorld world(1);
  std::ostringstream out;
  world.trace().set_callback(TraceRecorder::jsonl_writer(out));
  SimNode& a = world.add_node("a");
  a.set_wall_offset(-5s);
  a.clock().start_timer(1ms, [] {});
  EXPECT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(out.str(),
            "{\"kind\":\"fault\",\"t_ns\":0,\"what\":\"wall_offset a -5000000000ns\"}\n"
            "{\"from\":\"a\",\"kind\":\"timer\",\"t_ns\":1000000,\"what\":\"1\"}\n");
}

}  // namespace
}  // namespace cpipe::sim

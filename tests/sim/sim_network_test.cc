// SimNetwork: the transport.h semantics (refused, unreachable, timeouts, EOF, reset, CANCELLED,
// ordering) with exact virtual timestamps, link latency/bandwidth/segmentation, partitions,
// filters and wrappers.
#include "backends/simulated/sim_network.h"

#include <gtest/gtest.h>

#include "backends/simulated/network_wrapper.h"
#include "sim_test_util.h"

namespace cpipe::sim {
namespace {

using namespace cpipe::sim::testing;
using namespace std::chrono_literals;
using runtime::MonoTime;

constexpr int64_t kUs = 1000;
constexpr int64_t kMs = 1000 * kUs;

class SimNetworkTest : public ::testing::Test {
 protected:
  SimNetworkTest() {
    world.trace().set_keep_records(true);
  }

  std::unique_ptr<runtime::Listener> listen(SimNode& n, const std::string& ep) {
    auto l = n.network().listen(*Endpoint::parse(ep));
    EXPECT_TRUE(l.ok()) << l.status().to_string();
    return std::move(l).value();
  }

  // Connects cli -> srv:7000 with an accepted server side; both at t = 200 us.
  std::pair<StreamPtr, StreamPtr> pair_up(runtime::Listener& l, const std::string& ep) {
    Outcome<StreamResult> c, a;
    runtime::spawn(cli, connect_to(&cli.network(), &cli.clock(), *Endpoint::parse(ep), 1s, &c));
    runtime::spawn(srv, accept_one(&l, &srv.clock(), &a));
    EXPECT_TRUE(world.run_until_idle().ok());
    EXPECT_TRUE(c.done() && c.value->ok()) << (c.done() ? c.value->status().to_string() : "");
    EXPECT_TRUE(a.done() && a.value->ok());
    return {std::move(*c.value).value(), std::move(*a.value).value()};
  }

  size_t count(TraceKind kind) const {
    size_t n = 0;
    for (const auto& r : world.trace().records()) n += r.kind == kind ? 1 : 0;
    return n;
  }

  SimWorld world{1};
  SimNode& srv = world.add_node("srv", {.cid = 16});
  SimNode& cli = world.add_node("cli", {.cid = 17});
};

TEST_F(SimNetworkTest, ConnectAcceptEchoTakesExactRoundTrips) {
  auto l = listen(srv, "tcp:srv:7000");
  runtime::spawn(srv, echo_server(l.get(), &srv, 1));
  Outcome<StreamResult> c;
  runtime::spawn(cli, connect_to(&cli.network(), &cli.clock(), Endpoint::tcp("srv", 7000), 1s, &c));
  ASSERT_TRUE(world.run_until_idle().ok());
  ASSERT_TRUE(c.value->ok());
  EXPECT_EQ(c.at, 200 * kUs);  // one round trip at the default 100 us latency
  StreamPtr s = std::move(*c.value).value();
  EXPECT_EQ(s->peer_endpoint(), Endpoint::tcp("srv", 7000));
  EXPECT_EQ(s->local_endpoint(), Endpoint::tcp("cli", 49152));

  Outcome<Status> w;
  Outcome<Result<Bytes>> r;
  runtime::spawn(cli, write_bytes(s, &cli.clock(), Bytes{'h', 'e', 'l', 'l', 'o'}, &w));
  runtime::spawn(cli, read_some_into(s, &cli.clock(), 100, {}, &r));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_TRUE(w.value->ok());
  ASSERT_TRUE(r.value->ok());
  EXPECT_EQ(**r.value, (Bytes{'h', 'e', 'l', 'l', 'o'}));
  EXPECT_EQ(r.at, 400 * kUs);
  EXPECT_EQ(count(TraceKind::kDeliver), 2u);
}

TEST_F(SimNetworkTest, VsockEndpointsConnectByCid) {
  auto l = listen(srv, "vsock:4294967295:5005");  // VMADDR_CID_ANY binds the node's own cid
  EXPECT_EQ(l->local_endpoint(), Endpoint::vsock(16, 5005));
  auto [c, s] = pair_up(*l, "vsock:16:5005");
  EXPECT_EQ(c->local_endpoint(), Endpoint::vsock(17, 49152));
  EXPECT_EQ(s->peer_endpoint(), Endpoint::vsock(17, 49152));
}

TEST_F(SimNetworkTest, ListenErrorsAndEphemeralPorts) {
  auto l = listen(srv, "tcp:srv:0");
  EXPECT_EQ(l->local_endpoint(), Endpoint::tcp("srv", 49152));
  auto l2 = listen(srv, "tcp:0.0.0.0:0");
  EXPECT_EQ(l2->local_endpoint(), Endpoint::tcp("srv", 49153));
  EXPECT_EQ(srv.network().listen(Endpoint::tcp("srv", 49152)).code(),
            ErrorCode::TRANSPORT_ADDRESS_IN_USE);
  EXPECT_EQ(srv.network().listen(Endpoint::tcp("cli", 80)).code(), ErrorCode::INVALID_ARGUMENT);
  SimNode& plain = world.add_node("plain");
  EXPECT_EQ(plain.network().listen(Endpoint::vsock(1, 80)).code(), ErrorCode::NOT_SUPPORTED);
  l->close();
  EXPECT_TRUE(srv.network().listen(Endpoint::tcp("srv", 49152)).ok());  // free again
}

TEST_F(SimNetworkTest, ConnectWithNothingListeningIsRefusedAfterOneRoundTrip) {
  Outcome<StreamResult> c;
  runtime::spawn(cli, connect_to(&cli.network(), &cli.clock(), Endpoint::tcp("srv", 7001), 1s, &c));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(c.value->code(), ErrorCode::TRANSPORT_REFUSED);
  EXPECT_EQ(c.at, 200 * kUs);
}

TEST_F(SimNetworkTest, RefuseHookRefusesAListeningEndpointUntilLifted) {
  auto l = listen(srv, "tcp:srv:7000");
  world.network().refuse(Endpoint::tcp("srv", 7000));
  Outcome<StreamResult> c1, c2;
  runtime::spawn(cli, connect_to(&cli.network(), &cli.clock(), Endpoint::tcp("srv", 7000), 1s, &c1));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(c1.value->code(), ErrorCode::TRANSPORT_REFUSED);
  world.network().refuse(Endpoint::tcp("srv", 7000), false);
  runtime::spawn(cli, connect_to(&cli.network(), &cli.clock(), Endpoint::tcp("srv", 7000), 1s, &c2));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_TRUE(c2.value->ok());
  EXPECT_EQ(count(TraceKind::kFault), 2u);
}

TEST_F(SimNetworkTest, UnknownHostOrCidIsUnreachable) {
  Outcome<StreamResult> a, b, c;
  runtime::spawn(cli, connect_to(&cli.network(), &cli.clock(), Endpoint::tcp("nohost", 1), 1s, &a));
  runtime::spawn(cli, connect_to(&cli.network(), &cli.clock(), Endpoint::vsock(99, 1), 1s, &b));
  SimNode& plain = world.add_node("plain");  // no cid: cannot use vsock at all
  runtime::spawn(plain, connect_to(&plain.network(), &plain.clock(), Endpoint::vsock(16, 1), 1s, &c));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(a.value->code(), ErrorCode::TRANSPORT_UNREACHABLE);
  EXPECT_EQ(b.value->code(), ErrorCode::TRANSPORT_UNREACHABLE);
  EXPECT_EQ(c.value->code(), ErrorCode::TRANSPORT_UNREACHABLE);
  EXPECT_EQ(a.at, 0);
}

TEST_F(SimNetworkTest, ConnectTimesOutUnderADroppingPartition) {
  auto l = listen(srv, "tcp:srv:7000");
  world.network().partition(cli, srv, PartitionMode::kDrop);
  Outcome<StreamResult> c;
  runtime::spawn(cli, connect_to(&cli.network(), &cli.clock(), Endpoint::tcp("srv", 7000), 250ms, &c));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(c.value->code(), ErrorCode::TRANSPORT_TIMEOUT);
  EXPECT_EQ(c.at, 250 * kMs);
}

TEST_F(SimNetworkTest, LateSynAckAfterTimeoutResetsTheServerSide) {
  LinkConfig slow;
  slow.latency = LatencyDistribution::fixed(10ms);
  world.network().set_link(cli, srv, slow);
  auto l = listen(srv, "tcp:srv:7000");
  Outcome<StreamResult> c, a;
  runtime::spawn(cli, connect_to(&cli.network(), &cli.clock(), Endpoint::tcp("srv", 7000), 15ms, &c));
  runtime::spawn(srv, accept_one(l.get(), &srv.clock(), &a));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(c.value->code(), ErrorCode::TRANSPORT_TIMEOUT);
  EXPECT_EQ(c.at, 15 * kMs);
  ASSERT_TRUE(a.value->ok());  // accepted at 10 ms, then the client was gone
  Outcome<Result<Bytes>> r;
  runtime::spawn(srv, read_some_into(**a.value, &srv.clock(), 10, {}, &r));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(r.value->code(), ErrorCode::TRANSPORT_RESET);
}

TEST_F(SimNetworkTest, ReadTimeoutLeavesTheStreamUsable) {
  auto l = listen(srv, "tcp:srv:7000");
  auto [c, s] = pair_up(*l, "tcp:srv:7000");
  Outcome<Result<Bytes>> r1, r2;
  runtime::spawn(cli, read_some_into(c, &cli.clock(), 10, 5ms, &r1));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(r1.value->code(), ErrorCode::TRANSPORT_TIMEOUT);
  EXPECT_EQ(r1.at, 5200 * kUs);
  Outcome<Status> w;
  runtime::spawn(srv, write_bytes(s, &srv.clock(), Bytes{1, 2, 3}, &w));
  runtime::spawn(cli, read_some_into(c, &cli.clock(), 10, 5ms, &r2));
  ASSERT_TRUE(world.run_until_idle().ok());
  ASSERT_TRUE(r2.value->ok());
  EXPECT_EQ(**r2.value, (Bytes{1, 2, 3}));
  EXPECT_EQ(r2.at, 5300 * kUs);
}

TEST_F(SimNetworkTest, PeerCloseDeliversDataThenEof) {
  auto l = listen(srv, "tcp:srv:7000");
  auto [c, s] = pair_up(*l, "tcp:srv:7000");
  Outcome<Status> w;
  runtime::spawn(srv, write_bytes(s, &srv.clock(), Bytes{9, 9}, &w));
  ASSERT_TRUE(world.run_until_idle().ok());
  s->close();
  s->close();  // idempotent
  Drain d;
  runtime::spawn(cli, drain(c, &cli.clock(), &d));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(d.data, (Bytes{9, 9}));
  ASSERT_TRUE(d.end.has_value());
  EXPECT_EQ(d.end->code(), ErrorCode::TRANSPORT_CLOSED);
  // Reading or writing a locally closed stream is TRANSPORT_CLOSED.
  Outcome<Status> w2;
  runtime::spawn(srv, write_bytes(s, &srv.clock(), Bytes{1}, &w2));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(w2.value->code(), ErrorCode::TRANSPORT_CLOSED);
}

TEST_F(SimNetworkTest, ResetFaultIsSeenOnBothEnds) {
  auto l = listen(srv, "tcp:srv:7000");
  auto [c, s] = pair_up(*l, "tcp:srv:7000");
  Outcome<Result<Bytes>> rc, rs;
  runtime::spawn(cli, read_some_into(c, &cli.clock(), 10, {}, &rc));
  runtime::spawn(srv, read_some_into(s, &srv.clock(), 10, {}, &rs));
  ASSERT_TRUE(world.run_for(1ms).ok());
  EXPECT_EQ(world.network().connections().size(), 1u);
  EXPECT_EQ(world.network().reset_between(srv, cli), 1);
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(rc.value->code(), ErrorCode::TRANSPORT_RESET);
  EXPECT_EQ(rs.value->code(), ErrorCode::TRANSPORT_RESET);
  EXPECT_EQ(rc.at, 1200 * kUs);
  Outcome<Status> w;
  runtime::spawn(cli, write_bytes(c, &cli.clock(), Bytes{1}, &w));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(w.value->code(), ErrorCode::TRANSPORT_RESET);
  EXPECT_TRUE(world.network().connections().empty());
}

TEST_F(SimNetworkTest, WritingToAClosedPeerEndsInReset) {
  auto l = listen(srv, "tcp:srv:7000");
  auto [c, s] = pair_up(*l, "tcp:srv:7000");
  s->close();
  ASSERT_TRUE(world.run_until_idle().ok());
  Outcome<Status> w1;
  runtime::spawn(cli, write_bytes(c, &cli.clock(), Bytes{1, 2}, &w1));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_TRUE(w1.value->ok());  // queued fine; the peer answers with a reset
  Outcome<Status> w2;
  runtime::spawn(cli, write_bytes(c, &cli.clock(), Bytes{3}, &w2));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(w2.value->code(), ErrorCode::TRANSPORT_RESET);
}

void close_stream(runtime::Stream* s) { s->close(); }

TEST_F(SimNetworkTest, LocalCloseCancelsAPendingReadAndThePeerSeesEof) {
  auto l = listen(srv, "tcp:srv:7000");
  auto [c, s] = pair_up(*l, "tcp:srv:7000");
  Outcome<Result<Bytes>> r;
  Drain peer;
  runtime::spawn(cli, read_some_into(c, &cli.clock(), 10, {}, &r));
  runtime::spawn(srv, drain(s, &srv.clock(), &peer));
  runtime::Stream* raw = c.get();
  cli.clock().start_timer(1ms, [raw] { close_stream(raw); });
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(r.value->code(), ErrorCode::CANCELLED);
  EXPECT_EQ(r.at, 1200 * kUs);
  ASSERT_TRUE(peer.end.has_value());
  EXPECT_EQ(peer.end->code(), ErrorCode::TRANSPORT_CLOSED);
}

TEST_F(SimNetworkTest, DroppingTheLastReferenceWhileReadingIsSafe) {
  auto l = listen(srv, "tcp:srv:7000");
  auto [c, s] = pair_up(*l, "tcp:srv:7000");
  Outcome<Result<Bytes>> r;
  // The read task holds its own reference: hand it over, then drop ours mid-read.
  runtime::spawn(cli, read_some_into(c, &cli.clock(), 10, 1s, &r));
  ASSERT_TRUE(world.run_for(1ms).ok());
  c.reset();
  s.reset();  // the server side closes: the client's pending read sees EOF
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(r.value->code(), ErrorCode::TRANSPORT_CLOSED);
}

TEST_F(SimNetworkTest, ListenerCloseCancelsAcceptAndResetsUnacceptedConnections) {
  auto l = listen(srv, "tcp:srv:7000");
  Outcome<StreamResult> a;
  runtime::spawn(srv, accept_one(l.get(), &srv.clock(), &a));
  ASSERT_TRUE(world.run_for(1ms).ok());
  l->close();
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(a.value->code(), ErrorCode::CANCELLED);

  auto l2 = listen(srv, "tcp:srv:7001");
  Outcome<StreamResult> c;
  runtime::spawn(cli, connect_to(&cli.network(), &cli.clock(), Endpoint::tcp("srv", 7001), 1s, &c));
  ASSERT_TRUE(world.run_until_idle().ok());
  ASSERT_TRUE(c.value->ok());
  l2.reset();  // destroying closes: the connection nobody accepted is reset
  Outcome<Result<Bytes>> r;
  runtime::spawn(cli, read_some_into(**c.value, &cli.clock(), 10, {}, &r));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(r.value->code(), ErrorCode::TRANSPORT_RESET);
}

TEST_F(SimNetworkTest, LargeWriteArrivesIntactInOrderInSeveralSegments) {
  auto l = listen(srv, "tcp:srv:7000");
  auto [c, s] = pair_up(*l, "tcp:srv:7000");
  Bytes big = world.root_random().bytes(1 << 20);
  Outcome<Status> w;
  Drain d;
  runtime::spawn(cli, write_bytes(c, &cli.clock(), big, &w));
  runtime::spawn(srv, drain(s, &srv.clock(), &d));
  ASSERT_TRUE(world.run_until_idle().ok());
  c->close();
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_TRUE(w.value->ok());
  EXPECT_EQ(d.data, big);
  EXPECT_EQ(count(TraceKind::kDeliver), 64u);  // 1 MiB / 16 KiB default segments
  EXPECT_EQ(d.end->code(), ErrorCode::TRANSPORT_CLOSED);
}

TEST_F(SimNetworkTest, BandwidthSerializesWritesFifoInVirtualTime) {
  LinkConfig cfg;
  cfg.latency = LatencyDistribution::fixed(1ms);
  cfg.bandwidth_bytes_per_s = 1'000'000;  // 1 byte per microsecond
  cfg.segment_size = 1000;
  world.network().set_link(cli, srv, cfg);
  auto l = listen(srv, "tcp:srv:7000");
  auto [c, s] = pair_up(*l, "tcp:srv:7000");
  const int64_t t0 = 2 * kMs;  // connected after one 2 ms round trip
  EXPECT_EQ(world.now().ns, t0);
  Outcome<Status> w1;
  Drain d;
  runtime::spawn(cli, write_bytes(c, &cli.clock(), Bytes(10'000, 7), &w1));
  runtime::spawn(srv, drain(s, &srv.clock(), &d));
  ASSERT_TRUE(world.run_until_idle().ok());
  // 10 segments of 1000 bytes, each 1 ms on the wire, then 1 ms of latency.
  EXPECT_EQ(w1.at, t0 + 10 * kMs);
  ASSERT_EQ(d.chunk_times.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(d.chunk_times[size_t(i)], t0 + (i + 2) * kMs);

  // Two writes from two connections on the same link share its FIFO queue.
  auto l2 = listen(srv, "tcp:srv:7001");
  auto [c2, s2] = pair_up(*l2, "tcp:srv:7001");
  const int64_t t1 = world.now().ns;
  Outcome<Status> wa, wb;
  runtime::spawn(cli, write_bytes(c, &cli.clock(), Bytes(3000, 1), &wa));
  runtime::spawn(cli, write_bytes(c2, &cli.clock(), Bytes(500, 2), &wb));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(wa.at, t1 + 3 * kMs);
  EXPECT_EQ(wb.at, t1 + 3500 * kUs);  // waited for the 3000 bytes ahead of it
}

TEST_F(SimNetworkTest, LatencyDistributionIsPiecewiseLinearAndBounded) {
  auto d = LatencyDistribution::quantiles(100us, 200us, 1ms, 5ms);
  ASSERT_TRUE(d.valid());
  EXPECT_EQ(d.at_ppm(0), 100 * kUs);
  EXPECT_EQ(d.at_ppm(250'000), 150 * kUs);
  EXPECT_EQ(d.at_ppm(500'000), 200 * kUs);
  EXPECT_EQ(d.at_ppm(990'000), 1 * kMs);
  EXPECT_EQ(d.at_ppm(995'000), 3 * kMs);
  EXPECT_EQ(d.at_ppm(1'000'000), 5 * kMs);
  EXPECT_FALSE(LatencyDistribution::quantiles(2ms, 1ms, 3ms, 4ms).valid());
  SimRandom r(3);
  int below_median = 0;
  for (int i = 0; i < 10000; ++i) {
    int64_t v = d.sample(r).count();
    ASSERT_GE(v, 100 * kUs);
    ASSERT_LE(v, 5 * kMs);
    below_median += v <= 200 * kUs ? 1 : 0;
  }
  EXPECT_NEAR(below_median, 5000, 300);
}

TEST_F(SimNetworkTest, RandomLatenciesStayInBoundsAndKeepOrder) {
  LinkConfig cfg;
  cfg.latency = LatencyDistribution::quantiles(50us, 100us, 900us, 2ms);
  cfg.segment_size = 100;
  world.network().set_link(cli, srv, cfg);
  auto l = listen(srv, "tcp:srv:7000");
  auto [c, s] = pair_up(*l, "tcp:srv:7000");
  int64_t t0 = world.now().ns;
  Bytes data = world.root_random().bytes(20'000);
  Outcome<Status> w;
  Drain d;
  runtime::spawn(cli, write_bytes(c, &cli.clock(), data, &w));
  runtime::spawn(srv, drain(s, &srv.clock(), &d));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(d.data, data);  // in order, whatever each segment's latency
  ASSERT_FALSE(d.chunk_times.empty());
  for (int64_t t : d.chunk_times) {
    EXPECT_GE(t - t0, 50 * kUs);
    EXPECT_LE(t - t0, 2 * kMs);
  }
}

TEST_F(SimNetworkTest, HoldingPartitionDeliversEverythingInOrderAfterHeal) {
  auto l = listen(srv, "tcp:srv:7000");
  auto [c, s] = pair_up(*l, "tcp:srv:7000");
  world.network().partition(cli, srv, PartitionMode::kHold);
  Outcome<Status> w1, w2;
  Drain d;
  runtime::spawn(srv, drain(s, &srv.clock(), &d));
  runtime::spawn(cli, write_bytes(c, &cli.clock(), Bytes{1, 2, 3}, &w1));
  ASSERT_TRUE(world.run_for(10ms).ok());
  EXPECT_TRUE(d.data.empty());
  world.network().heal(cli, srv);
  runtime::spawn(cli, write_bytes(c, &cli.clock(), Bytes{4, 5}, &w2));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(d.data, (Bytes{1, 2, 3, 4, 5}));
  EXPECT_EQ(d.chunk_times.front(), 10 * kMs + 300 * kUs);  // heal time + latency
}

class FlipFirstByte final : public LinkFilter {
 public:
  Verdict on_segment(const SegmentInfo& info, Bytes& data) override {
    if (info.kind == SegmentKind::kData && !data.empty()) {
      data[0] ^= 0xff;
      ++seen;
    }
    return {};
  }
  int seen = 0;
};

class DropData final : public LinkFilter {
 public:
  Verdict on_segment(const SegmentInfo& info, Bytes&) override {
    return {.drop = info.kind == SegmentKind::kData};
  }
};

TEST_F(SimNetworkTest, LinkFiltersCanCorruptAndDropSegments) {
  auto l = listen(srv, "tcp:srv:7000");
  auto [c, s] = pair_up(*l, "tcp:srv:7000");
  FlipFirstByte flip;
  world.network().add_filter(cli, srv, &flip);
  Outcome<Status> w;
  Outcome<Result<Bytes>> r;
  runtime::spawn(cli, write_bytes(c, &cli.clock(), Bytes{0x01, 0x02}, &w));
  runtime::spawn(srv, read_some_into(s, &srv.clock(), 10, {}, &r));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(**r.value, (Bytes{0xfe, 0x02}));
  EXPECT_EQ(flip.seen, 1);
  world.network().remove_filter(&flip);

  DropData drop;
  world.network().add_global_filter(&drop);
  Outcome<Status> w2;
  Outcome<Result<Bytes>> r2;
  runtime::spawn(cli, write_bytes(c, &cli.clock(), Bytes{7}, &w2));
  runtime::spawn(srv, read_some_into(s, &srv.clock(), 10, 50ms, &r2));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(r2.value->code(), ErrorCode::TRANSPORT_TIMEOUT);
  EXPECT_EQ(count(TraceKind::kFault), 1u);
  world.network().remove_filter(&drop);
}

class CountingNetwork final : public NetworkWrapper {
 public:
  using NetworkWrapper::NetworkWrapper;
  runtime::Task<StreamResult> connect(const Endpoint& ep, Duration timeout) override {
    ++connects;
    return NetworkWrapper::connect(ep, timeout);
  }
  int connects = 0;
};

TEST_F(SimNetworkTest, NetworkWrapperSeesTheNodesTraffic) {
  auto owned = std::make_unique<CountingNetwork>(cli.network());
  CountingNetwork* counter = owned.get();
  cli.install_network(std::move(owned));
  EXPECT_EQ(cli.env().network, counter);
  auto l = listen(srv, "tcp:srv:7000");
  auto [c, s] = pair_up(*l, "tcp:srv:7000");
  EXPECT_EQ(counter->connects, 1);
}

TEST_F(SimNetworkTest, LoopbackNamesReachTheNodeItself) {
  auto l = listen(srv, "tcp:srv:7000");
  Outcome<StreamResult> c, a;
  runtime::spawn(srv, connect_to(&srv.network(), &srv.clock(), Endpoint::tcp("localhost", 7000), 1s, &c));
  runtime::spawn(srv, accept_one(l.get(), &srv.clock(), &a));
  ASSERT_TRUE(world.run_until_idle().ok());
  ASSERT_TRUE(c.value->ok());
  EXPECT_EQ((**c.value)->peer_endpoint(), Endpoint::tcp("srv", 7000));
}

}  // namespace
}  // namespace cpipe::sim

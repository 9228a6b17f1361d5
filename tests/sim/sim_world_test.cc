// SimWorld: (time, sequence) ordering, timers and cancellation, per-node clocks, run limits,
// SimCompute's virtual cost and queueing, and structured events stamped into the trace.
#include "backends/simulated/sim_world.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/runtime/executor.h"

namespace cpipe::sim {
namespace {

using runtime::Duration;
using runtime::Task;
using runtime::MonoTime;
using namespace std::chrono_literals;

TEST(SimWorldTest, SameTimeEventsRunFifoBySequence) {
  SimWorld world(1);
  std::vector<int> order;
  world.schedule_at(MonoTime{100}, [&] { order.push_back(3); });
  world.post([&] { order.push_back(1); });
  world.schedule_at(MonoTime{100}, [&] { order.push_back(4); });
  world.post([&] {
    order.push_back(2);
    world.post([&] { order.push_back(22); });  // posted later: runs after the earlier post
  });
  world.schedule_at(MonoTime{50}, [&] { order.push_back(25); });
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 22, 25, 3, 4}));
  EXPECT_EQ(world.now(), MonoTime{100});
  EXPECT_EQ(world.events_run(), 6u);
}

TEST(SimWorldTest, TimersFireAtTheirVirtualTimeAndCancel) {
  SimWorld world(1);
  SimNode& n = world.add_node("a");
  std::vector<std::pair<int, int64_t>> fired;
  runtime::Clock& clock = n.clock();
  clock.start_timer(10ms, [&] { fired.push_back({1, clock.now().ns}); });
  runtime::TimerId t2 = clock.start_timer(5ms, [&] { fired.push_back({2, clock.now().ns}); });
  clock.start_timer(0ms, [&] { fired.push_back({3, clock.now().ns}); });
  clock.start_timer(-5ms, [&] { fired.push_back({4, clock.now().ns}); });  // clamps to now
  EXPECT_TRUE(clock.cancel_timer(t2));
  EXPECT_FALSE(clock.cancel_timer(t2));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(fired, (std::vector<std::pair<int, int64_t>>{{3, 0}, {4, 0}, {1, 10'000'000}}));
  runtime::TimerId done = clock.start_timer(1ms, [] {});
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_FALSE(clock.cancel_timer(done));  // already fired
}

TEST(SimWorldTest, ScopedTimerCancelsOnDestruction) {
  SimWorld world(1);
  SimNode& n = world.add_node("a");
  bool fired = false;
  {
    runtime::ScopedTimer t(n.clock(), 1s, [&] { fired = true; });
  }
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_FALSE(fired);
  EXPECT_EQ(world.now(), MonoTime{0});
}

Task<void> sleeper(runtime::Clock* clock, std::vector<int64_t>* wakes) {
  for (int i = 0; i < 3; ++i) {
    co_await runtime::sleep_for(*clock, 250ms);
    wakes->push_back(clock->now().ns);
  }
}

TEST(SimWorldTest, CoroutinesSleepInVirtualTime) {
  SimWorld world(1);
  SimNode& n = world.add_node("a");
  std::vector<int64_t> wakes;
  runtime::spawn(n, sleeper(&n.clock(), &wakes));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(wakes, (std::vector<int64_t>{250'000'000, 500'000'000, 750'000'000}));
}

TEST(SimWorldTest, RunUntilStopsAtTheBoundaryAndAdvancesTheClock) {
  SimWorld world(1);
  int ran = 0;
  world.schedule_at(MonoTime{1000}, [&] { ++ran; });
  world.schedule_at(MonoTime{2000}, [&] { ++ran; });
  world.schedule_at(MonoTime{2001}, [&] { ++ran; });
  ASSERT_TRUE(world.run_until(MonoTime{2000}).ok());
  EXPECT_EQ(ran, 2);
  EXPECT_EQ(world.now(), MonoTime{2000});
  ASSERT_TRUE(world.run_for(Duration(5000)).ok());
  EXPECT_EQ(ran, 3);
  EXPECT_EQ(world.now(), MonoTime{7000});
}

TEST(SimWorldTest, WallClockHasEpochOffsetAndSkewPerNode) {
  SimWorld world(1);
  SimNode& a = world.add_node("a");
  SimNode& b = world.add_node("b", {.wall_offset = -30s});
  SimNode& c = world.add_node("c", {.wall_skew_ppm = 100});  // runs 0.01% fast
  const int64_t epoch = 1767225600LL * 1'000'000'000;  // 2026-01-01T00:00:00Z
  EXPECT_EQ(a.clock().wall_now().unix_ns, epoch);
  ASSERT_TRUE(world.run_for(10s).ok());
  EXPECT_EQ(a.clock().wall_now().unix_ns, epoch + 10'000'000'000);
  EXPECT_EQ(b.clock().wall_now().unix_ns, epoch + 10'000'000'000 - 30'000'000'000);
  EXPECT_EQ(c.clock().wall_now().unix_ns, epoch + 10'000'000'000 + 1'000'000);
  // Monotonic time is shared and unskewed.
  EXPECT_EQ(b.clock().now(), a.clock().now());
  // The host jumps a's wall clock (a fault): only a's wall time moves.
  a.set_wall_offset(3600s);
  EXPECT_EQ(a.clock().wall_now().unix_ns, epoch + 10'000'000'000 + 3'600'000'000'000);
  EXPECT_EQ(a.clock().now(), MonoTime{10'000'000'000});
}

void rearm(runtime::Clock* clock) {
  clock->start_timer(0ms, [clock] { rearm(clock); });
}

TEST(SimWorldTest, EventLimitEndsALivelock) {
  SimWorld world(WorldOptions{.seed = 1, .max_events = 1000});
  SimNode& n = world.add_node("a");
  rearm(&n.clock());  // re-arms itself at the same instant forever
  Status st = world.run_until_idle();
  EXPECT_EQ(st.code(), ErrorCode::SIM_LIMIT_EXCEEDED);
  EXPECT_EQ(world.events_run(), 1000u);
}

void periodic(runtime::Clock* clock, int* ticks) {
  ++*ticks;
  clock->start_timer(1s, [clock, ticks] { periodic(clock, ticks); });
}

TEST(SimWorldTest, TimeLimitEndsAPeriodicTimerUnderRunUntilIdle) {
  SimWorld world(WorldOptions{.seed = 1, .max_time = 60s});
  SimNode& n = world.add_node("a");
  int ticks = 0;
  periodic(&n.clock(), &ticks);
  EXPECT_EQ(world.run_until_idle().code(), ErrorCode::SIM_LIMIT_EXCEEDED);
  EXPECT_EQ(ticks, 61);  // t = 0..60 s ran; the tick at 61 s is past the limit
  EXPECT_EQ(world.run_until(MonoTime{61'000'000'000}).code(), ErrorCode::SIM_LIMIT_EXCEEDED);
}

TEST(SimWorldTest, ComputeRunsInlineAndCompletesAfterItsCostOnOneCore) {
  SimWorld world(1);
  SimNode& n = world.add_node("a");
  std::vector<std::string> log;
  auto at = [&](std::string what) { log.push_back(what + "@" + std::to_string(world.now().ns)); };
  n.compute().submit([&] { at("work1"); }, {.simulated = 10ms}, [&] { at("done1"); });
  n.compute().submit([&] { at("work2"); }, {.simulated = 10ms}, [&] { at("done2"); });
  n.compute().submit([&] { at("work3"); }, {}, [&] { at("done3"); });
  EXPECT_EQ(log, (std::vector<std::string>{"work1@0", "work2@0", "work3@0"}));  // inline
  ASSERT_TRUE(world.run_until_idle().ok());
  // One core: jobs queue FIFO, the zero-cost one waits for the core too.
  EXPECT_EQ(log, (std::vector<std::string>{"work1@0", "work2@0", "work3@0", "done1@10000000",
                                           "done2@20000000", "done3@20000000"}));
  EXPECT_EQ(n.compute().threads(), 1);
}

TEST(SimWorldTest, ComputeWithTwoCoresRunsTwoJobsAtOnce) {
  SimWorld world(1);
  SimNode& n = world.add_node("a", {.compute_threads = 2});
  std::vector<int64_t> done;
  for (int i = 0; i < 3; ++i) {
    n.compute().submit({}, {.simulated = 5ms}, [&] { done.push_back(world.now().ns); });
  }
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(done, (std::vector<int64_t>{5'000'000, 5'000'000, 10'000'000}));
}

Task<void> compute_job(runtime::Env env, int64_t* finished) {
  int x = 0;
  co_await runtime::run_compute(*env.compute, *env.executor, [&x] { x = 42; }, {.simulated = 3ms});
  *finished = x == 42 ? env.clock->now().ns : -1;
}

TEST(SimWorldTest, RunComputeThroughEnvAdvancesVirtualTime) {
  SimWorld world(1);
  SimNode& n = world.add_node("a");
  int64_t finished = 0;
  runtime::spawn(n, compute_job(n.env(), &finished));
  ASSERT_TRUE(world.run_until_idle().ok());
  EXPECT_EQ(finished, 3'000'000);
}

TEST(SimWorldTest, NodeEventsAreStampedKeptAndHashed) {
  SimWorld world(1);
  world.set_keep_events(true);
  std::vector<std::string> printed;
  world.set_event_printer([&](const TimedEvent& e) {
    printed.push_back(std::to_string(e.time.ns) + " " + e.node + " " + e.event.to_text());
  });
  SimNode& n = world.add_node("stage0");
  std::string before = world.trace_hash();
  ASSERT_TRUE(world.run_for(5ms).ok());
  n.env().logger("channel").info("handshake_complete", {{"peer", "stage1"}});
  EXPECT_NE(world.trace_hash(), before);
  ASSERT_EQ(world.kept_events().size(), 1u);
  EXPECT_EQ(world.kept_events()[0].time, MonoTime{5'000'000});
  EXPECT_EQ(world.kept_events()[0].node, "stage0");
  EXPECT_EQ(world.kept_events()[0].event.name, "handshake_complete");
  ASSERT_EQ(printed.size(), 1u);
  EXPECT_EQ(printed[0], "5000000 stage0 info channel handshake_complete peer=stage1");
}

TEST(SimWorldTest, TraceRecordsTimersAndCanBeKept) {
  SimWorld world(1);
  world.trace().set_keep_records(true);
  std::vector<std::string> lines;
  world.trace().set_callback([&](const TraceRecord& r) { lines.push_back(r.to_json()); });
  SimNode& n = world.add_node("a");
  n.clock().start_timer(2ms, [] {});
  ASSERT_TRUE(world.run_until_idle().ok());
  ASSERT_EQ(world.trace().records().size(), 1u);
  EXPECT_EQ(world.trace().records()[0].kind, TraceKind::kTimer);
  EXPECT_EQ(world.trace().records()[0].time_ns, 2'000'000);
  EXPECT_EQ(world.trace().records()[0].from, "a");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"kind\":\"timer\""), std::string::npos);
}

}  // namespace
}  // namespace cpipe::sim

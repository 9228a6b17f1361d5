// EventLoop: timer order and exact cancellation, thread-safe post, block_on, run/stop.
#include "backends/posix/event_loop.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "core/runtime/oneshot.h"

namespace cpipe::posix {
namespace {

using namespace std::chrono_literals;
using runtime::Task;

TEST(EventLoopTest, TimersFireInDeadlineOrder) {
  EventLoop loop;
  std::vector<int> order;
  loop.start_timer(30ms, [&order] { order.push_back(3); });
  loop.start_timer(10ms, [&order] { order.push_back(1); });
  loop.start_timer(20ms, [&order] { order.push_back(2); });
  loop.start_timer(0ms, [&order] { order.push_back(0); });
  EXPECT_TRUE(loop.run_until([&order] { return order.size() == 4; }));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(EventLoopTest, TimersWithTheSameDelayFireInStartOrder) {
  EventLoop loop;
  std::vector<int> order;
  for (int i = 0; i < 20; ++i) loop.start_timer(2ms, [&order, i] { order.push_back(i); });
  EXPECT_TRUE(loop.run_until([&order] { return order.size() == 20; }));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(order[size_t(i)], i);
}

TEST(EventLoopTest, CancelledTimerNeverFires) {
  EventLoop loop;
  std::vector<int> order;
  runtime::TimerId a = loop.start_timer(5ms, [&order] { order.push_back(1); });
  runtime::TimerId b = loop.start_timer(10ms, [&order] { order.push_back(2); });
  loop.start_timer(20ms, [&order] { order.push_back(3); });
  EXPECT_TRUE(loop.cancel_timer(b));
  EXPECT_FALSE(loop.cancel_timer(b)) << "second cancel of the same timer";
  EXPECT_TRUE(loop.run_until([&order] { return order.size() == 2; }));
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
  EXPECT_FALSE(loop.cancel_timer(a)) << "cancel after the timer fired";
  EXPECT_FALSE(loop.cancel_timer(12345));
}

TEST(EventLoopTest, CancelIsExactEvenWhenTheTimerIsAlreadyDue) {
  EventLoop loop;
  bool second_fired = false;
  bool cancelled = false;
  runtime::TimerId second = 0;
  // Both are due in the same wake-up; the first cancels the second before it runs.
  loop.start_timer(3ms, [&] { cancelled = loop.cancel_timer(second); });
  second = loop.start_timer(3ms, [&second_fired] { second_fired = true; });
  loop.start_timer(10ms, [] {});
  EXPECT_FALSE(loop.run_until([] { return false; }));  // runs until nothing is pending
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(second_fired);
}

TEST(EventLoopTest, CancellingEveryTimerLeavesTheLoopIdle) {
  EventLoop loop;
  runtime::TimerId id = loop.start_timer(std::chrono::hours(1), [] {});
  EXPECT_TRUE(loop.cancel_timer(id));
  // Nothing pending: run_until reports that the predicate can never become true.
  EXPECT_FALSE(loop.run_until([] { return false; }));
}

TEST(EventLoopTest, TimerNeverFiresBeforeItsDeadline) {
  EventLoop loop;
  runtime::MonoTime start = loop.now();
  runtime::MonoTime fired;
  loop.start_timer(15ms, [&] { fired = loop.now(); });
  EXPECT_FALSE(loop.run_until([] { return false; }));
  EXPECT_GE(fired - start, runtime::Duration(15ms));
}

TEST(EventLoopTest, PostFromAnotherThreadRunsOnTheLoopThreadInOrder) {
  EventLoop loop;
  std::vector<int> seen;
  bool all_on_loop_thread = true;
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::thread producer([&loop, &seen, &all_on_loop_thread, loop_thread,
                        hold = loop.keep_alive()]() mutable {
    for (int i = 0; i < 1000; ++i) {
      loop.post([&seen, &all_on_loop_thread, loop_thread, i] {
        if (std::this_thread::get_id() != loop_thread) all_on_loop_thread = false;
        seen.push_back(i);
      });
    }
    hold.reset();
  });
  bool done = loop.run_until([&seen] { return seen.size() == 1000; });
  producer.join();
  ASSERT_TRUE(done);
  EXPECT_TRUE(all_on_loop_thread);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(seen[size_t(i)], i);
}

TEST(EventLoopTest, PostNeverRunsInline) {
  EventLoop loop;
  bool ran = false;
  loop.post([&ran] { ran = true; });
  EXPECT_FALSE(ran);
  EXPECT_TRUE(loop.run_until([&ran] { return ran; }));
}

Task<int> add_after_sleep(EventLoop* loop, int a, int b) {
  co_await runtime::sleep_for(*loop, 2ms);
  co_return a + b;
}

Task<int> sum_chain(EventLoop* loop) {
  int x = co_await add_after_sleep(loop, 1, 2);
  int y = co_await add_after_sleep(loop, x, 10);
  co_return y;
}

Task<void> set_after_yield(EventLoop* loop, bool* flag) {
  co_await runtime::yield_now(*loop);
  *flag = true;
}

TEST(EventLoopTest, BlockOnReturnsTheTaskValue) {
  EventLoop loop;
  EXPECT_EQ(loop.block_on(sum_chain(&loop)), 13);
  bool flag = false;
  loop.block_on(set_after_yield(&loop, &flag));
  EXPECT_TRUE(flag);
  // The loop is reusable after block_on.
  EXPECT_EQ(loop.block_on(add_after_sleep(&loop, 20, 22)), 42);
}

Task<int> wait_forever(runtime::Oneshot<int> never) { co_return co_await never; }

TEST(EventLoopDeathTest, BlockOnATaskNobodyCompletesAbortsInsteadOfHanging) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        EventLoop loop;
        runtime::Oneshot<int> never(loop);
        (void)loop.block_on(wait_forever(never));
      },
      "ran out of work");
}

TEST(EventLoopTest, StopEndsRun) {
  EventLoop loop;
  int ticks = 0;
  loop.start_timer(1ms, [&] {
    ++ticks;
    loop.stop();
  });
  loop.run();  // would block forever without stop(): run() keeps the loop alive
  EXPECT_EQ(ticks, 1);
  // stop() from another thread.
  std::thread stopper([&loop] { loop.post([&loop] { loop.stop(); }); });
  loop.run();
  stopper.join();
}

TEST(EventLoopTest, ClocksAreSane) {
  EventLoop loop;
  runtime::MonoTime a = loop.now();
  runtime::MonoTime b = loop.now();
  EXPECT_LE(a, b);
  // After 2020-01-01 and before 2100-01-01.
  EXPECT_GT(loop.wall_now().unix_ms(), 1577836800000);
  EXPECT_LT(loop.wall_now().unix_ms(), 4102444800000);
}

}  // namespace
}  // namespace cpipe::posix

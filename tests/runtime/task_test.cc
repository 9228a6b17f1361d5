// Task<T>, spawn and Oneshot on a minimal FIFO executor: ordering, values, deep chains.
#include <gtest/gtest.h>

#include <deque>
#include <functional>

#include "core/base/status.h"
#include "core/runtime/executor.h"
#include "core/runtime/oneshot.h"
#include "core/runtime/task.h"

namespace cpipe::runtime {
namespace {

class FifoExecutor : public Executor {
 public:
  void post(std::function<void()> fn) override { queue_.push_back(std::move(fn)); }
  int run() {
    int n = 0;
    while (!queue_.empty()) {
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      fn();
      ++n;
    }
    return n;
  }

 private:
  std::deque<std::function<void()>> queue_;
};

Task<int> add(int a, int b) { co_return a + b; }

Task<Result<int>> checked_div(int a, int b) {
  if (b == 0) co_return make_error(ErrorCode::INVALID_ARGUMENT, "division by zero");
  co_return a / b;
}

Task<Result<int>> compute(int a, int b) {
  int s = co_await add(a, b);
  CPIPE_CO_ASSIGN_OR_RETURN(int q, co_await checked_div(s, b));
  co_return q;
}

// Coroutine lambdas must not capture: the closure dies before a lazy task runs. Parameters are
// copied into the frame, so every coroutine below takes what it needs as arguments.
Task<void> store(Task<Result<int>> t, Result<int>* out) { *out = co_await std::move(t); }
Task<void> store_int(Task<int> t, int* out) { *out = co_await std::move(t); }
Task<void> set_flag(bool* flag) {
  *flag = true;
  co_return;
}

TEST(TaskTest, ValuesAndErrorsFlowThroughAwaits) {
  FifoExecutor ex;
  Result<int> ok = make_error(ErrorCode::INTERNAL, "unset");
  Result<int> bad = make_error(ErrorCode::INTERNAL, "unset");
  spawn(ex, store(compute(6, 2), &ok));
  spawn(ex, store(compute(6, 0), &bad));
  ex.run();
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 4);
  EXPECT_EQ(bad.code(), ErrorCode::INVALID_ARGUMENT);
}

Task<int> depth(int n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await depth(n - 1);
}

TEST(TaskTest, DeepAwaitChainsDoNotOverflowTheStack) {
  FifoExecutor ex;
  int result = -1;
  spawn(ex, store_int(depth(100000), &result));
  ex.run();
  EXPECT_EQ(result, 100000);
}

TEST(TaskTest, SpawnDoesNotRunInline) {
  FifoExecutor ex;
  bool ran = false;
  spawn(ex, set_flag(&ran));
  EXPECT_FALSE(ran);
  ex.run();
  EXPECT_TRUE(ran);
}

TEST(TaskTest, UnstartedTaskIsDestroyedWithoutRunning) {
  bool ran = false;
  {
    auto t = set_flag(&ran);
    EXPECT_TRUE(t.valid());
  }
  EXPECT_FALSE(ran);
}

Task<void> wait_and_log(Oneshot<int> shot, std::vector<std::string>* log) {
  log->push_back("waiting");
  int v = co_await shot;
  log->push_back("got " + std::to_string(v));
}

Task<void> wait_string(Oneshot<std::string> shot, std::string* out) { *out = co_await shot; }

TEST(OneshotTest, ResumesWaiterThroughTheExecutorNotInline) {
  FifoExecutor ex;
  Oneshot<int> shot(ex);
  std::vector<std::string> log;
  spawn(ex, wait_and_log(shot, &log));
  ex.run();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_TRUE(shot.set(5));
  log.push_back("after set");  // the waiter has not run yet
  EXPECT_FALSE(shot.set(6));   // first completion wins
  ex.run();
  EXPECT_EQ(log, (std::vector<std::string>{"waiting", "after set", "got 5"}));
}

TEST(OneshotTest, ValueSetBeforeAwaitIsReturnedImmediately) {
  FifoExecutor ex;
  Oneshot<std::string> shot(ex);
  shot.set("early");
  std::string got;
  spawn(ex, wait_string(shot, &got));
  ex.run();
  EXPECT_EQ(got, "early");
}

Task<void> yielding_worker(Executor& ex, char c, std::string* order) {
  for (int i = 0; i < 3; ++i) {
    order->push_back(c);
    co_await yield_now(ex);
  }
}

TEST(YieldTest, YieldInterleavesTasks) {
  FifoExecutor ex;
  std::string order;
  spawn(ex, yielding_worker(ex, 'a', &order));
  spawn(ex, yielding_worker(ex, 'b', &order));
  ex.run();
  EXPECT_EQ(order, "ababab");
}

}  // namespace
}  // namespace cpipe::runtime

// WorkerPool: jobs run off the loop thread, completions run on it, and shutdown drains the queue.
#include "backends/posix/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/runtime/compute.h"

namespace cpipe::posix {
namespace {

using runtime::Task;

struct JobRecord {
  std::thread::id worked_on;
  std::thread::id resumed_on;
  bool resumed_in_loop = false;
  bool done = false;
};

Task<void> one_job(WorkerPool* pool, EventLoop* loop, JobRecord* rec) {
  co_await runtime::run_compute(*pool, *loop, [rec] { rec->worked_on = std::this_thread::get_id(); });
  rec->resumed_on = std::this_thread::get_id();
  rec->resumed_in_loop = loop->in_loop_thread();
  rec->done = true;
}

TEST(WorkerPoolTest, RunsWorkOffTheLoopAndCompletesOnTheLoopThread) {
  EventLoop loop;
  WorkerPool pool(loop, 2);
  EXPECT_EQ(pool.threads(), 2);
  std::vector<JobRecord> records(16);
  for (auto& r : records) runtime::spawn(loop, one_job(&pool, &loop, &r));
  ASSERT_TRUE(loop.run_until([&records] {
    for (const auto& r : records) {
      if (!r.done) return false;
    }
    return true;
  }));
  const std::thread::id main_thread = std::this_thread::get_id();
  for (const auto& r : records) {
    EXPECT_NE(r.worked_on, main_thread);
    EXPECT_NE(r.worked_on, std::thread::id());
    EXPECT_EQ(r.resumed_on, main_thread);
    EXPECT_TRUE(r.resumed_in_loop);
  }
}

TEST(WorkerPoolTest, LoopWaitsForJobsInsteadOfGoingIdle) {
  EventLoop loop;
  WorkerPool pool(loop, 1);
  std::atomic<int> worked{0};
  int completed = 0;
  // A job that takes a while: with nothing else pending, the loop must still wait for it.
  pool.submit(
      [&worked] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        worked.fetch_add(1);
      },
      {}, [&completed] { ++completed; });
  EXPECT_TRUE(loop.run_until([&completed] { return completed == 1; }));
  EXPECT_EQ(worked.load(), 1);
}

TEST(WorkerPoolTest, ShutdownRunsEveryQueuedJob) {
  EventLoop loop;
  std::atomic<int> worked{0};
  int completed = 0;
  {
    WorkerPool pool(loop, 2);
    for (int i = 0; i < 50; ++i) {
      pool.submit([&worked] { worked.fetch_add(1); }, {}, [&completed] { ++completed; });
    }
  }  // destructor: drains and joins
  EXPECT_EQ(worked.load(), 50);
  // The completions were posted to the loop and run when it runs.
  EXPECT_TRUE(loop.run_until([&completed] { return completed == 50; }));
}

TEST(WorkerPoolTest, DefaultsToHardwareConcurrency) {
  EventLoop loop;
  WorkerPool pool(loop);
  EXPECT_GE(pool.threads(), 1);
  unsigned hw = std::thread::hardware_concurrency();
  if (hw > 0) {
    EXPECT_EQ(pool.threads(), int(hw));
  }
}

}  // namespace
}  // namespace cpipe::posix

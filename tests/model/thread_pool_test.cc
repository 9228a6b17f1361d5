// ThreadPool: parallel_for covers every index exactly once with aligned chunk boundaries, for
// any thread count, across many consecutive regions.
#include "model/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace cpipe::model {
namespace {

TEST(ThreadPoolTest, ParallelForCoversEachIndexOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 15, 16, 17, 100, 1000}) {
      for (int64_t align : {1, 16}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        pool.parallel_for(n, align, [&](int64_t b, int64_t e) {
          EXPECT_EQ(b % align, 0);
          EXPECT_LE(e, n);
          for (int64_t i = b; i < e; ++i) hits[size_t(i)].fetch_add(1);
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << n << " " << align;
      }
    }
  }
}

TEST(ThreadPoolTest, RunsEveryChunkOnceAcrossManyRegionsBackToBack) {
  ThreadPool pool(3);
  struct Ctx {
    std::atomic<int64_t> total{0};
    std::atomic<int> bad_worker{0};
  } ctx;
  for (int round = 0; round < 500; ++round) {
    pool.run(
        [](void* p, int64_t chunk, int worker) {
          auto* c = static_cast<Ctx*>(p);
          if (worker < 0 || worker >= 3) c->bad_worker++;
          c->total.fetch_add(chunk + 1);
        },
        &ctx, 10);
  }
  EXPECT_EQ(ctx.total.load(), 500 * 55);
  EXPECT_EQ(ctx.bad_worker.load(), 0);
}

// Jobs of alternating small and large chunk counts on more threads than cores: a worker still
// finishing one job must never claim a chunk of the next (that ran a chunk twice and made run()
// wait forever for a done count it had overshot).
TEST(ThreadPoolTest, WorkerLeavingAJobNeverClaimsAChunkOfTheNext) {
  ThreadPool pool(6);
  struct Ctx {
    std::vector<std::atomic<int>> hits = std::vector<std::atomic<int>>(64);
  } ctx;
  for (int round = 0; round < 20000; ++round) {
    const int64_t chunks = round % 2 == 0 ? 2 : 64;
    for (auto& h : ctx.hits) h.store(0, std::memory_order_relaxed);
    pool.run([](void* p, int64_t chunk, int) { static_cast<Ctx*>(p)->hits[size_t(chunk)].fetch_add(1); },
             &ctx, chunks);
    for (int64_t c = 0; c < chunks; ++c) ASSERT_EQ(ctx.hits[size_t(c)].load(), 1) << "round " << round;
    for (int64_t c = chunks; c < 64; ++c) ASSERT_EQ(ctx.hits[size_t(c)].load(), 0) << "round " << round;
  }
}

TEST(ThreadPoolTest, DefaultIsOnePerCpu) {
  ThreadPool pool;
  EXPECT_EQ(pool.size(), ThreadPool::default_threads());
  EXPECT_GE(pool.size(), 1);
}

}  // namespace
}  // namespace cpipe::model

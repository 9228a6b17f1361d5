// ThreadPool: a fixed set of worker threads for the model kernels. Decode at batch 1 runs ~50
// parallel regions per token, each a few hundred microseconds, so workers spin briefly between
// regions (then yield, then sleep on a futex) instead of being created or woken per region.
//
// Work is split into chunks that threads claim dynamically: the caller works too, and a worker
// that is not scheduled in time (a shared or oversubscribed machine) simply finds no chunk left
// instead of stalling the region. Which thread computes a chunk never changes its result.
// One region runs at a time; run() is not reentrant and not thread-safe (one caller at a time).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace cpipe::model {

class ThreadPool {
 public:
  // fn(ctx, chunk, worker): worker in [0, size()) identifies the thread (for per-thread scratch).
  using Fn = void (*)(void* ctx, int64_t chunk, int worker);

  // `threads` counts the calling thread too; 0 means one per online CPU.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Calls fn(ctx, c, worker) exactly once for every chunk c in [0, chunks). Returns when all
  // have finished.
  void run(Fn fn, void* ctx, int64_t chunks);

  // Splits [0, n) into contiguous pieces whose boundaries are multiples of `align` (a few per
  // thread, for balance) and calls f(begin, end) for each.
  template <typename F>
  void parallel_for(int64_t n, int64_t align, F&& f) {
    if (n <= 0) return;
    const int64_t units = (n + align - 1) / align;
    const int64_t chunks = size() == 1 ? 1 : std::min<int64_t>(units, int64_t(size()) * kChunksPerThread);
    struct Ctx {
      F* f;
      int64_t n, align, units, chunks;
    } c{&f, n, align, units, chunks};
    run(
        [](void* p, int64_t i, int) {
          auto* c = static_cast<Ctx*>(p);
          int64_t b = c->units * i / c->chunks * c->align;
          int64_t e = c->units * (i + 1) / c->chunks * c->align;
          if (e > c->n) e = c->n;
          if (b < e) (*c->f)(b, e);
        },
        &c, chunks);
  }

  static int default_threads();
  static constexpr int kChunksPerThread = 4;

 private:
  void worker_main(int index);
  // Claims and runs chunks of the job published under `gen` until none is left.
  void work(uint32_t gen, int worker);

  std::vector<std::thread> workers_;
  // (generation << 32) | next unclaimed chunk. A claim is a CAS, so a thread holding a stale
  // generation can never claim a chunk of a newer job.
  std::atomic<uint64_t> claim_{0};
  std::atomic<uint32_t> wake_{0};  // generation, for futex waits
  std::atomic<int64_t> done_{0};
  std::atomic<bool> stop_{false};
  Fn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::atomic<int64_t> chunks_{0};
  uint32_t generation_ = 0;
};

}  // namespace cpipe::model

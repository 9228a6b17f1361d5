// ThreadPool implementation: chunks claimed by CAS on a (generation, index) word; spin, then
// yield, then futex wait.
#include "model/thread_pool.h"

#include <sched.h>
#include <unistd.h>

namespace cpipe::model {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Waiting is pause-spinning (covers the gap between two kernels of one token), then yielding the
// core (the thread we wait for may need this very core), then, for idle workers only, sleeping.
constexpr int kPauseSpins = 2048;
constexpr int kYieldSpins = 256;
// An index no job reaches (jobs have fewer than 2^32 - 1 chunks).
constexpr uint64_t kClosedIndex = 0xFFFFFFFFu;

}  // namespace

int ThreadPool::default_threads() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? int(n) : 1;
}

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = default_threads();
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  wake_.fetch_add(1, std::memory_order_acq_rel);
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work(uint32_t gen, int worker) {
  for (;;) {
    uint64_t v = claim_.load(std::memory_order_acquire);
    int64_t idx;
    do {
      if (uint32_t(v >> 32) != gen) return;
      idx = int64_t(uint32_t(v));
      if (idx >= chunks_.load(std::memory_order_relaxed)) return;
    } while (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire));
    // The job cannot change while a chunk of it is claimed and unfinished.
    fn_(ctx_, idx, worker);
    done_.fetch_add(1, std::memory_order_release);
  }
}

void ThreadPool::run(Fn fn, void* ctx, int64_t chunks) {
  if (chunks <= 0) return;
  if (workers_.empty() || chunks == 1) {
    for (int64_t c = 0; c < chunks; ++c) fn(ctx, c, 0);
    return;
  }
  // Close the previous job's claim word first. A worker still in work() for the previous
  // generation may have loaded that word (all chunks claimed) and be about to compare its index
  // with chunks_: were chunks_ raised before the word changed, its CAS on the stale word would
  // succeed, run a chunk of the new job under the old generation and count it twice in done_
  // (found as a hang under an oversubscribed CI machine). After this store every stale CAS fails
  // and every fresh load sees an index no job reaches.
  ++generation_;
  claim_.store((uint64_t(generation_) << 32) | kClosedIndex, std::memory_order_release);
  fn_ = fn;
  ctx_ = ctx;
  chunks_.store(chunks, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  claim_.store(uint64_t(generation_) << 32, std::memory_order_release);
  wake_.store(generation_, std::memory_order_release);
  wake_.notify_all();
  work(generation_, 0);
  for (int spin = 0; done_.load(std::memory_order_acquire) != chunks; ++spin) {
    if (spin < kPauseSpins) cpu_relax();
    else sched_yield();
  }
}

void ThreadPool::worker_main(int index) {
  uint32_t seen = 0;
  for (;;) {
    uint32_t g = wake_.load(std::memory_order_acquire);
    for (int spin = 0; g == seen && spin < kPauseSpins + kYieldSpins; ++spin) {
      if (spin < kPauseSpins) cpu_relax();
      else sched_yield();
      g = wake_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      wake_.wait(seen, std::memory_order_acquire);
      continue;
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    work(g, index);
  }
}

}  // namespace cpipe::model

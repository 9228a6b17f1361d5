// WorkerPool: runtime::Compute on N OS threads. submit() (on the loop thread) queues the job; a
// worker runs `work`, then posts `done` back to the EventLoop, so completions always run on the
// loop thread. While a job is queued or running the loop counts it as pending work, so
// EventLoop::block_on/run_until keep waiting for it instead of declaring the loop idle.
//
// Shutdown (destructor or shutdown()): jobs already submitted still run and their `done` is
// still posted; then the threads are joined. Destroy the pool before its EventLoop.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "backends/posix/event_loop.h"
#include "core/runtime/compute.h"

namespace cpipe::posix {

class WorkerPool final : public runtime::Compute {
 public:
  // threads <= 0: std::thread::hardware_concurrency() (at least 1).
  explicit WorkerPool(EventLoop& loop, int threads = 0);
  ~WorkerPool() override;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // `cost` is the simulator's business; real time is whatever the job takes.
  void submit(std::function<void()> work, runtime::ComputeCost cost,
              std::function<void()> done) override;
  int threads() const override { return count_; }

  // Finishes the queued jobs and joins the threads. Idempotent; submit() afterwards aborts.
  void shutdown();

 private:
  struct Job {
    std::function<void()> work;
    std::function<void()> done;
    EventLoop::KeepAlive hold;
  };
  void worker_main();

  EventLoop* loop_;
  int count_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cpipe::posix

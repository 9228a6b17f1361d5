// WorkerPool: a mutex-protected FIFO of jobs and N threads draining it.
#include "backends/posix/worker_pool.h"

#include <cstdio>
#include <cstdlib>

namespace cpipe::posix {

WorkerPool::WorkerPool(EventLoop& loop, int threads) : loop_(&loop) {
  if (threads <= 0) threads = int(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  count_ = threads;
  threads_.reserve(size_t(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { worker_main(); });
}

WorkerPool::~WorkerPool() { shutdown(); }

void WorkerPool::submit(std::function<void()> work, runtime::ComputeCost,
                        std::function<void()> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      std::fprintf(stderr, "cpipe: WorkerPool::submit after shutdown\n");
      std::abort();
    }
    queue_.push_back(Job{std::move(work), std::move(done), loop_->keep_alive()});
  }
  cv_.notify_one();
}

void WorkerPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void WorkerPool::worker_main() {
  for (;;) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    job.work();
    // Post first, release the hold after: the loop never looks idle in between.
    loop_->post(std::move(job.done));
    job.hold.reset();
  }
}

}  // namespace cpipe::posix

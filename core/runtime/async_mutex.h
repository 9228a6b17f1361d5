// AsyncMutex: mutual exclusion between coroutines on one executor, FIFO. Used where several
// tasks share one channel direction (a secure channel allows one send at a time): each takes
// the lock around its send, so sends never interleave and nobody spins. Unlocking hands the
// lock to the next waiter directly and resumes it through the executor (never inline).
#pragma once

#include <coroutine>
#include <deque>

#include "core/runtime/executor.h"

namespace cpipe::runtime {

class AsyncMutex {
 public:
  explicit AsyncMutex(Executor& executor) : executor_(&executor) {}
  AsyncMutex(const AsyncMutex&) = delete;
  AsyncMutex& operator=(const AsyncMutex&) = delete;

  class Guard {
   public:
    Guard() = default;
    explicit Guard(AsyncMutex* m) : m_(m) {}
    Guard(Guard&& o) noexcept : m_(o.m_) { o.m_ = nullptr; }
    Guard& operator=(Guard&& o) noexcept {
      if (this != &o) {
        release();
        m_ = o.m_;
        o.m_ = nullptr;
      }
      return *this;
    }
    ~Guard() { release(); }
    void release() {
      if (m_) m_->unlock();
      m_ = nullptr;
    }

   private:
    AsyncMutex* m_ = nullptr;
  };

  struct LockAwaiter {
    AsyncMutex* m;
    bool await_ready() noexcept {
      if (m->locked_) return false;
      m->locked_ = true;
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) { m->waiters_.push_back(h); }
    Guard await_resume() noexcept { return Guard(m); }
  };
  // auto guard = co_await mutex.lock();
  LockAwaiter lock() { return LockAwaiter{this}; }
  bool locked() const { return locked_; }

 private:
  void unlock() {
    if (waiters_.empty()) {
      locked_ = false;
      return;
    }
    auto next = waiters_.front();  // stays locked: ownership passes to `next`
    waiters_.pop_front();
    executor_->post([next] { next.resume(); });
  }

  Executor* executor_;
  bool locked_ = false;
  std::deque<std::coroutine_handle<>> waiters_;
};

}  // namespace cpipe::runtime

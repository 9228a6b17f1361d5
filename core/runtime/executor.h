// Executor: where coroutines and callbacks run. Both backends run all of core/ on one thread:
// the simulator's event loop (virtual time) or the posix event loop (Boost.Asio). post() never
// runs the function inline, so a completion never re-enters the code that triggered it.
#pragma once

#include <coroutine>
#include <functional>
#include <memory>
#include <utility>

#include "core/runtime/task.h"

namespace cpipe::runtime {

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `fn` later on the executor's thread, in FIFO order with other posts at the same time.
  virtual void post(std::function<void()> fn) = 0;
};

// Starts `task` on `executor` and lets it run to completion on its own (fire and forget).
// The coroutine frame frees itself when the task finishes.
void spawn(Executor& executor, Task<void> task);

// Awaitable that moves the current coroutine to the back of the executor's queue.
struct YieldAwaiter {
  Executor& executor;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const {
    executor.post([h] { h.resume(); });
  }
  void await_resume() const noexcept {}
};
inline YieldAwaiter yield_now(Executor& executor) { return YieldAwaiter{executor}; }

}  // namespace cpipe::runtime

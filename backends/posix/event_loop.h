// EventLoop: the posix backend's single-threaded reactor. It is the process's runtime::Executor
// (post, thread-safe) and runtime::Clock (steady_clock for MonoTime, system_clock for WallTime,
// timers). All of core/ runs on the thread that runs the loop; other threads (workers, the Asio
// resolver) only post() to it.
//
// Timers live in one ordered map keyed by (deadline, id) behind a single Asio steady_timer, so
// timers with the same deadline fire in the order they were started (as in the simulator), and
// cancel_timer() is exact: a cancelled timer never runs, even when it was already due.
//
// Lifetime: everything that uses the loop (networks, streams, worker pools) must be destroyed
// before it. Coroutines still suspended when the loop is destroyed are never resumed.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "core/runtime/clock.h"
#include "core/runtime/executor.h"
#include "core/runtime/task.h"

namespace cpipe::posix {

namespace detail {
template <typename T>
runtime::Task<void> store_task_result(runtime::Task<T> task, std::optional<T>* out) {
  out->emplace(co_await std::move(task));
}
runtime::Task<void> mark_task_done(runtime::Task<void> task, bool* done);
}  // namespace detail

class EventLoop final : public runtime::Executor, public runtime::Clock {
 public:
  // Keeps run_until()/block_on() from concluding "nothing can happen any more" while another
  // thread still intends to post(). Destroying it (on any thread) releases the hold.
  using KeepAlive = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  EventLoop();
  ~EventLoop() override;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // runtime::Executor. Thread-safe; FIFO with other posts.
  void post(std::function<void()> fn) override;

  // runtime::Clock. start_timer/cancel_timer must be called on the loop thread (or while no
  // thread runs the loop); now()/wall_now() anywhere.
  runtime::MonoTime now() const override;
  runtime::WallTime wall_now() const override;
  runtime::TimerId start_timer(runtime::Duration after, std::function<void()> fn) override;
  bool cancel_timer(runtime::TimerId id) override;

  // Runs handlers until stop() is called (servers' main loop). Idle time blocks in epoll.
  void run();
  // Runs handlers until `done()` is true (checked after every handler). Returns false when the
  // loop ran out of work (nothing pending and no KeepAlive held) or was stopped first: `done`
  // can then never become true by itself.
  bool run_until(const std::function<bool()>& done);
  // Thread-safe: makes run()/run_until() return after the current handler.
  void stop();

  // Runs `task` to completion on this loop and returns its value (for main() and tests).
  // Aborts with a message when the loop runs out of work first: the task waits on something
  // nobody will ever complete, which is a bug.
  template <typename T>
  T block_on(runtime::Task<T> task) {
    if constexpr (std::is_void_v<T>) {
      bool done = false;
      runtime::spawn(*this, detail::mark_task_done(std::move(task), &done));
      if (!run_until([&done] { return done; })) die_incomplete();
    } else {
      std::optional<T> result;
      runtime::spawn(*this, detail::store_task_result<T>(std::move(task), &result));
      if (!run_until([&result] { return result.has_value(); })) die_incomplete();
      return std::move(*result);
    }
  }

  KeepAlive keep_alive() { return boost::asio::make_work_guard(io_); }
  // True on the thread currently running this loop.
  bool in_loop_thread() { return io_.get_executor().running_in_this_thread(); }
  boost::asio::io_context& io_context() { return io_; }

 private:
  [[noreturn]] static void die_incomplete();
  void arm_wakeup();
  void fire_due_timers();
  int64_t now_ns() const;

  boost::asio::io_context io_;
  boost::asio::steady_timer wakeup_;
  // (deadline ns, id) -> callback; ids_ maps id -> deadline for cancel.
  std::map<std::pair<int64_t, runtime::TimerId>, std::function<void()>> timers_;
  std::unordered_map<runtime::TimerId, int64_t> ids_;
  runtime::TimerId next_id_ = 1;
  bool armed_ = false;
  int64_t armed_at_ = 0;
  uint64_t arm_generation_ = 0;
};

}  // namespace cpipe::posix

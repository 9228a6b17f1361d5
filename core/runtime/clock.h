// Clock: monotonic time for timeouts and measurements, wall time for certificates and receipts,
// and timers. The two are separate on purpose: wall time comes from the host, which is the
// adversary (it can skew and jump it), so nothing that guards liveness may use it, and nothing
// that checks validity windows may use the monotonic clock. In the simulator both are virtual.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>

namespace cpipe::runtime {

using Duration = std::chrono::nanoseconds;
using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;
using std::chrono_literals::operator""us;

// Monotonic instant: nanoseconds since an arbitrary origin (the simulation start, or boot).
struct MonoTime {
  int64_t ns = 0;
  friend auto operator<=>(const MonoTime&, const MonoTime&) = default;
  MonoTime operator+(Duration d) const { return MonoTime{ns + d.count()}; }
  Duration operator-(MonoTime other) const { return Duration(ns - other.ns); }
};

// Wall-clock time: nanoseconds since the Unix epoch, UTC. Untrusted on hardware.
struct WallTime {
  int64_t unix_ns = 0;
  friend auto operator<=>(const WallTime&, const WallTime&) = default;
  int64_t unix_ms() const { return unix_ns / 1'000'000; }
  static WallTime from_unix_ms(int64_t ms) { return WallTime{ms * 1'000'000}; }
};

using TimerId = uint64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime now() const = 0;
  virtual WallTime wall_now() const = 0;
  // Calls `fn` on the executor thread once `after` has elapsed (0 = as soon as possible, but
  // never inline). Returns an id for cancel_timer.
  virtual TimerId start_timer(Duration after, std::function<void()> fn) = 0;
  // Cancels a pending timer; returns false when it already fired or was cancelled.
  virtual bool cancel_timer(TimerId id) = 0;
};

// co_await sleep_for(clock, 10ms);
struct SleepAwaiter {
  Clock& clock;
  Duration duration;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const {
    clock.start_timer(duration, [h] { h.resume(); });
  }
  void await_resume() const noexcept {}
};
inline SleepAwaiter sleep_for(Clock& clock, Duration d) { return SleepAwaiter{clock, d}; }

// Cancels its timer when destroyed: for timeouts armed around an operation.
class ScopedTimer {
 public:
  ScopedTimer() = default;
  ScopedTimer(Clock& clock, Duration after, std::function<void()> fn)
      : clock_(&clock), id_(clock.start_timer(after, std::move(fn))) {}
  ScopedTimer(ScopedTimer&& o) noexcept : clock_(o.clock_), id_(o.id_) { o.clock_ = nullptr; }
  ScopedTimer& operator=(ScopedTimer&& o) noexcept {
    if (this != &o) {
      cancel();
      clock_ = o.clock_;
      id_ = o.id_;
      o.clock_ = nullptr;
    }
    return *this;
  }
  ~ScopedTimer() { cancel(); }
  void cancel() {
    if (clock_) clock_->cancel_timer(id_);
    clock_ = nullptr;
  }

 private:
  Clock* clock_ = nullptr;
  TimerId id_ = 0;
};

}  // namespace cpipe::runtime

// EventLoop over boost::asio::io_context: posting, the run modes and the ordered timer queue.
#include "backends/posix/event_loop.h"

#include <boost/asio/post.hpp>
#include <chrono>

namespace cpipe::posix {

namespace detail {
runtime::Task<void> mark_task_done(runtime::Task<void> task, bool* done) {
  co_await std::move(task);
  *done = true;
}
}  // namespace detail

// Concurrency hint 1: exactly one thread runs the loop (posts from other threads stay safe).
EventLoop::EventLoop() : io_(1), wakeup_(io_) {}

EventLoop::~EventLoop() {
  timers_.clear();
  ids_.clear();
  wakeup_.cancel();
}

void EventLoop::post(std::function<void()> fn) { boost::asio::post(io_, std::move(fn)); }

int64_t EventLoop::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

runtime::MonoTime EventLoop::now() const { return runtime::MonoTime{now_ns()}; }

runtime::WallTime EventLoop::wall_now() const {
  return runtime::WallTime{std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count()};
}

runtime::TimerId EventLoop::start_timer(runtime::Duration after, std::function<void()> fn) {
  if (after.count() < 0) after = runtime::Duration(0);
  runtime::TimerId id = next_id_++;
  int64_t deadline = now_ns() + after.count();
  timers_.emplace(std::make_pair(deadline, id), std::move(fn));
  ids_.emplace(id, deadline);
  arm_wakeup();
  return id;
}

bool EventLoop::cancel_timer(runtime::TimerId id) {
  auto it = ids_.find(id);
  if (it == ids_.end()) return false;
  timers_.erase(std::make_pair(it->second, id));
  ids_.erase(it);
  arm_wakeup();
  return true;
}

// Keeps exactly one Asio wait pending, for the earliest deadline, and none when no timer is
// pending (so an idle loop with no timers counts as out of work). A superseded wait still
// completes later; the generation number makes it a no-op.
void EventLoop::arm_wakeup() {
  if (timers_.empty()) {
    if (armed_) {
      armed_ = false;
      ++arm_generation_;
      wakeup_.cancel();
    }
    return;
  }
  int64_t first = timers_.begin()->first.first;
  if (armed_ && armed_at_ == first) return;
  armed_ = true;
  armed_at_ = first;
  uint64_t generation = ++arm_generation_;
  wakeup_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(first)));
  wakeup_.async_wait([this, generation](const boost::system::error_code&) {
    if (generation != arm_generation_) return;
    armed_ = false;
    fire_due_timers();
    arm_wakeup();
  });
}

void EventLoop::fire_due_timers() {
  int64_t now = now_ns();
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto node = timers_.extract(timers_.begin());
    ids_.erase(node.key().second);
    node.mapped()();  // may start or cancel timers; the map stays consistent
  }
}

void EventLoop::run() {
  if (io_.stopped()) io_.restart();
  KeepAlive hold = keep_alive();
  io_.run();
}

bool EventLoop::run_until(const std::function<bool()>& done) {
  if (io_.stopped()) io_.restart();
  while (!done()) {
    if (io_.run_one() == 0) return done();
  }
  return true;
}

void EventLoop::stop() { io_.stop(); }

void EventLoop::die_incomplete() {
  std::fprintf(stderr,
               "cpipe: EventLoop::block_on: the loop ran out of work (or was stopped) before the "
               "task finished; it waits on something nobody will complete\n");
  std::abort();
}

}  // namespace cpipe::posix

// Oneshot<T>: the bridge from callback-style completions (a simulated packet arriving, an Asio
// handler, a worker thread finishing) to coroutines. The producer calls set() once; the one
// consumer co_awaits. Resumption is always posted to the executor, never inline, so the producer
// is never re-entered and the simulator's event order stays (time, sequence).
//
// Producer and consumer share the state through shared_ptr, so either may go away first: a
// value set after the consumer is gone is dropped; a consumer whose producer is gone without
// setting stays suspended, which is why every producer must set() on close/destroy.
#pragma once

#include <cassert>
#include <coroutine>
#include <memory>
#include <optional>
#include <utility>

#include "core/runtime/executor.h"

namespace cpipe::runtime {

template <typename T>
class Oneshot {
  struct State {
    Executor* executor = nullptr;
    std::optional<T> value;
    std::coroutine_handle<> waiter;
  };

 public:
  explicit Oneshot(Executor& executor) : state_(std::make_shared<State>()) {
    state_->executor = &executor;
  }

  // Completes the oneshot; later calls are ignored (first completion wins, e.g. data vs timeout).
  // Returns whether this call completed it.
  bool set(T value) const {
    if (state_->value.has_value()) return false;
    state_->value.emplace(std::move(value));
    if (state_->waiter) {
      auto h = std::exchange(state_->waiter, nullptr);
      state_->executor->post([h] { h.resume(); });
    }
    return true;
  }
  bool is_set() const { return state_->value.has_value(); }

  // co_await oneshot -> T. At most one consumer.
  struct Awaiter {
    std::shared_ptr<State> state;
    bool await_ready() const noexcept { return state->value.has_value(); }
    void await_suspend(std::coroutine_handle<> h) {
      assert(!state->waiter && "Oneshot supports a single awaiter");
      state->waiter = h;
    }
    T await_resume() { return std::move(*state->value); }
  };
  Awaiter operator co_await() const { return Awaiter{state_}; }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace cpipe::runtime

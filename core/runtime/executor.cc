// spawn(): a self-destroying coroutine that owns a Task<void> until it finishes.
#include "core/runtime/executor.h"

#include <exception>

namespace cpipe::runtime {
namespace {

struct DetachedTask {
  struct promise_type {
    DetachedTask get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

DetachedTask run_detached(Task<void> task) { co_await std::move(task); }

}  // namespace

void spawn(Executor& executor, Task<void> task) {
  // std::function needs a copyable callable; the shared_ptr carries the move-only Task.
  auto holder = std::make_shared<Task<void>>(std::move(task));
  executor.post([holder] { run_detached(std::move(*holder)); });
}

}  // namespace cpipe::runtime

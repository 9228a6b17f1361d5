// Compute: runs model work off the event loop. On hardware a worker pool runs the job and the
// loop stays free to relay traffic; in the simulator the job runs inline and the virtual clock
// then advances by the job's simulated cost (from the scenario's cost model), so virtual time
// never depends on how fast the test machine is.
#pragma once

#include <functional>

#include "core/runtime/clock.h"
#include "core/runtime/oneshot.h"
#include "core/runtime/task.h"

namespace cpipe::runtime {

struct ComputeCost {
  Duration simulated{0};  // how long the simulator pretends the job took
};

class Compute {
 public:
  virtual ~Compute() = default;
  // Runs `work` somewhere, then `done` on the executor thread.
  virtual void submit(std::function<void()> work, ComputeCost cost, std::function<void()> done) = 0;
  // Worker threads available to a job (1 in the simulator).
  virtual int threads() const = 0;
};

// co_await run_compute(compute, executor, [&]{ ... }, cost);
inline Task<void> run_compute(Compute& compute, Executor& executor, std::function<void()> work,
                              ComputeCost cost = {}) {
  Oneshot<bool> finished(executor);
  compute.submit(std::move(work), cost, [finished] { finished.set(true); });
  co_await finished;
}

}  // namespace cpipe::runtime

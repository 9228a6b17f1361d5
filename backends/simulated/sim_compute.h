// SimCompute: runtime::Compute in virtual time. The work runs inline when submitted (so results
// are there at once, whatever the test machine's speed); `done` runs once the job's simulated
// cost has elapsed on one of the node's simulated cores. Jobs on a busy node queue: with one
// core (the default), two 10 ms jobs submitted together finish at +10 ms and +20 ms.
#pragma once

#include <functional>
#include <vector>

#include "core/runtime/compute.h"

namespace cpipe::sim {

class SimWorld;

class SimCompute final : public runtime::Compute {
 public:
  SimCompute(SimWorld& world, int cores);
  void submit(std::function<void()> work, runtime::ComputeCost cost,
              std::function<void()> done) override;
  int threads() const override { return 1; }
  int cores() const { return int(busy_until_.size()); }

 private:
  SimWorld& world_;
  std::vector<int64_t> busy_until_;  // per simulated core, virtual ns
};

}  // namespace cpipe::sim

// Virtual-time compute: inline work, completion after the simulated cost on the first free core.
#include "backends/simulated/sim_compute.h"

#include <algorithm>
#include <cassert>

#include "backends/simulated/sim_world.h"

namespace cpipe::sim {

SimCompute::SimCompute(SimWorld& world, int cores)
    : world_(world), busy_until_(size_t(std::max(cores, 1)), 0) {}

void SimCompute::submit(std::function<void()> work, runtime::ComputeCost cost,
                        std::function<void()> done) {
  if (work) work();
  // The earliest-free core takes the job (lowest index on ties: deterministic).
  auto core = std::min_element(busy_until_.begin(), busy_until_.end());
  int64_t start = std::max(*core, world_.now().ns);
  int64_t finish = start + std::max<int64_t>(cost.simulated.count(), 0);
  *core = finish;
  world_.schedule_at(runtime::MonoTime{finish}, std::move(done));
}

}  // namespace cpipe::sim

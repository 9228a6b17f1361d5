// Shrinking a failing scenario: `cpipe sim shrink FILE --seed N --out MIN.yaml`. The seed's
// faults (swarm draws included) become an explicit timeline; then faults, requests, tokens,
// prompt tokens and stages are taken away one at a time, greedily, keeping each cut while the
// same seed still fails the same invariant, until no cut helps. Delta debugging without the
// clever partitioning: scenarios are small and a run is fast.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "apps/cpipe/scenario.h"
#include "apps/cpipe/scenario_run.h"

namespace cpipe::cli {

struct ShrinkResult {
  Scenario minimal;
  std::string invariant;          // the invariant the original failed first, kept failing
  ScenarioSeedResult original;
  ScenarioSeedResult final;       // the minimal scenario's run
  int runs = 0;                   // simulations tried
  std::vector<std::string> steps; // the cuts kept, in order
};

// FAILED_PRECONDITION when the seed does not fail; `progress` (optional) hears every kept cut.
Result<ShrinkResult> shrink_scenario(const Scenario& scenario, uint64_t seed,
                                     const std::function<void(const std::string&)>& progress = {});

}  // namespace cpipe::cli

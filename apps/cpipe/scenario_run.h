// Running a scenario (scenario.h) for one seed: the swarm's fault draws, the simulated pipeline
// run (sim_pipeline_session.h), the fault-free reference it is compared with, and the check of
// every invariant the scenario asks for. `cpipe sim run`, `cpipe sim shrink` and the scenario
// tests are built on this.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "apps/cpipe/scenario.h"
#include "apps/cpipe/sim_pipeline_session.h"

namespace cpipe::cli {

struct ScenarioViolation {
  std::string invariant;
  std::string detail;
};

struct ScenarioSeedResult {
  uint64_t seed = 0;
  std::vector<SimFault> faults;  // what this seed ran: the timeline, then the swarm's draws
  std::vector<ScenarioViolation> violations;
  SimPipelineReport report;      // empty when the run itself failed (run_completes)
  bool ok() const { return violations.empty(); }
};

// The faults swarm mode draws for `seed` (none without swarm settings). A pure function of the
// scenario and the seed, from its own random stream (no other draw of the run shifts it).
std::vector<SimFault> swarm_faults(const Scenario& scenario, uint64_t seed);

// The invariants checked for this scenario: expect.invariants (or the default set) plus those
// its expectation keys imply.
std::vector<std::string> checked_invariants(const Scenario& scenario);

// The options run_sim_pipeline gets for (scenario, seed, faults).
Result<SimPipelineOptions> scenario_options(const Scenario& scenario, uint64_t seed,
                                            std::vector<SimFault> faults);

// The scenario with its text prompts tokenized by the model's tokenizer (ids unchanged).
Result<Scenario> resolve_text_prompts(const Scenario& scenario);

// Runs one seed and checks the invariants. An error only for set-up problems (model, bad
// options); everything the run itself does wrong is a violation. `trace` receives the trace as
// JSON lines.
Result<ScenarioSeedResult> run_scenario_seed(const Scenario& scenario, uint64_t seed,
                                             std::ostream* trace = nullptr);

// The exact command that replays `seed` of the scenario in `path`.
std::string replay_command(const std::string& path, uint64_t seed);

}  // namespace cpipe::cli

// The greedy scenario shrinker (scenario_shrink.h).
#include "apps/cpipe/scenario_shrink.h"

#include <algorithm>

namespace cpipe::cli {
namespace {

bool fails_with(const ScenarioSeedResult& r, const std::string& invariant) {
  for (const ScenarioViolation& v : r.violations)
    if (v.invariant == invariant) return true;
  return false;
}

// Sessions numbered 0.. in order of first appearance (a removed request may empty a session).
void compact_sessions(Scenario& s) {
  std::vector<int> map;
  for (SimWorkItem& item : s.requests) {
    auto it = std::find(map.begin(), map.end(), item.session);
    if (it == map.end()) {
      map.push_back(item.session);
      it = map.end() - 1;
    }
    item.session = int(it - map.begin());
  }
}

class Shrinker {
 public:
  Shrinker(uint64_t seed, std::string invariant, const std::function<void(const std::string&)>& progress)
      : seed_(seed), invariant_(std::move(invariant)), progress_(progress) {}

  // Runs the candidate; keeps it (and says why) when it still fails the same invariant.
  bool attempt(Scenario& current, const Scenario& candidate, const std::string& step) {
    ++runs;
    auto r = run_scenario_seed(candidate, seed_);
    if (!r.ok() || !fails_with(*r, invariant_)) return false;
    current = candidate;
    last = std::move(*r);
    steps.push_back(step);
    if (progress_) progress_(step);
    return true;
  }

  bool pass(Scenario& cur) {
    bool changed = false;
    for (size_t i = cur.faults.size(); i-- > 0;) {
      Scenario c = cur;
      c.faults.erase(c.faults.begin() + ptrdiff_t(i));
      changed |= attempt(cur, c, "removed fault: " + describe_fault(cur.faults[i]));
    }
    for (size_t i = 0; i < cur.faults.size(); ++i) {
      if (cur.faults[i].kind == FaultKind::kTamper && cur.faults[i].count != 1) {
        Scenario c = cur;
        c.faults[i].count = 1;
        changed |= attempt(cur, c, "tamper fault " + std::to_string(i) + " alters one segment");
      }
    }
    // The workload's shape is what outcome counts are about: keep it when they are checked.
    if (invariant_ != "outcome_counts") {
      for (size_t i = cur.requests.size(); i-- > 0 && cur.requests.size() > 1;) {
        Scenario c = cur;
        c.requests.erase(c.requests.begin() + ptrdiff_t(i));
        compact_sessions(c);
        changed |= attempt(cur, c, "removed request " + std::to_string(i));
      }
    }
    for (size_t i = 0; i < cur.requests.size(); ++i) {
      for (int t = cur.requests[i].max_new_tokens; t > 1;) {
        int next = std::max(1, t / 2);
        Scenario c = cur;
        c.requests[i].max_new_tokens = next;
        if (!attempt(cur, c, "request " + std::to_string(i) + ": " + std::to_string(next) + " tokens")) {
          c.requests[i].max_new_tokens = t - 1;
          if (t - 1 == next || !attempt(cur, c, "request " + std::to_string(i) + ": " + std::to_string(t - 1) + " tokens"))
            break;
        }
        changed = true;
        t = cur.requests[i].max_new_tokens;
      }
      while (cur.requests[i].prompt.size() > 1) {
        Scenario c = cur;
        c.requests[i].prompt.resize(std::max<size_t>(1, c.requests[i].prompt.size() / 2));
        if (!attempt(cur, c, "request " + std::to_string(i) + ": prompt of " +
                                 std::to_string(c.requests[i].prompt.size()) + " tokens"))
          break;
        changed = true;
      }
    }
    while (cur.stages > 1) {
      Scenario c = cur;
      c.stages = cur.stages - 1;
      c.layer_ranges.clear();
      for (SimFault& f : c.faults) f.stage = std::min(f.stage, c.stages - 1);
      if (c.rogue_stage) c.rogue_stage = std::min(*c.rogue_stage, c.stages - 1);
      if (!attempt(cur, c, std::to_string(c.stages) + " stages")) break;
      changed = true;
    }
    return changed;
  }

  int runs = 0;
  std::vector<std::string> steps;
  ScenarioSeedResult last;

 private:
  uint64_t seed_;
  std::string invariant_;
  const std::function<void(const std::string&)>& progress_;
};

}  // namespace

Result<ShrinkResult> shrink_scenario(const Scenario& scenario, uint64_t seed,
                                     const std::function<void(const std::string&)>& progress) {
  ShrinkResult out;
  CPIPE_ASSIGN_OR_RETURN(out.original, run_scenario_seed(scenario, seed));
  if (out.original.ok())
    return make_error(ErrorCode::FAILED_PRECONDITION,
                      "seed " + std::to_string(seed) + " passes every invariant: nothing to shrink");
  out.invariant = out.original.violations.front().invariant;
  // The seed's faults, swarm draws included, as an explicit timeline.
  Scenario cur = scenario;
  cur.faults = out.original.faults;
  cur.swarm.reset();
  cur.name = (scenario.name.empty() ? std::string("scenario") : scenario.name) + "-shrunk-seed" + std::to_string(seed);
  cur.description = "Shrunk by cpipe sim shrink from " + scenario.source + " --seed " + std::to_string(seed) +
                    ": still fails " + out.invariant + ".";
  Shrinker shrinker(seed, out.invariant, progress);
  shrinker.last = out.original;
  while (shrinker.pass(cur)) {
  }
  out.minimal = std::move(cur);
  out.final = std::move(shrinker.last);
  out.runs = shrinker.runs;
  out.steps = std::move(shrinker.steps);
  return out;
}

}  // namespace cpipe::cli

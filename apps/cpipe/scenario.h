// A YAML scenario (docs/scenarios.md): a simulated deployment (topology, costs), what it is asked
// to do (workload), its misfortunes (a fault timeline and/or swarm settings) and what must hold
// (expect). This header owns the in-memory form, the parser (file:line:column and the offending
// key on every error; unknown keys are errors) and the writer (`cpipe sim shrink` writes the
// reduced scenario back out). Running one is scenario_run.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "apps/cpipe/sim_fault.h"
#include "core/base/status.h"

namespace cpipe::cli {

// Swarm mode: which fault kinds may occur and how many; the seed draws the subset of kinds that
// is actually on, the number of faults and every fault's target, time and parameters.
struct ScenarioSwarm {
  std::vector<FaultKind> kinds;  // default: all
  int max_faults = 4;
  double window_ms = 3000;       // time-triggered faults fire in [0, window_ms)
  bool operator==(const ScenarioSwarm&) const = default;
};

struct ScenarioExpect {
  // The named invariants to check besides those implied by the keys below; empty: the default
  // set (run_completes, explicit_outcome, outputs_match_reference, no_plaintext_on_host,
  // only_pinned_enclaves).
  std::vector<std::string> invariants;
  bool all_ok = false;                       // all_ok: every request succeeded
  std::map<std::string, int> outcomes;       // outcome_counts: exact count per code ("OK": 3)
  std::optional<double> recovery_within_ms;  // recovery_bound
  std::optional<double> max_ttft_ms;         // latency_bounds
  std::optional<double> max_token_ms;        // latency_bounds (decode steps)
  std::optional<double> max_virtual_ms;      // latency_bounds (the whole run)
  int min_pipeline_failures = 0;             // failures_detected
  bool operator==(const ScenarioExpect&) const = default;
};

struct Scenario {
  std::string source;  // the file it came from ("" when parsed from text)
  std::string name;
  std::string description;
  // topology
  std::string platform = "nitro";
  int stages = 2;
  std::vector<std::pair<uint32_t, uint32_t>> layer_ranges;  // empty: even split
  std::string model_preset = "tiny";
  uint64_t model_seed = 7;
  std::string model_path;  // overrides the preset
  bool sealed = false;
  bool host_proxy = false;
  uint32_t session_limit = 100;
  bool greedy_in_last_stage = false;
  bool receipts = false;  // stage 0 signs an AIR v1 receipt per answer (receipts_verify)
  std::optional<int> rogue_stage;  // this stage runs an enclave image the manifest does not pin
  // costs (defaults: the published Nitro figures)
  double compute_ms_per_layer_token = 3.5;
  SimLatencyMs nsm_ms{45, 60, 88, 90};
  SimLatencyMs kms_ms{60, 120, 500, 800};
  SimLatencyMs s3_ms{5, 20, 80, 150};
  double link_rtt_ms = 0.17;
  double link_jitter_ms = 0;
  uint64_t link_bandwidth_bytes_per_s = 0;
  // workload, expanded to explicit requests
  std::vector<SimWorkItem> requests;
  // orchestrator
  double recovery_timeout_ms = 20000;
  int max_attempts = 3;
  // faults
  std::vector<SimFault> faults;
  std::optional<ScenarioSwarm> swarm;
  ScenarioExpect expect;
  double max_virtual_ms = 600000;  // limits: a run longer than this is a hang
};

// Parses YAML text; `source` names it in errors ("scenarios/x.yaml:12:5: key 'foo': ...").
// SIM_SCENARIO_INVALID on any error.
Result<Scenario> parse_scenario(const std::string& text, const std::string& source);
Result<Scenario> load_scenario(const std::string& path);
// YAML that parse_scenario reads back to an equal scenario (source aside).
std::string scenario_to_yaml(const Scenario& scenario);

// The invariant names a scenario can use (docs/scenarios.md describes each).
const std::vector<std::string>& known_invariants();

}  // namespace cpipe::cli

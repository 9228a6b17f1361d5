// `cpipe run --record-costs F.yaml`: measures what a scenario's `costs:` section describes on a
// real deployment — attestation (the platform's provider, timed in this process), link round
// trips (TCP connects to every stage's control endpoint), per-layer compute (decode steps of
// the run, less the hops) — and writes it in the scenario format (docs/scenarios.md), so a
// scenario can replay a real deployment's timings. Key release and S3 are not part of a local
// run; their defaults stay and the file says so.
#pragma once

#include <string>
#include <vector>

#include "apps/cpipe/local_pipeline.h"
#include "core/base/status.h"

namespace cpipe::cli {

struct RecordedCosts {
  std::string platform;            // what was measured ("mock-dev" locally)
  std::vector<double> attest_ms;   // one per attestation
  std::vector<double> rtt_ms;      // one per round trip
  std::vector<double> decode_ms;   // every decode step of every OK request
  int stages = 0;
  int total_layers = 0;
  // Decode p50 less one one-way hop per link crossed (stages + 1), per layer.
  double compute_ms_per_layer_token() const;
};

// Times `samples` attestations and `samples` connects to each stage's control endpoint on the
// posix loop, and takes the decode steps from `run`.
Result<RecordedCosts> record_costs(posix::PosixEnv& posix, const pipeline::Manifest& manifest,
                                   const LocalRunReport& run, int samples);

// The scenario YAML (a valid scenario by itself: only `costs:`), with a comment saying what was
// measured and how.
std::string costs_yaml(const RecordedCosts& costs);

}  // namespace cpipe::cli

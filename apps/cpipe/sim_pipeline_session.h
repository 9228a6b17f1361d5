// The simulated confidential pipeline behind `cpipe sim pipeline` (and the README's main job):
// N stage enclaves (simulated Nitro, vsock CIDs 16..), their parent host (CID 3) relaying and
// recording every byte between them and to the orchestrator, and the orchestrator (the client's
// trusted side) running requests through the real core/pipeline code on a real GPT-2 model.
// Optional misfortunes for tests and demos: a stage killed after a number of its forward passes
// and restarted later; a host that flips a byte on the data link into stage 1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace cpipe::cli {

struct SimPipelineOptions {
  uint64_t seed = 1;
  int stages = 2;
  std::string model_dir;            // config.json + model.safetensors
  std::vector<int32_t> prompt;      // token ids
  // When non-empty, request r of a session uses prompts[r % size] instead of `prompt`.
  std::vector<std::vector<int32_t>> prompts;
  uint32_t session_limit = 100;     // the manifest's session_limit
  int max_new_tokens = 8;
  int requests = 1;                 // run one after another (per session)
  int concurrency = 1;              // sessions running at once
  double cost_per_layer_token_ms = 3.5;  // GPT-2 small: 12 layers ~ 42 ms/token on 2 vCPU
  bool greedy_in_last_stage = false;
  bool keep_logits = false;
  bool keep_events = false;
  // Faults.
  std::optional<int> kill_stage;         // kill this stage ...
  int kill_after_forwards = 3;           // ... after it has run this many forward passes,
  double restart_after_ms = 500;         // and restart it this much later (< 0: never)
  bool tamper_stage1_data = false;       // the host flips one byte going into stage 1's data_in
  // The host cuts stage `partition_stage` off (segments dropped, no resets) after it has run
  // kill_after_forwards forward passes, and heals the link partition_ms later.
  std::optional<int> partition_stage;
  double partition_ms = 1000;
  // This stage runs another enclave image than the manifest pins.
  std::optional<int> rogue_stage;
  // Pin every stage's weight hashes in the manifest; `wrong_weight_pin` pins a wrong one for
  // the last stage.
  bool pin_weights = false;
  bool wrong_weight_pin = false;
  double recovery_timeout_ms = 20000;
  int max_attempts = 3;
};

struct SimPipelineRequest {
  std::vector<int32_t> tokens;
  std::string status;  // "OK" or "CODE: message"
  std::string code;    // "OK" or the code's name
  std::vector<std::vector<float>> logits;
  std::vector<double> token_ms;
  int attempts = 0;
};

struct SimPipelineReport {
  int stages = 0;
  std::vector<SimPipelineRequest> requests;
  bool host_saw_plaintext = true;  // probe of all relayed bytes for tokens and activations
  uint64_t relayed_bytes = 0;
  uint64_t pipelines_built = 0;
  uint64_t pipeline_failures = 0;
  uint64_t retries = 0;
  double setup_ms = 0;        // virtual time to the first ready pipeline
  double virtual_ms = 0;      // the whole run
  double detect_ms = -1;      // kill -> orchestrator noticed (when a stage was killed)
  std::string stage_platform;  // what the orchestrator verified
  std::vector<std::string> timeline;
  std::vector<std::string> event_lines;
  uint64_t events = 0;
  std::string trace_hash;
  uint64_t unseed = 0;
};

// Runs the world to the end. An error only for set-up problems (model, options); request
// failures are reported per request.
Result<SimPipelineReport> run_sim_pipeline(const SimPipelineOptions& options);

}  // namespace cpipe::cli

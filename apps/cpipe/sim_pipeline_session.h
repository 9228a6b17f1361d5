// The simulated confidential pipeline behind `cpipe sim pipeline` (and the README's main job):
// N stage enclaves (simulated Nitro; or SEV-SNP guests, or DEVELOPMENT-ONLY mock-dev processes:
// `platform`; vsock CIDs 16..), their parent host (CID 3) relaying and
// recording every byte between them and to the orchestrator, and the orchestrator (the client's
// trusted side) running requests through the real core/pipeline code on a real GPT-2 model.
// Optional misfortunes for tests and demos: a stage killed after a number of its forward passes
// and restarted later; a host that flips a byte on the data link into stage 1; and any list of
// SimFaults (sim_fault.h), which is what YAML scenarios use.
// With `sealed`, stages boot empty and get the model by an attested cold start (SimKms, SimS3,
// host proxy: sim_key_delivery.h), with key-delivery faults; with `receipts`, stage 0 signs
// every answer (docs/receipts.md).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "apps/cpipe/sim_fault.h"
#include "core/base/status.h"
#include "core/keys/cold_start.h"

namespace cpipe::cli {

struct SimPipelineOptions {
  uint64_t seed = 1;
  int stages = 2;
  // What the stages (and the orchestrator) attest with: "nitro" (SimNsm, the real Nitro
  // verifier), "sev-snp" (SimSnpFirmware, the real SEV-SNP verifier) or "local" (the
  // DEVELOPMENT-ONLY mock-dev attestation). `sealed` and `receipts` need "nitro": SimKms releases
  // keys only to Nitro documents, and receipts name the simulated Nitro root.
  std::string platform = "nitro";
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
  // Sealed model delivery (docs/sealed-model.md): the model is sealed under a SimKms key and put
  // in SimS3; every stage boots without it and cold-starts through the host's vsock proxy.
  bool sealed = false;
  uint32_t chunk_size = 1u << 20;
  bool kms_policy_mismatch = false;  // the key policy admits another image: AccessDenied
  int kms_throttle = 0;              // KMS throttles this many requests first
  bool corrupt_chunk = false;        // the host flips a byte of sealed chunk 0 in flight
  // Stage 0 signs one AIR v1 receipt per request, its key bound into its boot evidence.
  bool receipts = false;
  // Scenarios (docs/scenarios.md). When `workload` is non-empty it replaces prompt/prompts/
  // requests/concurrency/max_new_tokens: one session per distinct SimWorkItem::session.
  std::vector<SimWorkItem> workload;
  // Explicit layer ranges [start, end) per stage (default: an even split).
  std::vector<std::pair<uint32_t, uint32_t>> layer_ranges;
  std::vector<SimFault> faults;                // applied by SimFaultInjector
  std::optional<SimLatencyMs> link_latency;    // host<->every node, one way (default 0.1 ms)
  uint64_t link_bandwidth_bytes_per_s = 0;     // 0: unlimited
  std::optional<SimLatencyMs> nsm_latency;     // default: the SimNsm's 60 ms / SNP firmware's 3 ms
  double max_virtual_ms = 0;                   // > 0: the world's time limit (a hang fails)
  std::ostream* trace_out = nullptr;           // JSON lines of every trace entry
};

struct SimPipelineRequest {
  std::vector<int32_t> tokens;
  std::string status;  // "OK" or "CODE: message"
  std::string code;    // "OK" or the code's name
  std::vector<std::vector<float>> logits;
  std::vector<double> token_ms;
  int attempts = 0;
  Bytes receipt;  // receipts: stage 0's AIR v1 receipt (COSE_Sign1)
};

// One stage boot (every incarnation of every stage boots once).
struct SimStageBoot {
  int stage = 0;
  std::string status = "pending";  // "OK" or "CODE: message"
  std::string code = "pending";
  keys::ColdStartTimings timings;  // sealed only
  keys::ColdStartStats stats;
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
  std::string stage_platform;  // what the orchestrator verified: sim-nitro, sim-sev-snp, mock-dev
  std::vector<std::string> timeline;
  std::vector<std::string> event_lines;
  uint64_t events = 0;
  std::string trace_hash;
  uint64_t unseed = 0;
  // Boots in the order they finished, and the key-delivery side's counters (sealed).
  std::vector<SimStageBoot> boots;
  bool sealed = false;
  Bytes model_hash;  // what receipts name: the sealed model's manifest hash
  std::string model_id, model_version;
  uint64_t kms_requests = 0, kms_throttled = 0, kms_denied = 0, kms_retries = 0, s3_gets = 0;
  uint64_t s3_retries = 0;      // the stages' object store clients' retries
  uint64_t service_errors = 0;  // KMS and S3 calls answered with an injected (kms_error/s3_error) error
  uint64_t host_tampered_bytes = 0, sealed_size = 0;
  // receipts: the signing stage's evidence (its latest boot) and the simulated root to check it.
  Bytes receipt_evidence;
  std::string receipt_evidence_root_pem;
  int64_t receipt_evidence_time_ms = 0;
  Bytes receipt_public_key;
  // receipts: every boot of stage 0 that signed (a restart brings a new key and new evidence):
  // a receipt must verify against one of them.
  struct ReceiptSigner {
    Bytes evidence;
    int64_t evidence_time_ms = 0;
  };
  std::vector<ReceiptSigner> receipt_signers;
  // receipts: KV caches and receipt records the live stages held once every request was done
  // (each request's release has come back by then): anything but 0 is a leak.
  uint64_t held_at_end = 0;
  // Fault accounting (scenarios): when each fault was injected, bytes the host altered, and
  // recovery: for every pipeline break, the time from the latest fault before it (or the break
  // itself) to the next ready pipeline; the longest one, and breaks never followed by a ready.
  std::vector<double> fault_ms;
  uint64_t tampered_segments = 0;
  std::vector<double> tamper_first_ms;  // per tamper fault that altered bytes: when it first did
  std::vector<SimCallTrigger> call_triggers;  // faults fired during a stage's KMS call
  double work_done_ms = -1;             // when the last request ended
  // Channels that failed on an integrity check (bad tag, sequence gap, replay, malformed or
  // oversize record, bad flags): the record layer caught the host, not a timeout.
  int integrity_failures = 0;
  double recovery_ms = 0;
  int unrecovered_breaks = 0;
  std::vector<double> broken_ms, ready_ms;
};

// Runs the world to the end. An error only for set-up problems (model, options); request
// failures are reported per request.
Result<SimPipelineReport> run_sim_pipeline(const SimPipelineOptions& options);

}  // namespace cpipe::cli

// Local multi-process pipelines over loopback TCP (`cpipe stage`, `run`, `up`, `manifest pin`,
// `bench pipeline`): the manifest for N stages on 127.0.0.1, the DEVELOPMENT-ONLY mock-dev
// attestation every local process uses, stage child processes (fork/exec of this binary, waiting
// for their "ready" line, SIGTERM/SIGKILL), and the orchestrator side run on a posix event loop
// with its per-token latencies. OS calls live here (apps/), never in core/.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/cpipe/child_process.h"
#include "backends/posix/posix_env.h"
#include "core/attest/mock_attestation.h"
#include "core/channel/secure_channel.h"
#include "core/pipeline/manifest.h"
#include "core/pipeline/orchestrator.h"
#include "model/tokenizer/bpe_tokenizer.h"

namespace cpipe::cli {

// ---- manifests ------------------------------------------------------------------------------

struct LocalManifestOptions {
  std::string model_dir;
  int stages = 2;
  std::string host = "127.0.0.1";
  // Stage i listens on control base+2i and data_in base+2i+1; the orchestrator's result
  // listener is base+2N. 0: ports the OS reports free right now (racy only in theory).
  uint16_t base_port = 0;
  bool pin_weights = true;  // weight_hashes from the model file, require_weight_hashes on
};

// N stages over even layer ranges, platform mock-dev, the mock image's measurement pinned,
// validated against the model.
Result<pipeline::Manifest> make_local_manifest(const LocalManifestOptions& options);

// The manifest checked against DIR/config.json (PIPELINE_MODEL_MISMATCH and friends).
Result<pipeline::Manifest> load_manifest_for_model(const std::string& manifest_path,
                                                   const std::string& model_dir);

Status write_text_file(const std::string& path, const std::string& text);

// ---- mock-dev attestation -----------------------------------------------------------------------

inline constexpr std::string_view kLocalAttestation = "mock-dev";

// What a local stage's mock document measures (the manifest pins it as "PCR0").
std::map<std::string, std::string> local_stage_measurements();

// Our mock-dev evidence and a verifier pinned to the mock platform key. Peers' measurements
// are checked by the pipeline against the manifest, not here.
struct LocalAttestation {
  std::unique_ptr<attest::MockAttestationProvider> provider;
  std::unique_ptr<attest::MockAttestationVerifier> verifier;
  channel::ChannelConfig channel(const std::string& name) const;
};
Result<LocalAttestation> make_local_attestation(runtime::Env& env, bool stage);

// ---- stage child processes ---------------------------------------------------------------------

struct StageProcessOptions {
  std::string program;  // the cpipe binary (default: this executable)
  std::string manifest_path;
  std::string model_dir;
  int threads = 1;
  std::string stderr_path;  // empty: inherit
  bool json_events = false;
  std::vector<std::string> extra_args;
  // Sealed stages (`cpipe stage --sealed FILE --dev-key FILE` instead of --model): they cold-start
  // and print "ready" once loaded (or once the cold start failed: they then refuse every init).
  std::string sealed_path;
  std::string dev_key_path;  // DEVELOPMENT ONLY
};

// `cpipe stage ...` for stage i (not waiting for it).
Result<std::unique_ptr<ChildProcess>> spawn_stage(const StageProcessOptions& options, int stage_idx);

// All stages of a manifest: spawned, then each one's "ready" line awaited.
// `ready_lines`, when given, receives each stage's ready line.
Result<std::vector<std::unique_ptr<ChildProcess>>> spawn_stages(const StageProcessOptions& options,
                                                                int stages, int ready_timeout_ms,
                                                                std::vector<std::string>* ready_lines = nullptr);
// SIGTERM to all, then wait; true when every one exited 0.
bool stop_stages(std::vector<std::unique_ptr<ChildProcess>>& stages, int timeout_ms = 5000);

// ---- the orchestrator as a local client ---------------------------------------------------------

struct LocalRunOptions {
  pipeline::Manifest manifest;
  std::vector<int32_t> prompt;
  int max_new_tokens = 16;
  int requests = 1;     // per session, one after another
  int concurrency = 1;  // sessions at once
  bool greedy_in_last_stage = false;
  bool keep_logits = false;
  runtime::Duration setup_timeout = std::chrono::seconds(30);
  runtime::Duration step_timeout = std::chrono::seconds(30);
  runtime::Duration health_interval = std::chrono::seconds(1);
  runtime::Duration health_timeout = std::chrono::seconds(2);
  runtime::Duration recovery_timeout = std::chrono::seconds(30);
  int max_attempts = 3;
  // Ask every stage for its counters before the first request and after the last one
  // (LocalRunReport::stage_work): a ping each, outside the measured requests.
  bool probe_stages = true;
  // Called every poll_interval on the loop thread while requests run (tests restart stages).
  std::function<void()> poll;
  runtime::Duration poll_interval = std::chrono::milliseconds(50);
};

struct LocalRequestOutcome {
  Status status;
  pipeline::GenerateResult result;
};

struct LocalRunReport {
  Status setup;  // the first pipeline build
  std::vector<LocalRequestOutcome> requests;  // session s, request r at s * requests + r
  double wall_ms = 0;                         // first request sent -> last one done
  std::string stage_platform;
  pipeline::OrchestratorStats stats;
  // probe_stages: what each stage did during the requests (counters after minus before); empty
  // when a probe failed or a stage restarted in between (its counters started over).
  std::vector<pipeline::StageCounters> stage_work;
  bool all_ok() const;
};

// Keeps the orchestrators (and the attestation they use) alive until the loop is gone: their
// tasks may still be suspended after shutdown().
struct LocalClient {
  explicit LocalClient(posix::PosixEnv& posix) : posix(&posix) {}
  ~LocalClient();
  LocalClient(const LocalClient&) = delete;
  LocalClient& operator=(const LocalClient&) = delete;
  LocalRunReport run(const LocalRunOptions& options);

  posix::PosixEnv* posix;
  std::vector<std::shared_ptr<void>> keep;
};

// ---- latency output -----------------------------------------------------------------------------

// Nearest-rank percentile (p in 0..100) of `values` (0 when empty).
double percentile(std::vector<double> values, double p);

// One request's latency JSON: ttft_ms, token_latencies_ms (decode steps), p50/p95/p99_ms,
// mean_ms, tokens_per_s, and the Rust pipeline's generation_tokens, latencies_ms, prompt_ms.
nlohmann::ordered_json request_latency_json(const pipeline::GenerateResult& result);
// The --latency-out document: the first request's fields at the top (as the Rust files), and
// with several requests a "requests" array and an "aggregate" over all of them.
nlohmann::ordered_json latency_report_json(const LocalRunReport& report);

// Prints a run (generated ids and text per request; JSON with --json, `extra` merged in), writes
// the latency JSON to `latency_out` when non-empty, and returns the exit code: 0 when every
// request succeeded, else 1 (the first failure's code printed).
int print_local_run(const LocalRunReport& report, const std::vector<int32_t>& prompt,
                    const model::BpeTokenizer* tokenizer, bool json, const std::string& latency_out,
                    const nlohmann::ordered_json& extra = nlohmann::ordered_json::object());

}  // namespace cpipe::cli

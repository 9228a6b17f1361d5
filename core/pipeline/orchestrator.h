// Orchestrator: the trusted client side of a pipeline (DESIGN.md "Pipeline"). It builds the
// pipeline — an attested control channel to every stage, init, the data chain from itself to
// stage 0 and from the last stage back — checks what the stages report (layer ranges, weight
// hashes, pinned measurements), and serves generate() calls from many sessions at once. Each
// session has one step in flight; steps of different sessions interleave, so different stages
// work on different requests at the same time.
//
// Failures: a lost channel, a failed health check, a step timeout or a tampered record breaks
// the pipeline; every step in flight fails, the orchestrator rebuilds the pipeline (restarted
// stages attest again) and each affected request starts over on the new pipeline, replaying the
// tokens it already produced (the same computations, so the same logits; a greedy replay that
// disagrees is PIPELINE_RETRY_DIVERGED, never a silently different token). A request ends with
// its full output or an explicit error: the session limit (RESOURCE_EXHAUSTED), no pipeline
// within recovery_timeout (UNAVAILABLE), attempts used up (PIPELINE_STAGE_FAILED), or an error a
// stage reported for the request itself (e.g. MODEL_CONTEXT_OVERFLOW).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/base/event.h"
#include "core/channel/secure_channel.h"
#include "core/pipeline/manifest.h"
#include "core/runtime/env.h"
#include "core/runtime/oneshot.h"
#include "model/sampling.h"

namespace cpipe::pipeline {

struct OrchestratorConfig {
  Manifest manifest;
  channel::ChannelConfig channel;
  // How to reach the stages when that differs from the manifest (a host relay in between, or
  // ports chosen at run time): one control route per stage, and stage 0's data_in.
  std::vector<runtime::Endpoint> control_routes;
  std::optional<runtime::Endpoint> data_route;
  // Where the last stage's output arrives (default: manifest.result_endpoint()).
  std::optional<runtime::Endpoint> result_listen;
  runtime::Duration connect_timeout = std::chrono::seconds(2);
  runtime::Duration setup_timeout = std::chrono::seconds(30);     // one pipeline build
  runtime::Duration health_interval = std::chrono::seconds(1);
  runtime::Duration health_timeout = std::chrono::seconds(1);     // ping -> pong
  runtime::Duration step_timeout = std::chrono::seconds(30);      // one token's round trip
  runtime::Duration recovery_timeout = std::chrono::seconds(60);  // wait for a new pipeline
  int max_attempts = 3;  // per request: the first try and the retries
  // The last stage picks the greedy token and sends only its id (no logits cross back).
  bool greedy_in_last_stage = false;
  // Ask stage 0 for an AIR v1 receipt of every successful request (docs/receipts.md): the
  // release carries the final token, the reply the receipt, which must verify with the key
  // stage 0 announced in ready before the result is returned (RECEIPT_INVALID otherwise).
  bool request_receipts = false;
};

struct GenerateRequest {
  std::vector<int32_t> prompt;
  int max_new_tokens = 16;
  model::SamplingParams sampling{.temperature = 0.0f};  // temperature <= 0: greedy
  std::optional<int32_t> stop_token;
  bool keep_logits = false;  // return every step's logits (not with greedy_in_last_stage)
};

struct GenerateResult {
  std::vector<int32_t> tokens;              // generated, without the prompt
  std::vector<std::vector<float>> logits;   // keep_logits: one vector per generated token
  double prompt_ms = 0;                     // prefill: request to first token (TTFT)
  std::vector<double> token_ms;             // per generated token; token_ms[0] == prompt_ms
  int attempts = 0;
  Bytes receipt;       // request_receipts: stage 0's AIR v1 receipt (COSE_Sign1)
  uint32_t receipt_stage = 0;  // the stage that signed it
};

struct OrchestratorStats {
  uint64_t pipelines_built = 0;   // successful builds (the first one and every recovery)
  uint64_t pipeline_failures = 0;
  uint64_t sessions_active = 0;
  uint64_t sessions_rejected = 0;  // over the session limit
  uint64_t retries = 0;
  uint64_t requests_ok = 0;
  uint64_t requests_failed = 0;
};

// What a stage said in its latest pong (cumulative since the stage process started).
struct StageCounters {
  uint32_t active_requests = 0;   // KV caches held
  uint64_t frames_processed = 0;
  uint64_t compute_us = 0;        // time in the model's forward passes
};

class Orchestrator {
 public:
  // `env` must outlive the orchestrator, and the orchestrator its tasks (shutdown(), then let
  // the executor run dry).
  Orchestrator(runtime::Env& env, OrchestratorConfig config);
  ~Orchestrator();
  Orchestrator(const Orchestrator&) = delete;
  Orchestrator& operator=(const Orchestrator&) = delete;

  // Listens for results and builds the pipeline once (setup_timeout).
  runtime::Task<Status> start();
  runtime::Task<Result<GenerateResult>> generate(GenerateRequest request);
  // Tells the stages to end the session, closes everything and stops health checks.
  runtime::Task<void> shutdown();

  // Pings every stage now and returns what each answers (index = stage): UNAVAILABLE without a
  // healthy pipeline, DEADLINE_EXCEEDED when one does not answer within health_timeout.
  runtime::Task<Result<std::vector<StageCounters>>> probe_stages();

  bool healthy() const;
  const OrchestratorStats& stats() const { return stats_; }
  // Receipt keys the stages announced in their last ready (index = stage).
  const std::vector<Bytes>& stage_receipt_keys() const { return receipt_keys_; }
  // The evidence each stage presented on its control channel in the current pipeline.
  const std::vector<runtime::VerifiedEvidence>& stage_evidence() const { return evidence_; }
  runtime::Endpoint result_endpoint() const;

 private:
  struct Link;
  struct StepReply;

  static runtime::Task<void> accept_results(Orchestrator* self);
  static runtime::Task<void> admit_result(Orchestrator* self, std::shared_ptr<runtime::Stream> s);
  static runtime::Task<Result<std::shared_ptr<Link>>> build(Orchestrator* self);
  static runtime::Task<Status> build_into(Orchestrator* self, std::shared_ptr<Link> link);
  static runtime::Task<void> rebuild_loop(Orchestrator* self);
  static runtime::Task<void> read_results(Orchestrator* self, std::shared_ptr<Link> link);
  static runtime::Task<void> read_control(Orchestrator* self, std::shared_ptr<Link> link, size_t i);
  static runtime::Task<void> health_loop(Orchestrator* self, std::shared_ptr<Link> link);
  static runtime::Task<void> send_pings(Orchestrator* self, std::shared_ptr<Link> link, uint64_t nonce);
  static runtime::Task<Result<std::shared_ptr<Link>>> ensure_link(Orchestrator* self);
  static runtime::Task<Status> run_once(Orchestrator* self, std::shared_ptr<Link> link,
                                        const GenerateRequest& request, GenerateResult& result);
  static runtime::Task<Result<StepReply>> step(Orchestrator* self, std::shared_ptr<Link> link,
                                               uint64_t request_id, uint32_t step, uint8_t flags,
                                               uint32_t value, std::span<const int32_t> tokens);
  // Sends one data frame (header and payload parts) for `request_id` down the chain and waits
  // for the reply the last stage sends back; a reply missing past step_timeout breaks the link.
  static runtime::Task<Result<StepReply>> exchange(Orchestrator* self, std::shared_ptr<Link> link,
                                                   uint64_t request_id, std::span<const ByteSpan> parts,
                                                   std::string what);
  static runtime::Task<void> release(Orchestrator* self, std::shared_ptr<Link> link,
                                     uint64_t request_id);
  static runtime::Task<Result<Bytes>> release_for_receipt(Orchestrator* self, std::shared_ptr<Link> link,
                                                         uint64_t request_id, uint32_t final_token,
                                                         std::string sampling);

  void mark_broken(Link& link, const Status& why);
  void notify_waiters(const Status& outcome);
  runtime::Endpoint control_route(size_t i) const;

  runtime::Env* env_;
  OrchestratorConfig config_;
  Logger log_;
  Bytes manifest_hash_;
  std::unique_ptr<runtime::Listener> result_listener_;
  std::shared_ptr<Link> link_;      // the healthy pipeline, if any
  std::shared_ptr<Link> building_;  // the pipeline being built (awaits its result channel)
  bool rebuilding_ = false;
  std::vector<runtime::Oneshot<Status>> waiters_;  // requests waiting for a pipeline
  bool shutting_down_ = false;
  uint64_t next_request_id_ = 1;
  uint64_t next_epoch_ = 1;
  std::vector<Bytes> receipt_keys_;
  std::vector<runtime::VerifiedEvidence> evidence_;
  OrchestratorStats stats_;
};

}  // namespace cpipe::pipeline

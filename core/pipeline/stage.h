// Stage: one pipeline stage as a server (DESIGN.md "Pipeline"). It listens on its control and
// data_in endpoints; the orchestrator connects to control over an attested channel and sends
// init; the stage then dials data_out (the next stage, or the orchestrator's result listener,
// possibly through the host's relay), and once both data links of the session are up and the
// upstream has said hello it answers ready. Data frames are computed one at a time on Compute
// and forwarded; each request has its own KV cache, created fresh by the request's start frame
// and dropped on release or error, in every stage.
//
// A new init (the orchestrator recovering from a failure) ends the previous session: its data
// channels are closed and its KV caches dropped. So does losing the control channel. kill()
// models the process dying: everything closes and every task ends; a restarted stage is a new
// Stage object on the same endpoints, which attests afresh.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "core/base/event.h"
#include "core/channel/secure_channel.h"
#include "core/pipeline/manifest.h"
#include "core/pipeline/stage_model.h"
#include "core/receipt/receipt_signer.h"
#include "core/pipeline/wire.h"
#include "core/runtime/async_mutex.h"
#include "core/runtime/env.h"
#include "core/runtime/oneshot.h"

namespace cpipe::pipeline {


struct StageConfig {
  Manifest manifest;
  uint32_t stage_idx = 0;
  // Our evidence and the check of every peer's (orchestrator, neighbours).
  channel::ChannelConfig channel;
  // Overrides of the manifest's listen endpoints (e.g. a port picked at random in tests).
  std::optional<runtime::Endpoint> control_listen;
  std::optional<runtime::Endpoint> data_in_listen;
  // Where to dial for data_out (default: the manifest's data_out).
  std::optional<runtime::Endpoint> data_out;
  // Building the data chain after init (dialling with retries, waiting for the upstream hello)
  // must finish within this; otherwise the stage refuses the init.
  runtime::Duration init_timeout = std::chrono::seconds(30);
  runtime::Duration connect_timeout = std::chrono::seconds(2);
  // Simulated compute cost per layer per token (the simulator's clock advances by it).
  runtime::Duration cost_per_layer_token{0};
  // Run single-token (decode) steps directly on the executor's thread instead of on Compute.
  // A stage process computes one frame at a time anyway; handing a ~10 ms decode step to a worker
  // and back costs two thread wake-ups per hop, which is most of the relay overhead on a real
  // machine. Prefill (T > 1) still goes to Compute, so a long prompt cannot stall the control
  // channel's health answers. Leave off in the simulator: there Compute advances virtual time.
  bool inline_decode = false;
  // The receipt signing key's public half, announced in ready.
  Bytes receipt_public_key;
  // Stage 0 with a signer issues one AIR v1 receipt per released request the orchestrator asks
  // one for (docs/receipts.md). The signer outlives the stage and is bound to evidence first.
  receipt::ReceiptSigner* receipt_signer = nullptr;
};

struct StageStats {
  uint64_t sessions = 0;           // inits accepted
  uint64_t frames_processed = 0;   // data frames computed or forwarded
  uint64_t requests_started = 0;   // fresh KV caches created
  uint64_t requests_released = 0;
  uint32_t active_requests = 0;    // KV caches held now
  uint32_t receipt_records = 0;    // stage 0 with a signer: open requests' receipt records
  // Clock time inside the model's forward passes (not queueing, channels or sends); in the
  // simulator compute is a virtual cost charged around the call, so this stays 0 there.
  uint64_t compute_ns = 0;
  bool ready = false;              // a session is established
};

class Stage {
 public:
  // `model` may be null (no model key yet); set_model() or refuse() says what happens then.
  Stage(runtime::Env& env, StageConfig config, StageModel* model);
  ~Stage();
  Stage(const Stage&) = delete;
  Stage& operator=(const Stage&) = delete;

  // Binds the control and data_in listeners and starts accepting. The stage must stay alive
  // until its tasks are done (kill() ends them; the executor must then run dry).
  Status start();
  // Clears a refusal: a stage that refused while its cold start ran serves once it has loaded.
  void set_model(StageModel* model) {
    model_ = model;
    refusal_ = Status::Ok();
  }
  // The stage cannot serve (e.g. the key service said AccessDenied): every init is answered
  // with this error until set_model().
  void refuse(Status why) { refusal_ = std::move(why); }
  // The process dies: listeners and channels close without a goodbye, state is dropped.
  void kill();
  bool killed() const { return killed_; }

  const StageStats& stats() const { return stats_; }
  const StageConfig& config() const { return config_; }
  runtime::Endpoint control_endpoint() const;
  runtime::Endpoint data_in_endpoint() const;

 private:
  struct Session;  // one init's data links and KV caches

  static runtime::Task<void> accept_control(Stage* self);
  static runtime::Task<void> accept_data(Stage* self);
  static runtime::Task<void> serve_control(Stage* self, std::shared_ptr<runtime::Stream> stream);
  static runtime::Task<void> admit_data_in(Stage* self, std::shared_ptr<runtime::Stream> stream);
  static runtime::Task<Status> establish(Stage* self, std::shared_ptr<Session> session);
  static runtime::Task<Result<std::unique_ptr<channel::SecureChannel>>> dial_data_out(
      Stage* self, std::shared_ptr<Session> session);
  static runtime::Task<void> run_data(Stage* self, std::shared_ptr<Session> session);
  // Control sends come from the control loop and from data loops reporting a fault: one at a time.
  static runtime::Task<Status> send_control(Stage* self, std::shared_ptr<channel::SecureChannel> ch,
                                            const ControlMessage& message);
  static runtime::Task<void> report_fault(Stage* self, std::shared_ptr<Session> session, std::string where,
                                          Status why);
  static runtime::Task<Status> process(Stage* self, Session& session, ByteSpan frame);
  static runtime::Task<Status> forward_release(Stage* self, Session& session, const DataFrame& frame);

  void end_session(const char* why);
  // Wakes the data_in hellos waiting for their session's init (an init came, or was refused).
  void wake_hello_waiters();
  bool current(const Session& s) const;
  const StageSpec& spec() const { return config_.manifest.stages[config_.stage_idx]; }
  const StageSpec* upstream_spec() const;
  const StageSpec* downstream_spec() const;

  runtime::Env* env_;
  StageConfig config_;
  StageModel* model_;
  Status refusal_;
  Logger log_;
  Bytes manifest_hash_;
  std::unique_ptr<runtime::Listener> control_listener_;
  std::unique_ptr<runtime::Listener> data_listener_;
  std::shared_ptr<Session> session_;
  std::shared_ptr<channel::SecureChannel> control_;  // the live control channel, if any
  runtime::AsyncMutex control_send_;
  std::vector<runtime::Oneshot<bool>> hello_waiters_;
  Bytes refused_session_;  // the last init this stage refused
  uint64_t control_generation_ = 0;
  bool killed_ = false;
  StageStats stats_;
};

}  // namespace cpipe::pipeline

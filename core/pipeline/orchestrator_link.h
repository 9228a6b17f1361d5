// Inside the orchestrator (not part of its interface): one built pipeline — its channels, the
// steps waiting for replies, what the stages last said — shared by orchestrator.cc (build,
// steps, rebuild) and orchestrator_health.cc (health checks, probes).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/channel/secure_channel.h"
#include "core/pipeline/orchestrator.h"
#include "core/runtime/async_mutex.h"

namespace cpipe::pipeline {

struct Orchestrator::StepReply {
  int32_t token = -1;         // kToken
  std::vector<float> logits;  // kLogits
  Bytes receipt;              // kRelease answering a receipt request (empty: nobody signed)
};

struct Orchestrator::Link {
  explicit Link(runtime::Executor& ex) : result_ready(ex), send_lock(ex), control_lock(ex) {}
  uint64_t epoch = 0;
  Bytes session_id;
  std::vector<std::unique_ptr<channel::SecureChannel>> control;
  std::unique_ptr<channel::SecureChannel> data_out;   // to stage 0
  std::unique_ptr<channel::SecureChannel> result_in;  // from the last stage
  runtime::Oneshot<Status> result_ready;
  runtime::AsyncMutex send_lock;     // data_out: one send at a time
  runtime::AsyncMutex control_lock;  // control channels: pings and shutdown
  std::map<uint64_t, runtime::Oneshot<Result<StepReply>>> pending;
  std::vector<uint64_t> last_pong;
  std::vector<StageCounters> counters;  // from each stage's latest pong
  // probe_stages() calls waiting for every stage to answer ping `nonce`.
  std::vector<std::pair<uint64_t, runtime::Oneshot<Status>>> probes;
  uint64_t ping_nonce = 0;
  Status broken;  // OK while usable
  std::vector<Bytes> receipt_keys;
  std::vector<runtime::VerifiedEvidence> evidence;
  bool refused = false;  // a stage answered init with refuse
};

inline Status stage_failed(std::string what) {
  return make_error(ErrorCode::PIPELINE_STAGE_FAILED, std::move(what));
}

}  // namespace cpipe::pipeline

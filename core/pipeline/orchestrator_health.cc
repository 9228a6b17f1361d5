// Orchestrator health: the control channels' readers (pongs), periodic pings with a deadline
// (a stage that misses one breaks the pipeline), and probe_stages() for a client that wants the
// stages' counters now.
#include <algorithm>

#include "core/pipeline/orchestrator.h"
#include "core/pipeline/orchestrator_link.h"
#include "core/pipeline/wire.h"

namespace cpipe::pipeline {

using runtime::Task;

Task<void> Orchestrator::read_control(Orchestrator* self, std::shared_ptr<Link> link, size_t i) {
  while (link->broken.ok()) {
    auto message = co_await link->control[i]->receive();
    if (!link->broken.ok()) break;
    if (!message.ok()) {
      self->mark_broken(*link, stage_failed("control channel to stage " + std::to_string(i) +
                                            " lost: " + message.status().to_string()));
      break;
    }
    auto msg = decode_control(message->payload);
    if (msg.ok() && msg->type == ControlType::kFault) {
      // Kept as a stage failure (the request's code does not depend on which stage saw it
      // first); the message names the stage and what its channel said, e.g. a bad tag.
      self->mark_broken(*link, stage_failed("stage " + std::to_string(i) + " reported " + msg->message));
      break;
    }
    if (!msg.ok() || msg->type != ControlType::kPong) {
      self->mark_broken(*link, make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR,
                                          "unexpected control message from stage " + std::to_string(i)));
      break;
    }
    link->last_pong[i] = std::max(link->last_pong[i], msg->nonce);
    link->counters[i] = StageCounters{.active_requests = msg->active_requests,
                                      .frames_processed = msg->frames_processed,
                                      .compute_us = msg->compute_us};
    uint64_t answered = *std::min_element(link->last_pong.begin(), link->last_pong.end());
    for (auto& [nonce, probe] : link->probes)  // each probe erases its own entry
      if (nonce <= answered) probe.set(Status::Ok());
  }
}

Task<void> Orchestrator::send_pings(Orchestrator* self, std::shared_ptr<Link> link, uint64_t nonce) {
  ControlMessage ping;
  ping.type = ControlType::kPing;
  ping.nonce = nonce;
  Bytes bytes = encode_control(ping);
  auto guard = co_await link->control_lock.lock();
  for (size_t i = 0; i < link->control.size() && link->broken.ok(); ++i) {
    Status sent = co_await link->control[i]->send(bytes);
    if (!sent.ok() && link->broken.ok())
      self->mark_broken(*link, stage_failed("ping to stage " + std::to_string(i) +
                                            " failed: " + sent.to_string()));
  }
}

Task<Result<std::vector<StageCounters>>> Orchestrator::probe_stages() {
  std::shared_ptr<Link> link = link_;
  if (!link || !link->broken.ok()) co_return make_error(ErrorCode::UNAVAILABLE, "no healthy pipeline");
  uint64_t nonce = ++link->ping_nonce;
  runtime::Oneshot<Status> answered(*env_->executor);
  link->probes.emplace_back(nonce, answered);
  co_await send_pings(this, link, nonce);
  // A stage that does not answer is the health loop's business; the probe only gives up.
  runtime::ScopedTimer timeout(*env_->clock, config_.health_timeout, [answered] {
    answered.set(make_error(ErrorCode::DEADLINE_EXCEEDED, "a stage did not answer the probe in time"));
  });
  Status st = co_await answered;
  timeout.cancel();
  std::erase_if(link->probes, [nonce](auto& probe) { return probe.first == nonce; });
  if (!st.ok()) co_return st;
  co_return link->counters;
}

Task<void> Orchestrator::health_loop(Orchestrator* self, std::shared_ptr<Link> link) {
  runtime::Clock& clock = *self->env_->clock;
  while (link->broken.ok() && !self->shutting_down_) {
    co_await runtime::sleep_for(clock, self->config_.health_interval);
    if (!link->broken.ok() || self->shutting_down_) break;
    uint64_t nonce = ++link->ping_nonce;
    co_await send_pings(self, link, nonce);
    co_await runtime::sleep_for(clock, self->config_.health_timeout);
    for (size_t i = 0; i < link->control.size() && link->broken.ok(); ++i) {
      if (link->last_pong[i] < nonce)
        self->mark_broken(*link, stage_failed("stage " + std::to_string(i) +
                                              " missed its health check"));
    }
  }
}

}  // namespace cpipe::pipeline

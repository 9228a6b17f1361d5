// Orchestrator: building, rebuilding and shutting down the pipeline (orchestrator.h); requests
// (the token loop with retry, receipts) are orchestrator_requests.cc, health checks and probes
// orchestrator_health.cc.
#include "core/pipeline/orchestrator.h"

#include <algorithm>
#include <cstring>

#include "core/pipeline/orchestrator_link.h"
#include "core/pipeline/peer_policy.h"
#include "core/pipeline/wire.h"

namespace cpipe::pipeline {

using channel::SecureChannel;
using runtime::Task;

namespace {

// A code that came over the wire: kept when it is one of ours, otherwise a stage failure.
ErrorCode code_from_wire(uint32_t value) {
  auto code = ErrorCode(int32_t(value));
  if (code == ErrorCode::OK || error_code_name(code) == "UNKNOWN")
    return ErrorCode::PIPELINE_STAGE_FAILED;
  return code;
}

channel::ChannelConfig named(channel::ChannelConfig config, std::string name) {
  config.name = std::move(name);
  return config;
}

}  // namespace

Orchestrator::Orchestrator(runtime::Env& env, OrchestratorConfig config)
    : env_(&env),
      config_(std::move(config)),
      log_(env.logger("orchestrator")),
      manifest_hash_(manifest_hash(config_.manifest)) {}

Orchestrator::~Orchestrator() = default;

bool Orchestrator::healthy() const { return link_ && link_->broken.ok(); }

runtime::Endpoint Orchestrator::result_endpoint() const {
  return result_listener_ ? result_listener_->local_endpoint()
                          : config_.result_listen.value_or(config_.manifest.result_endpoint());
}

runtime::Endpoint Orchestrator::control_route(size_t i) const {
  return i < config_.control_routes.size() ? config_.control_routes[i]
                                           : config_.manifest.stages[i].endpoint.control;
}

Task<Status> Orchestrator::start() {
  if (config_.manifest.stages.empty())
    co_return make_error(ErrorCode::PIPELINE_BAD_MANIFEST, "the manifest has no stages");
  auto listener = env_->network->listen(
      config_.result_listen.value_or(config_.manifest.result_endpoint()));
  if (!listener.ok()) co_return listener.status().with_context("result listener");
  result_listener_ = std::move(*listener);
  runtime::spawn(*env_->executor, accept_results(this));
  auto link = co_await build(this);
  co_return link.ok() ? Status::Ok() : link.status();
}

void Orchestrator::mark_broken(Link& link, const Status& why) {
  if (!link.broken.ok()) return;
  link.broken = why;
  // CANCELLED is our own shutdown, not news.
  if (why.code() == ErrorCode::CANCELLED)
    log_.info("pipeline closed", {{"epoch", std::to_string(link.epoch)}});
  else
    log_.warn("pipeline broken", {{"epoch", std::to_string(link.epoch)}, {"why", why.to_string()}});
  for (auto& ch : link.control)
    if (ch) ch->abort();
  if (link.data_out) link.data_out->abort();
  if (link.result_in) link.result_in->abort();
  link.result_ready.set(why);
  for (auto& [id, reply] : link.pending) reply.set(stage_failed("pipeline broke: " + why.to_string()));
  for (auto& [nonce, probe] : link.probes) probe.set(stage_failed("pipeline broke: " + why.to_string()));
  link.probes.clear();
  if (link_.get() == &link) {
    if (why.code() != ErrorCode::CANCELLED) stats_.pipeline_failures++;
    link_.reset();  // last: `link` may die with it
  }
}

void Orchestrator::notify_waiters(const Status& outcome) {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) w.set(outcome);
}

Task<void> Orchestrator::accept_results(Orchestrator* self) {
  while (!self->shutting_down_) {
    auto stream = co_await self->result_listener_->accept();
    if (!stream.ok()) break;
    runtime::spawn(*self->env_->executor, admit_result(self, std::move(*stream)));
  }
}

Task<void> Orchestrator::admit_result(Orchestrator* self, std::shared_ptr<runtime::Stream> stream) {
  auto accepted = co_await SecureChannel::accept(*self->env_, std::move(stream),
                                                 named(self->config_.channel, "result"));
  if (!accepted.ok()) {
    self->log_.warn("result handshake failed", {{"error", accepted.status().to_string()}});
    co_return;
  }
  std::unique_ptr<SecureChannel> ch = std::move(*accepted);
  SecureChannel* raw = ch.get();
  runtime::ScopedTimer silence(*self->env_->clock, self->config_.setup_timeout,
                               [raw] { raw->abort(); });
  auto received = co_await ch->receive();
  silence.cancel();
  const uint32_t last = uint32_t(self->config_.manifest.stages.size() - 1);
  std::shared_ptr<Link> link = self->building_;
  Status why;
  Result<DataFrame> hello = received.ok() ? decode_data_frame(received->payload)
                                          : Result<DataFrame>(received.status());
  if (!hello.ok()) {
    why = hello.status();
  } else if (hello->header.kind != DataKind::kHello) {
    why = make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR, "result channel did not start with hello");
  } else if (!link || !link->broken.ok() || hello->session_id != link->session_id) {
    why = make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR, "hello for a session not being built");
  } else if (hello->upstream != last) {
    why = make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR,
                     "result hello from stage " + std::to_string(hello->upstream));
  } else if (link->result_in) {
    why = make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR, "second result channel for one session");
  } else {
    why = check_stage_evidence(self->config_.manifest, self->config_.manifest.stages[last],
                               ch->peer_evidence());
  }
  if (!why.ok()) {
    self->log_.warn("result channel rejected", {{"error", why.to_string()}});
    ch->abort();
    co_return;
  }
  link->result_in = std::move(ch);
  link->result_ready.set(Status::Ok());
}

Task<Result<std::shared_ptr<Orchestrator::Link>>> Orchestrator::build(Orchestrator* self) {
  auto link = std::make_shared<Link>(*self->env_->executor);
  link->epoch = self->next_epoch_++;
  link->session_id = self->env_->random->bytes(kSessionIdSize);
  self->building_ = link;
  Status st;
  {
    Link* raw = link.get();
    runtime::ScopedTimer deadline(*self->env_->clock, self->config_.setup_timeout, [self, raw] {
      self->mark_broken(*raw, make_error(ErrorCode::DEADLINE_EXCEEDED,
                                         "pipeline set-up did not finish in time"));
    });
    st = co_await build_into(self, link);
    if (st.ok() && !link->broken.ok()) st = link->broken;
  }
  if (self->building_ == link) self->building_.reset();
  if (!st.ok()) {
    self->mark_broken(*link, st);
    // A stage that refused says why in its code (KEYS_ACCESS_DENIED: no model key for this
    // image; a weight or manifest mismatch): the caller gets that code, not a generic failure.
    if (link->refused) co_return st.with_context("building the pipeline failed");
    co_return stage_failed("building the pipeline failed: " + st.to_string());
  }
  if (self->shutting_down_) {
    self->mark_broken(*link, make_error(ErrorCode::CANCELLED, "shutting down"));
    co_return make_error(ErrorCode::CANCELLED, "shutting down");
  }
  self->link_ = link;
  self->receipt_keys_ = link->receipt_keys;
  self->evidence_ = link->evidence;
  self->stats_.pipelines_built++;
  self->log_.info("pipeline ready", {{"epoch", std::to_string(link->epoch)},
                                     {"stages", std::to_string(link->control.size())}});
  link->last_pong.assign(link->control.size(), 0);
  link->counters.assign(link->control.size(), StageCounters{});
  runtime::spawn(*self->env_->executor, read_results(self, link));
  for (size_t i = 0; i < link->control.size(); ++i)
    runtime::spawn(*self->env_->executor, read_control(self, link, i));
  runtime::spawn(*self->env_->executor, health_loop(self, link));
  co_return link;
}

Task<Status> Orchestrator::build_into(Orchestrator* self, std::shared_ptr<Link> link) {
  runtime::Env& env = *self->env_;
  const Manifest& m = self->config_.manifest;
  auto dial = [&](runtime::Endpoint to) { return env.network->connect(to, self->config_.connect_timeout); };
  for (size_t i = 0; i < m.stages.size(); ++i) {
    std::string who = "stage " + std::to_string(i);
    auto stream = co_await dial(self->control_route(i));
    if (!stream.ok()) co_return stream.status().with_context(who + " control");
    if (!link->broken.ok()) co_return link->broken;
    auto ch = co_await SecureChannel::connect(env, std::move(*stream),
                                              named(self->config_.channel, "control" + std::to_string(i)));
    if (!ch.ok()) co_return ch.status().with_context(who + " control");
    link->control.push_back(std::move(*ch));
    if (!link->broken.ok()) co_return link->broken;
    SecureChannel& control = *link->control.back();
    CPIPE_CO_RETURN_IF_ERROR(check_stage_evidence(m, m.stages[i], control.peer_evidence()));
    link->evidence.push_back(control.peer_evidence());
    ControlMessage init;
    init.type = ControlType::kInit;
    init.session_id = link->session_id;
    init.stage_idx = uint32_t(i);
    init.manifest_hash = self->manifest_hash_;
    CPIPE_CO_RETURN_IF_ERROR(co_await control.send(encode_control(init)));
  }
  {
    auto stream = co_await dial(self->config_.data_route.value_or(m.stages[0].endpoint.data_in));
    if (!stream.ok()) co_return stream.status().with_context("stage 0 data_in");
    if (!link->broken.ok()) co_return link->broken;
    auto ch = co_await SecureChannel::connect(env, std::move(*stream),
                                              named(self->config_.channel, "data"));
    if (!ch.ok()) co_return ch.status().with_context("stage 0 data_in");
    link->data_out = std::move(*ch);
    if (!link->broken.ok()) co_return link->broken;
    CPIPE_CO_RETURN_IF_ERROR(check_stage_evidence(m, m.stages[0], link->data_out->peer_evidence()));
    uint8_t header[kDataHeaderSize];
    encode_data_header(DataHeader{.kind = DataKind::kHello}, header);
    Bytes body = encode_hello_body(link->session_id, kOrchestratorIndex);
    ByteSpan parts[2] = {ByteSpan(header, kDataHeaderSize), body};
    CPIPE_CO_RETURN_IF_ERROR(co_await link->data_out->send_parts(parts));
  }
  for (size_t i = 0; i < m.stages.size(); ++i) {
    std::string who = "stage " + std::to_string(i);
    auto received = co_await link->control[i]->receive();
    if (!link->broken.ok()) co_return link->broken;
    if (!received.ok()) co_return received.status().with_context(who + " before ready");
    CPIPE_CO_ASSIGN_OR_RETURN(ControlMessage msg, decode_control(received->payload));
    if (msg.type == ControlType::kRefuse) {
      link->refused = true;
      co_return Status(code_from_wire(msg.code), who + " refused: " + msg.message);
    }
    if (msg.type == ControlType::kFault) co_return stage_failed(who + " reported " + msg.message);
    if (msg.type != ControlType::kReady || msg.stage_idx != i)
      co_return make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR, who + " did not answer init with ready");
    const StageSpec& spec = m.stages[i];
    if (msg.layer_start != spec.layer_start || msg.layer_end != spec.layer_end)
      co_return make_error(ErrorCode::PIPELINE_MODEL_MISMATCH,
                           who + " serves layers " + std::to_string(msg.layer_start) + ".." +
                               std::to_string(msg.layer_end) + ", the manifest says " +
                               std::to_string(spec.layer_start) + ".." + std::to_string(spec.layer_end));
    if ((!spec.weight_hashes.empty() || m.require_weight_hashes) && msg.weight_hashes != spec.weight_hashes)
      co_return make_error(ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH,
                           who + " loaded weights whose hashes differ from the manifest's");
    link->receipt_keys.push_back(msg.receipt_public_key);
  }
  Status result = co_await link->result_ready;
  if (!result.ok()) co_return result.with_context("result channel from the last stage");
  co_return link->broken;
}

Task<void> Orchestrator::read_results(Orchestrator* self, std::shared_ptr<Link> link) {
  while (link->broken.ok()) {
    auto message = co_await link->result_in->receive();
    if (!link->broken.ok()) break;
    if (!message.ok()) {
      self->mark_broken(*link, stage_failed("result channel lost: " + message.status().to_string()));
      break;
    }
    auto frame = decode_data_frame(message->payload);
    if (!frame.ok()) {
      self->mark_broken(*link, frame.status());
      break;
    }
    const DataHeader& h = frame->header;
    Result<StepReply> reply = StepReply{};
    if (h.kind == DataKind::kLogits) {
      const auto& t = frame->tensor.header;
      if (t.dtype != codec::DType::F32 || t.shape.size() != 2 || t.shape[0] != 1) {
        self->mark_broken(*link, make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR,
                                            "logits must be F32 [1, vocab]"));
        break;
      }
      reply->logits.resize(t.shape[1]);
      std::memcpy(reply->logits.data(), frame->tensor.data.data(), frame->tensor.data.size());
    } else if (h.kind == DataKind::kToken) {
      reply->token = int32_t(h.value);
    } else if (h.kind == DataKind::kError) {
      reply = Status(code_from_wire(h.value), "stage reported: " + frame->message);
    } else if (h.kind == DataKind::kRelease) {
      if (!(h.flags & (kFlagReceipt | kFlagReceiptRequest))) continue;
      if (h.flags & kFlagReceipt) reply->receipt.assign(frame->body.begin(), frame->body.end());
    } else {
      self->mark_broken(*link, make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR,
                                          std::string(data_kind_name(h.kind)) + " frame on the result channel"));
      break;
    }
    auto it = link->pending.find(h.request_id);
    if (it != link->pending.end()) it->second.set(std::move(reply));
  }
}

Task<void> Orchestrator::rebuild_loop(Orchestrator* self) {
  runtime::Clock& clock = *self->env_->clock;
  runtime::MonoTime give_up = clock.now() + self->config_.recovery_timeout;
  runtime::Duration backoff = std::chrono::milliseconds(50);
  Status last = make_error(ErrorCode::UNAVAILABLE, "not attempted");
  while (!self->shutting_down_ && clock.now() < give_up) {
    auto built = co_await build(self);
    if (built.ok()) {
      self->rebuilding_ = false;
      self->notify_waiters(Status::Ok());
      co_return;
    }
    last = built.status();
    co_await runtime::sleep_for(clock, backoff);
    backoff = std::min<runtime::Duration>(backoff * 2, std::chrono::seconds(2));
  }
  self->rebuilding_ = false;
  self->notify_waiters(self->shutting_down_
                           ? make_error(ErrorCode::CANCELLED, "shutting down")
                           : make_error(ErrorCode::UNAVAILABLE,
                                        "no pipeline within the recovery timeout; last attempt: " +
                                            last.to_string()));
}

Task<Result<std::shared_ptr<Orchestrator::Link>>> Orchestrator::ensure_link(Orchestrator* self) {
  if (self->link_ && self->link_->broken.ok()) co_return self->link_;
  if (self->shutting_down_) co_return make_error(ErrorCode::CANCELLED, "shutting down");
  runtime::Oneshot<Status> ready(*self->env_->executor);
  self->waiters_.push_back(ready);
  if (!self->rebuilding_) {
    self->rebuilding_ = true;
    runtime::spawn(*self->env_->executor, rebuild_loop(self));
  }
  Status st = co_await ready;
  if (!st.ok()) co_return st;
  if (!self->link_) co_return stage_failed("the rebuilt pipeline broke again at once");
  co_return self->link_;
}

Task<void> Orchestrator::shutdown() {
  if (shutting_down_) co_return;
  shutting_down_ = true;
  if (result_listener_) result_listener_->close();
  if (building_) mark_broken(*building_, make_error(ErrorCode::CANCELLED, "shutting down"));
  if (std::shared_ptr<Link> link = link_) {
    ControlMessage bye;
    bye.type = ControlType::kShutdown;
    Bytes bytes = encode_control(bye);
    {
      auto guard = co_await link->control_lock.lock();
      for (auto& ch : link->control)
        if (link->broken.ok()) (void)co_await ch->send(bytes);
    }
    mark_broken(*link, make_error(ErrorCode::CANCELLED, "shutting down"));
  }
  notify_waiters(make_error(ErrorCode::CANCELLED, "shutting down"));
}

}  // namespace cpipe::pipeline

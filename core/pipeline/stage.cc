// Stage server: control protocol and data-chain set-up (stage.h); what a stage does with each data
// frame is stage_frames.cc.
#include "core/pipeline/stage.h"

#include <algorithm>

#include "core/pipeline/peer_policy.h"
#include "core/pipeline/stage_session.h"
#include "core/pipeline/wire.h"

namespace cpipe::pipeline {

using channel::SecureChannel;
using runtime::Task;

Stage::Stage(runtime::Env& env, StageConfig config, StageModel* model)
    : env_(&env),
      config_(std::move(config)),
      model_(model),
      log_(env.logger("stage" + std::to_string(config_.stage_idx))),
      manifest_hash_(manifest_hash(config_.manifest)),
      control_send_(*env.executor) {}

Stage::~Stage() = default;

runtime::Endpoint Stage::control_endpoint() const {
  return control_listener_ ? control_listener_->local_endpoint()
                           : config_.control_listen.value_or(spec().endpoint.control);
}

runtime::Endpoint Stage::data_in_endpoint() const {
  return data_listener_ ? data_listener_->local_endpoint()
                        : config_.data_in_listen.value_or(spec().endpoint.data_in);
}

const StageSpec* Stage::upstream_spec() const {
  return config_.stage_idx == 0 ? nullptr : &config_.manifest.stages[config_.stage_idx - 1];
}

const StageSpec* Stage::downstream_spec() const {
  size_t next = size_t(config_.stage_idx) + 1;
  return next < config_.manifest.stages.size() ? &config_.manifest.stages[next] : nullptr;
}

Status Stage::start() {
  if (config_.stage_idx >= config_.manifest.stages.size())
    return make_error(ErrorCode::INVALID_ARGUMENT,
                      "stage index " + std::to_string(config_.stage_idx) + " is not in the manifest");
  CPIPE_ASSIGN_OR_RETURN(control_listener_,
                         env_->network->listen(config_.control_listen.value_or(spec().endpoint.control)));
  CPIPE_ASSIGN_OR_RETURN(data_listener_,
                         env_->network->listen(config_.data_in_listen.value_or(spec().endpoint.data_in)));
  log_.info("listening", {{"control", control_listener_->local_endpoint().to_string()},
                          {"data_in", data_listener_->local_endpoint().to_string()},
                          {"layers", std::to_string(spec().layer_start) + ".." +
                                         std::to_string(spec().layer_end)}});
  runtime::spawn(*env_->executor, accept_control(this));
  runtime::spawn(*env_->executor, accept_data(this));
  return Status::Ok();
}

void Stage::kill() {
  if (killed_) return;
  killed_ = true;
  log_.warn("killed");
  if (control_listener_) control_listener_->close();
  if (data_listener_) data_listener_->close();
  end_session("process killed");
  if (control_) control_->abort();
  wake_hello_waiters();
}

void Stage::wake_hello_waiters() {
  auto waiters = std::move(hello_waiters_);
  hello_waiters_.clear();
  for (auto& w : waiters) w.set(true);
}

bool Stage::current(const Session& s) const {
  return !killed_ && !s.ended && session_.get() == &s;
}

void Stage::end_session(const char* why) {
  if (!session_) return;
  std::shared_ptr<Session> s = std::move(session_);
  s->ended = true;
  if (s->data_in) s->data_in->abort();
  if (s->data_out) s->data_out->abort();
  s->upstream_ready.set(make_error(ErrorCode::CANCELLED, why));
  // The data loop may be inside a compute job that uses a sequence; it drops them on exit.
  if (!s->data_running) s->sequences.clear();
  s->receipts.clear();
  stats_.active_requests = 0;
  stats_.receipt_records = 0;
  stats_.ready = false;
  log_.info("session ended", {{"why", why}});
}

Task<void> Stage::accept_control(Stage* self) {
  while (!self->killed_) {
    auto stream = co_await self->control_listener_->accept();
    if (!stream.ok()) break;
    runtime::spawn(*self->env_->executor, serve_control(self, std::move(*stream)));
  }
}

Task<void> Stage::accept_data(Stage* self) {
  while (!self->killed_) {
    auto stream = co_await self->data_listener_->accept();
    if (!stream.ok()) break;
    runtime::spawn(*self->env_->executor, admit_data_in(self, std::move(*stream)));
  }
}

namespace {

// The stage's own check that it loaded the weights the manifest pins (the orchestrator checks
// what the stage reports, too; this one holds even against a careless orchestrator).
Status check_loaded_weights(const StageSpec& spec, bool require, const std::vector<std::string>& loaded) {
  if (spec.weight_hashes.empty() && !require) return Status::Ok();
  if (spec.weight_hashes.empty())
    return make_error(ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH,
                      "the manifest requires weight hashes but pins none for this stage");
  if (loaded.size() != spec.weight_hashes.size())
    return make_error(ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH,
                      "loaded " + std::to_string(loaded.size()) + " tensors, the manifest pins " +
                          std::to_string(spec.weight_hashes.size()));
  for (size_t i = 0; i < loaded.size(); ++i)
    if (loaded[i] != spec.weight_hashes[i])
      return make_error(ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH,
                        "loaded tensor #" + std::to_string(i) + " hashes to " + loaded[i] +
                            ", the manifest pins " + spec.weight_hashes[i]);
  return Status::Ok();
}

ControlMessage refuse_message(const Status& why) {
  ControlMessage m;
  m.type = ControlType::kRefuse;
  m.code = uint16_t(why.code());
  m.message = why.message();
  return m;
}

channel::ChannelConfig named(channel::ChannelConfig config, std::string name) {
  config.name = std::move(name);
  return config;
}

}  // namespace

Task<void> Stage::serve_control(Stage* self, std::shared_ptr<runtime::Stream> stream) {
  auto accepted = co_await SecureChannel::accept(*self->env_, std::move(stream),
                                                 named(self->config_.channel, "control"));
  if (!accepted.ok()) {
    self->log_.warn("control handshake failed", {{"error", accepted.status().to_string()}});
    co_return;
  }
  // Shared: a data loop reporting a fault may still be sending on it when this loop ends.
  std::shared_ptr<SecureChannel> ch = std::move(*accepted);
  if (self->killed_) {
    ch->abort();
    co_return;
  }
  uint64_t generation = ++self->control_generation_;
  self->control_ = ch;
  while (!self->killed_) {
    auto received = co_await ch->receive();
    if (!received.ok() || self->killed_) break;
    auto message = decode_control(received->payload);
    if (!message.ok()) {
      self->log_.warn("bad control message", {{"error", message.status().to_string()}});
      break;
    }
    Status sent;
    if (message->type == ControlType::kInit) {
      Status why = self->refusal_;
      if (why.ok() && !self->model_)
        why = make_error(ErrorCode::FAILED_PRECONDITION, "no model loaded");
      if (why.ok() && message->stage_idx != self->config_.stage_idx)
        why = make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR,
                         "init for stage " + std::to_string(message->stage_idx) + " reached stage " +
                             std::to_string(self->config_.stage_idx));
      if (why.ok())
        why = check_loaded_weights(self->spec(), self->config_.manifest.require_weight_hashes,
                                   self->model_->weight_hashes());
      if (why.ok() && message->manifest_hash != self->manifest_hash_)
        why = make_error(ErrorCode::PIPELINE_MODEL_MISMATCH,
                         "the orchestrator runs a different manifest (hash " +
                             hex_encode(message->manifest_hash) + ")");
      if (why.ok()) {
        self->end_session("superseded by a new init");
        auto session = std::make_shared<Session>(*self->env_->executor, generation);
        session->session_id = message->session_id;
        self->session_ = session;
        self->wake_hello_waiters();
        self->stats_.sessions++;
        why = co_await establish(self, session);
        if (self->killed_) break;
        if (!why.ok() && self->session_ == session) self->end_session("init failed");
      }
      if (why.ok()) {
        ControlMessage ready;
        ready.type = ControlType::kReady;
        ready.stage_idx = self->config_.stage_idx;
        ready.layer_start = self->spec().layer_start;
        ready.layer_end = self->spec().layer_end;
        ready.weight_hashes = self->model_->weight_hashes();
        ready.receipt_public_key = self->config_.receipt_public_key;
        self->stats_.ready = true;
        self->log_.info("ready", {{"session", hex_encode(message->session_id)}});
        sent = co_await send_control(self, ch, ready);
      } else {
        self->log_.warn("refusing init", {{"error", why.to_string()}});
        self->refused_session_ = message->session_id;
        self->wake_hello_waiters();
        ControlMessage refuse = refuse_message(why);
        sent = co_await send_control(self, ch, refuse);
      }
    } else if (message->type == ControlType::kPing) {
      ControlMessage pong;
      pong.type = ControlType::kPong;
      pong.nonce = message->nonce;
      pong.active_requests = self->stats_.active_requests;
      pong.frames_processed = self->stats_.frames_processed;
      pong.compute_us = self->stats_.compute_ns / 1000;
      sent = co_await send_control(self, ch, pong);
    } else if (message->type == ControlType::kShutdown) {
      if (self->session_ && self->session_->control_generation == generation)
        self->end_session("shutdown by the orchestrator");
    } else {
      self->log_.warn("unexpected control message");
      break;
    }
    if (!sent.ok()) break;
  }
  if (self->control_generation_ == generation) self->control_ = nullptr;
  if (self->session_ && self->session_->control_generation == generation)
    self->end_session("control channel lost");
  ch->abort();
}

Task<Status> Stage::send_control(Stage* self, std::shared_ptr<SecureChannel> ch, const ControlMessage& message) {
  Bytes bytes = encode_control(message);
  auto guard = co_await self->control_send_.lock();
  co_return co_await ch->send(bytes);
}

// Tells the orchestrator why this stage's part of the data chain failed, before the session
// ends (and downstream stages and the result channel see only a closed stream).
Task<void> Stage::report_fault(Stage* self, std::shared_ptr<Session> session, std::string where, Status why) {
  std::shared_ptr<SecureChannel> ch = self->control_;
  if (!ch || session->control_generation != self->control_generation_) co_return;
  ControlMessage fault;
  fault.type = ControlType::kFault;
  fault.code = uint16_t(why.code());
  fault.message = where + ": " + why.to_string();
  (void)co_await send_control(self, ch, fault);  // a control channel that is gone has no one to tell
}

Task<Status> Stage::establish(Stage* self, std::shared_ptr<Session> session) {
  // One deadline for the whole set-up: the upstream's hello and our own dial.
  runtime::ScopedTimer deadline(*self->env_->clock, self->config_.init_timeout,
                                [ready = session->upstream_ready] {
                                  ready.set(make_error(ErrorCode::DEADLINE_EXCEEDED,
                                                       "the data chain was not complete in time"));
                                });
  auto out = co_await dial_data_out(self, session);
  if (!out.ok()) co_return out.status();
  if (!self->current(*session)) {
    (*out)->abort();
    co_return make_error(ErrorCode::CANCELLED, "session ended while dialling data_out");
  }
  session->data_out = std::move(*out);
  Status upstream = co_await session->upstream_ready;
  if (!upstream.ok()) co_return upstream;
  if (!self->current(*session)) co_return make_error(ErrorCode::CANCELLED, "session ended");
  session->data_running = true;
  runtime::spawn(*self->env_->executor, run_data(self, session));
  co_return Status::Ok();
}

Task<Result<std::unique_ptr<SecureChannel>>> Stage::dial_data_out(Stage* self,
                                                                 std::shared_ptr<Session> session) {
  runtime::Endpoint target = self->config_.data_out.value_or(self->spec().endpoint.data_out);
  runtime::MonoTime give_up = self->env_->clock->now() + self->config_.init_timeout;
  runtime::Duration backoff = std::chrono::milliseconds(5);
  Status last;
  while (self->current(*session) && self->env_->clock->now() < give_up) {
    auto stream = co_await self->env_->network->connect(target, self->config_.connect_timeout);
    if (!self->current(*session)) break;
    if (stream.ok()) {
      auto ch = co_await SecureChannel::connect(*self->env_, std::move(*stream),
                                                named(self->config_.channel, "data_out"));
      if (!ch.ok()) co_return ch.status();  // a failed attestation is not retried
      if (const StageSpec* next = self->downstream_spec()) {
        Status pinned = check_stage_evidence(self->config_.manifest, *next, (*ch)->peer_evidence());
        if (!pinned.ok()) {
          (*ch)->abort();
          co_return pinned;
        }
      }
      Bytes hello_body = encode_hello_body(session->session_id, self->config_.stage_idx);
      uint8_t header[kDataHeaderSize];
      encode_data_header(DataHeader{.kind = DataKind::kHello}, header);
      ByteSpan parts[2] = {ByteSpan(header, kDataHeaderSize), hello_body};
      Status sent = co_await (*ch)->send_parts(parts);
      if (!sent.ok()) co_return sent;
      self->log_.info("data_out connected", {{"to", target.to_string()}});
      co_return std::move(*ch);
    }
    last = stream.status();
    co_await runtime::sleep_for(*self->env_->clock, backoff);
    backoff = std::min<runtime::Duration>(backoff * 2, std::chrono::milliseconds(200));
  }
  if (last.ok()) last = make_error(ErrorCode::CANCELLED, "session ended while dialling data_out");
  co_return make_error(last.code(), "cannot reach data_out " + target.to_string() + ": " +
                                        last.message());
}

Task<void> Stage::admit_data_in(Stage* self, std::shared_ptr<runtime::Stream> stream) {
  auto accepted = co_await SecureChannel::accept(*self->env_, std::move(stream),
                                                 named(self->config_.channel, "data_in"));
  if (!accepted.ok()) {
    self->log_.warn("data_in handshake failed", {{"error", accepted.status().to_string()}});
    co_return;
  }
  std::unique_ptr<SecureChannel> ch = std::move(*accepted);
  // Whoever connects must say hello promptly; a silent peer is cut off.
  SecureChannel* raw = ch.get();
  runtime::ScopedTimer silence(*self->env_->clock, self->config_.init_timeout,
                               [raw] { raw->abort(); });
  auto received = co_await ch->receive();
  silence.cancel();
  Status why;
  Result<DataFrame> hello = received.ok() ? decode_data_frame(received->payload)
                                          : Result<DataFrame>(received.status());
  std::shared_ptr<Session> s = self->session_;
  // The upstream stage may get its init (and dial us) before the orchestrator's init for the
  // same session reaches us: wait for that init, within init_timeout, instead of refusing the
  // hello (refused, the upstream would wait for the chain until the set-up timed out).
  // It stops waiting when that init cannot come any more: this stage refused it, or took an init
  // for another session (the orchestrator builds one pipeline at a time, so it moved on).
  if (hello.ok() && hello->header.kind == DataKind::kHello) {
    runtime::Clock& clock = *self->env_->clock;
    const runtime::MonoTime give_up = clock.now() + self->config_.init_timeout;
    const Session* at_start = s.get();
    auto matches = [&] { return s && self->current(*s) && hello->session_id == s->session_id; };
    while (!self->killed_ && !matches() && clock.now() < give_up &&
           self->refused_session_ != hello->session_id && !(s && s.get() != at_start && self->current(*s))) {
      runtime::Oneshot<bool> woken(*self->env_->executor);
      self->hello_waiters_.push_back(woken);
      runtime::ScopedTimer timeout(clock, give_up - clock.now(), [woken] { woken.set(false); });
      co_await woken;
      s = self->session_;
    }
  }
  uint32_t expect_upstream = self->config_.stage_idx == 0 ? kOrchestratorIndex
                                                          : self->config_.stage_idx - 1;
  if (!hello.ok()) {
    why = hello.status();
  } else if (hello->header.kind != DataKind::kHello) {
    why = make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR, "data_in did not start with hello");
  } else if (!s || !self->current(*s) || hello->session_id != s->session_id) {
    why = make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR, "hello for a session that is not current");
  } else if (hello->upstream != expect_upstream) {
    why = make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR,
                     "hello from upstream " + std::to_string(hello->upstream));
  } else if (s->data_in) {
    why = make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR, "second data_in for one session");
  } else if (const StageSpec* up = self->upstream_spec()) {
    why = check_stage_evidence(self->config_.manifest, *up, ch->peer_evidence());
  }
  if (!why.ok()) {
    self->log_.warn("data_in rejected", {{"error", why.to_string()}});
    ch->abort();
    co_return;
  }
  s->data_in = std::move(ch);
  s->upstream_ready.set(Status::Ok());
}

Task<void> Stage::run_data(Stage* self, std::shared_ptr<Session> session) {
  while (self->current(*session)) {
    auto message = co_await session->data_in->receive();
    if (!self->current(*session)) break;
    if (!message.ok()) {
      self->log_.warn("data_in lost", {{"error", message.status().to_string()}});
      co_await report_fault(self, session, "data_in", message.status());
      if (self->current(*session)) self->end_session("data_in lost");
      break;
    }
    Status st = co_await process(self, *session, message->payload);
    if (!st.ok()) {
      if (self->current(*session)) {
        self->log_.warn("data chain failed", {{"error", st.to_string()}});
        co_await report_fault(self, session, "data chain", st);
        if (self->current(*session)) self->end_session("data chain failed");
      }
      break;
    }
  }
  session->data_running = false;
  session->sequences.clear();
}

}  // namespace cpipe::pipeline

// Stage server: control protocol, data-chain set-up and the per-request compute loop (stage.h).
#include "core/pipeline/stage.h"

#include <algorithm>
#include <cstring>

#include "core/pipeline/peer_policy.h"
#include "core/pipeline/stage_receipts.h"
#include "core/pipeline/wire.h"
#include "core/runtime/compute.h"
#include "model/sampling.h"

namespace cpipe::pipeline {

using channel::SecureChannel;
using runtime::Task;

struct Stage::Session {
  Session(runtime::Executor& executor, uint64_t control_gen)
      : control_generation(control_gen), upstream_ready(executor) {}

  uint64_t control_generation;
  Bytes session_id;
  std::unique_ptr<SecureChannel> data_in;
  std::unique_ptr<SecureChannel> data_out;
  runtime::Oneshot<Status> upstream_ready;  // the upstream's hello arrived (or gave up)
  std::map<uint64_t, std::unique_ptr<StageSequence>> sequences;
  ReceiptBook receipts;  // stage 0 with a signer: what each open request's receipt will say
  bool ended = false;
  bool data_running = false;
  Bytes out_header;  // scratch for tensor headers
};

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

namespace {

// Sends `header` followed by an F32 tensor of `shape` over `out`.
Task<Status> send_f32(SecureChannel& out, const DataHeader& header, std::vector<uint64_t> shape,
                      std::span<const float> values, Bytes& scratch) {
  uint8_t head[kDataHeaderSize];
  encode_data_header(header, head);
  codec::TensorHeader th{.dtype = codec::DType::F32, .shape = std::move(shape), .name = {}};
  ByteSpan data(reinterpret_cast<const uint8_t*>(values.data()), values.size_bytes());
  scratch.clear();
  CPIPE_CO_RETURN_IF_ERROR(codec::encode_tensor_header(th, data.size(), scratch));
  ByteSpan parts[3] = {ByteSpan(head, kDataHeaderSize), scratch, data};
  co_return co_await out.send_parts(parts);
}

Task<Status> send_bare(SecureChannel& out, const DataHeader& header, std::string_view text = {}) {
  uint8_t head[kDataHeaderSize];
  encode_data_header(header, head);
  ByteSpan parts[2] = {ByteSpan(head, kDataHeaderSize), as_bytes(text)};
  co_return co_await out.send_parts(parts);
}

Task<Status> send_error(SecureChannel& out, const DataHeader& about, const Status& error) {
  DataHeader h{.kind = DataKind::kError, .flags = 0, .request_id = about.request_id,
               .step = about.step, .value = uint32_t(error.code())};
  co_return co_await send_bare(out, h, error.message().substr(0, 1024));
}

Status check_input(const DataFrame& f, const StageShape& shape) {
  const auto& t = f.tensor.header;
  bool tokens = f.header.kind == DataKind::kTokens;
  if (tokens != shape.is_first())
    return make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR,
                      tokens ? "token ids reached a stage that is not first"
                             : "activations reached the first stage");
  if (tokens) {
    if (t.dtype != codec::DType::I32 || t.shape.size() != 2 || t.shape[0] != 1 || t.shape[1] == 0)
      return make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR, "tokens must be I32 [1, T], T >= 1");
  } else if (t.dtype != codec::DType::F32 || t.shape.size() != 3 || t.shape[0] != 1 ||
             t.shape[1] == 0 || t.shape[2] != uint64_t(shape.hidden)) {
    return make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR,
                      "activations must be F32 [1, T, " + std::to_string(shape.hidden) + "]");
  }
  return Status::Ok();
}

}  // namespace

Task<Status> Stage::process(Stage* self, Session& session, ByteSpan bytes) {
  CPIPE_CO_ASSIGN_OR_RETURN(DataFrame frame, decode_data_frame(bytes));
  const DataHeader& h = frame.header;
  SecureChannel& out = *session.data_out;
  self->stats_.frames_processed++;
  switch (h.kind) {
    case DataKind::kRelease:
    case DataKind::kError: {
      if (session.sequences.erase(h.request_id)) self->stats_.requests_released++;
      self->stats_.active_requests = uint32_t(session.sequences.size());
      if (h.kind == DataKind::kRelease) co_return co_await forward_release(self, session, frame);
      session.receipts.drop(h.request_id);
      co_return co_await send_bare(out, h, frame.message);
    }
    case DataKind::kTokens:
    case DataKind::kHidden:
      break;
    default:
      co_return make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR,
                           std::string(data_kind_name(h.kind)) + " frame on a stage's data_in");
  }
  StageModel* model = self->model_;
  StageShape shape = model->shape();
  CPIPE_CO_RETURN_IF_ERROR(check_input(frame, shape));
  StageSequence* seq = nullptr;
  if (h.flags & kFlagStart) {
    session.sequences.erase(h.request_id);
    if (session.sequences.size() >= self->config_.manifest.session_limit)
      co_return co_await send_error(out, h, make_error(ErrorCode::RESOURCE_EXHAUSTED,
                                                       "stage holds its limit of requests"));
    auto fresh = model->new_sequence(int64_t(h.value));
    if (!fresh.ok()) co_return co_await send_error(out, h, fresh.status());
    seq = fresh->get();
    session.sequences[h.request_id] = std::move(*fresh);
    self->stats_.requests_started++;
  } else {
    auto it = session.sequences.find(h.request_id);
    if (it == session.sequences.end())
      co_return co_await send_error(
          out, h, make_error(ErrorCode::FAILED_PRECONDITION,
                             "request " + std::to_string(h.request_id) + " has no KV cache here"));
    seq = it->second.get();
  }
  self->stats_.active_requests = uint32_t(session.sequences.size());

  const uint64_t T = frame.tensor.header.shape[1];
  if (shape.is_first() && self->config_.receipt_signer) {
    std::vector<int32_t> ids(T);
    std::memcpy(ids.data(), frame.tensor.data.data(), frame.tensor.data.size());
    session.receipts.on_tokens(h.request_id, h.flags & kFlagStart, h.value, ids, self->env_->clock->now());
    self->stats_.receipt_records = uint32_t(session.receipts.size());
  }
  Result<std::span<const float>> result = make_error(ErrorCode::INTERNAL, "not run");
  const ByteSpan in = frame.tensor.data;
  bool first = shape.is_first();
  runtime::ComputeCost cost{self->config_.cost_per_layer_token *
                            int64_t((shape.layer_end - shape.layer_begin) * T)};
  runtime::Clock& clock = *self->env_->clock;
  uint64_t compute_ns = 0;  // written by the compute job, read after it
  auto forward = [&] {
        runtime::MonoTime began = clock.now();
        // Element data is little-endian and may be unaligned inside the record: copy-free
        // reinterpretation only when aligned, which the channel's buffers guarantee in practice.
        if (first) {
          std::vector<int32_t> ids(T);
          std::memcpy(ids.data(), in.data(), in.size());
          result = model->forward_tokens(*seq, ids);
        } else if (reinterpret_cast<uintptr_t>(in.data()) % alignof(float) == 0) {
          result = model->forward_hidden(
              *seq, std::span<const float>(reinterpret_cast<const float*>(in.data()), T * shape.hidden));
        } else {
          std::vector<float> rows(T * shape.hidden);
          std::memcpy(rows.data(), in.data(), in.size());
          result = model->forward_hidden(*seq, rows);
        }
        compute_ns = uint64_t((clock.now() - began).count());
      };
  if (self->config_.inline_decode && T == 1) {
    forward();
  } else {
    co_await runtime::run_compute(*self->env_->compute, *self->env_->executor, forward, cost);
  }
  self->stats_.compute_ns += compute_ns;
  if (!self->current(session)) co_return make_error(ErrorCode::CANCELLED, "session ended");
  if (!result.ok()) {
    session.sequences.erase(h.request_id);
    session.receipts.drop(h.request_id);
    self->stats_.active_requests = uint32_t(session.sequences.size());
    co_return co_await send_error(out, h, result.status());
  }
  std::span<const float> values = *result;
  if (!shape.is_last()) {
    DataHeader next = h;
    next.kind = DataKind::kHidden;
    std::vector<uint64_t> dims{1, T, uint64_t(shape.hidden)};
    co_return co_await send_f32(out, next, std::move(dims), values, session.out_header);
  }
  if (h.flags & kFlagGreedyInStage) {
    DataHeader reply{.kind = DataKind::kToken, .flags = 0, .request_id = h.request_id,
                     .step = h.step, .value = uint32_t(model::greedy_token(values))};
    co_return co_await send_bare(out, reply);
  }
  DataHeader reply{.kind = DataKind::kLogits, .flags = 0, .request_id = h.request_id,
                   .step = h.step, .value = 0};
  std::vector<uint64_t> dims{1, uint64_t(values.size())};
  co_return co_await send_f32(out, reply, std::move(dims), values, session.out_header);
}

// Release travels the whole chain. Stage 0 with a signer answers a receipt request by signing
// and swapping the request body (sampling text) for the receipt; every other stage forwards the
// frame as it came.
Task<Status> Stage::forward_release(Stage* self, Session& session, const DataFrame& frame) {
  DataHeader h = frame.header;
  ByteSpan body = frame.body;
  Bytes signed_receipt;
  const bool signing = self->config_.receipt_signer && self->config_.stage_idx == 0;
  if (signing && (h.flags & kFlagReceiptRequest)) {
    std::string_view sampling(reinterpret_cast<const char*>(body.data()), body.size());
    auto r = session.receipts.sign(h.request_id, h.value, sampling, *self->config_.receipt_signer, *self->env_);
    if (r.ok()) {
      signed_receipt = std::move(*r);
      h.flags = uint8_t((h.flags & ~kFlagReceiptRequest) | kFlagReceipt);
      body = signed_receipt;
    } else {
      // The orchestrator sees the request flag come back and reports the request unreceipted.
      self->log_.warn("receipt not issued", {{"request", std::to_string(h.request_id)},
                                             {"error", r.status().to_string()}});
    }
  }
  session.receipts.drop(h.request_id);
  self->stats_.receipt_records = uint32_t(session.receipts.size());
  uint8_t head[kDataHeaderSize];
  encode_data_header(h, head);
  ByteSpan parts[2] = {ByteSpan(head, kDataHeaderSize), body};
  co_return co_await session.data_out->send_parts(parts);
}

}  // namespace cpipe::pipeline

// A stage's data frames (stage.h): token ids or activations through this stage's layers (on the
// event-loop thread for decode steps with inline_decode, else as a compute job), the result on to
// the next stage or back to the orchestrator, errors as error frames, and releases — which drop
// the request's KV cache and, on stage 0 with a signer, turn into the request's receipt.
#include <cstring>

#include "core/pipeline/stage.h"
#include "core/pipeline/stage_session.h"
#include "core/pipeline/wire.h"
#include "core/runtime/compute.h"
#include "model/sampling.h"

namespace cpipe::pipeline {

using channel::SecureChannel;
using runtime::Task;

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

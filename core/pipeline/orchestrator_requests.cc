// Orchestrator requests (orchestrator.h): generate() and its token loop — one step at a time down
// the chain and back, a retry on a rebuilt pipeline replaying the tokens already produced — the
// releases that drop every stage's KV cache, and the receipt stage 0 signs for each answer.
#include <cstring>

#include "core/pipeline/orchestrator.h"
#include "core/pipeline/orchestrator_link.h"
#include "core/pipeline/wire.h"
#include "core/receipt/air_verify.h"
#include "core/receipt/inference_hashes.h"

namespace cpipe::pipeline {

using runtime::Task;

namespace {

double ms_between(runtime::MonoTime a, runtime::MonoTime b) { return double((b - a).count()) / 1e6; }

// The sampling text request_hash covers (docs/receipts.md): "greedy", or the parameters.
std::string sampling_text(const model::SamplingParams& p) {
  if (p.temperature <= 0.0f) return "greedy";
  return "temperature=" + std::to_string(p.temperature) + ",top_k=" + std::to_string(p.top_k) +
         ",top_p=" + std::to_string(p.top_p);
}

}  // namespace

Task<Result<Orchestrator::StepReply>> Orchestrator::step(Orchestrator* self, std::shared_ptr<Link> link,
                                                         uint64_t request_id, uint32_t step_no,
                                                         uint8_t flags, uint32_t value,
                                                         std::span<const int32_t> tokens) {
  uint8_t header[kDataHeaderSize];
  encode_data_header(DataHeader{.kind = DataKind::kTokens, .flags = flags,
                                .request_id = request_id, .step = step_no, .value = value},
                     header);
  codec::TensorHeader th{.dtype = codec::DType::I32, .shape = {1, tokens.size()}, .name = {}};
  Bytes tensor_header;
  ByteSpan data(reinterpret_cast<const uint8_t*>(tokens.data()), tokens.size_bytes());
  CPIPE_CO_RETURN_IF_ERROR(codec::encode_tensor_header(th, data.size(), tensor_header));
  ByteSpan parts[3] = {ByteSpan(header, kDataHeaderSize), tensor_header, data};
  std::string what = "reply";
  co_return co_await exchange(self, std::move(link), request_id, parts, std::move(what));
}

Task<Result<Orchestrator::StepReply>> Orchestrator::exchange(Orchestrator* self, std::shared_ptr<Link> link,
                                                             uint64_t request_id,
                                                             std::span<const ByteSpan> parts,
                                                             std::string what) {
  runtime::Oneshot<Result<StepReply>> reply(*self->env_->executor);
  link->pending.insert_or_assign(request_id, reply);
  {
    auto guard = co_await link->send_lock.lock();
    if (!link->broken.ok()) {
      link->pending.erase(request_id);
      co_return stage_failed("pipeline broke: " + link->broken.to_string());
    }
    Status sent = co_await link->data_out->send_parts(parts);
    if (!sent.ok())
      self->mark_broken(*link, stage_failed("sending to stage 0 failed: " + sent.to_string()));
  }
  std::string late = "no " + what + " within the step timeout";
  runtime::ScopedTimer timeout(*self->env_->clock, self->config_.step_timeout, [reply, late] {
    reply.set(make_error(ErrorCode::DEADLINE_EXCEEDED, late));
  });
  Result<StepReply> r = co_await reply;
  timeout.cancel();
  link->pending.erase(request_id);
  if (r.code() == ErrorCode::DEADLINE_EXCEEDED) {
    self->mark_broken(*link, stage_failed(r.status().message()));
    co_return stage_failed(r.status().message());
  }
  co_return r;
}

Task<void> Orchestrator::release(Orchestrator* self, std::shared_ptr<Link> link, uint64_t request_id) {
  auto guard = co_await link->send_lock.lock();
  if (!link->broken.ok()) co_return;
  uint8_t header[kDataHeaderSize];
  encode_data_header(DataHeader{.kind = DataKind::kRelease, .request_id = request_id}, header);
  ByteSpan parts[1] = {ByteSpan(header, kDataHeaderSize)};
  Status sent = co_await link->data_out->send_parts(parts);
  if (!sent.ok()) self->mark_broken(*link, stage_failed("release failed: " + sent.to_string()));
}

// Sends the release that asks stage 0 for the receipt and waits for it to come round the chain.
Task<Result<Bytes>> Orchestrator::release_for_receipt(Orchestrator* self, std::shared_ptr<Link> link,
                                                      uint64_t request_id, uint32_t final_token,
                                                      std::string sampling) {
  uint8_t header[kDataHeaderSize];
  encode_data_header(DataHeader{.kind = DataKind::kRelease, .flags = kFlagReceiptRequest,
                                .request_id = request_id, .step = 0, .value = final_token},
                     header);
  ByteSpan parts[2] = {ByteSpan(header, kDataHeaderSize), as_bytes(sampling)};
  std::string what = "receipt";
  Result<StepReply> r = co_await exchange(self, std::move(link), request_id, parts, std::move(what));
  if (!r.ok()) co_return r.status();
  if (r->receipt.empty())
    co_return make_error(ErrorCode::RECEIPT_INVALID, "stage 0 issued no receipt for the request");
  co_return std::move(r->receipt);
}

namespace {

// The orchestrator's own check before handing a receipt to the client: stage 0's announced key
// signed it, and it covers this request and this output.
Status check_receipt(ByteSpan receipt_bytes, ByteSpan key, const GenerateRequest& request,
                     const std::vector<int32_t>& tokens, const std::string& sampling) {
  if (key.size() != 32) return make_error(ErrorCode::RECEIPT_INVALID, "stage 0 announced no receipt key");
  auto report = receipt::verify_receipt(receipt_bytes, key, receipt::VerifyPolicy{});
  if (!report.ok()) return report.status();
  if (!report->verified()) return report->status();
  receipt::InferenceRequestDigest d;
  d.prompt_tokens.assign(request.prompt.begin(), request.prompt.end());
  d.max_new_tokens = uint32_t(request.max_new_tokens);
  d.sampling = sampling;
  std::vector<uint32_t> out(tokens.begin(), tokens.end());
  const auto& claims = report->claims;
  if (!claims || claims->request_hash != receipt::request_hash(d) ||
      claims->response_hash != receipt::response_hash(out))
    return make_error(ErrorCode::RECEIPT_INVALID, "the receipt does not cover this request and output");
  return Status::Ok();
}

}  // namespace

Task<Status> Orchestrator::run_once(Orchestrator* self, std::shared_ptr<Link> link,
                                    const GenerateRequest& request, GenerateResult& result) {
  runtime::Clock& clock = *self->env_->clock;
  const uint64_t request_id = self->next_request_id_++;
  const size_t known = result.tokens.size();  // produced by an earlier attempt: replayed
  const bool in_stage = self->config_.greedy_in_last_stage;
  const bool greedy = request.sampling.temperature <= 0.0f;
  std::optional<model::Sampler> sampler;
  std::vector<int32_t> input = request.prompt;
  const uint32_t capacity = uint32_t(request.prompt.size() + size_t(request.max_new_tokens));
  for (int s = 0; s < request.max_new_tokens; ++s) {
    const size_t step_no = size_t(s);
    runtime::MonoTime t0 = clock.now();
    uint8_t flags = uint8_t((in_stage ? kFlagGreedyInStage : 0) | (s == 0 ? kFlagStart : 0));
    auto reply = co_await step(self, link, request_id, uint32_t(s), flags, s == 0 ? capacity : 0, input);
    if (!reply.ok()) {
      if (link->broken.ok()) runtime::spawn(*self->env_->executor, release(self, link, request_id));
      co_return reply.status();
    }
    int32_t token;
    if (in_stage) {
      token = reply->token;
    } else if (greedy) {
      token = model::greedy_token(reply->logits);
    } else if (step_no < known) {
      token = result.tokens[step_no];  // sampled before: replay it, draw nothing
    } else {
      if (!sampler) sampler.emplace(int64_t(reply->logits.size()));
      token = sampler->sample(reply->logits, request.sampling, *self->env_->random);
    }
    if (step_no < known) {
      if (token != result.tokens[step_no]) {
        runtime::spawn(*self->env_->executor, release(self, link, request_id));
        co_return make_error(ErrorCode::PIPELINE_RETRY_DIVERGED,
                             "replaying step " + std::to_string(s) + " gave token " +
                                 std::to_string(token) + " instead of " +
                                 std::to_string(result.tokens[step_no]));
      }
    } else {
      double ms = ms_between(t0, clock.now());
      if (s == 0) result.prompt_ms = ms;
      result.tokens.push_back(token);
      result.token_ms.push_back(ms);
      if (request.keep_logits) result.logits.push_back(std::move(reply->logits));
    }
    if (request.stop_token && token == *request.stop_token) break;
    input.assign(1, token);
  }
  if (!self->config_.request_receipts || result.tokens.empty()) {
    runtime::spawn(*self->env_->executor, release(self, link, request_id));
    co_return Status::Ok();
  }
  const std::string sampling = sampling_text(request.sampling);
  auto receipt = co_await release_for_receipt(self, link, request_id, uint32_t(result.tokens.back()), sampling);
  if (!receipt.ok()) co_return receipt.status();
  const Bytes key = link->receipt_keys.empty() ? Bytes{} : link->receipt_keys[0];
  CPIPE_CO_RETURN_IF_ERROR(check_receipt(*receipt, key, request, result.tokens, sampling));
  result.receipt = std::move(*receipt);
  result.receipt_stage = 0;
  co_return Status::Ok();
}

Task<Result<GenerateResult>> Orchestrator::generate(GenerateRequest request) {
  if (shutting_down_) co_return make_error(ErrorCode::CANCELLED, "shutting down");
  if (request.prompt.empty()) co_return make_error(ErrorCode::INVALID_ARGUMENT, "empty prompt");
  if (request.max_new_tokens < 1)
    co_return make_error(ErrorCode::INVALID_ARGUMENT, "max_new_tokens must be at least 1");
  uint64_t max_len = config_.manifest.activation_spec.max_seq_len;
  if (max_len && request.prompt.size() + uint64_t(request.max_new_tokens) > max_len)
    co_return make_error(ErrorCode::MODEL_CONTEXT_OVERFLOW,
                         "prompt (" + std::to_string(request.prompt.size()) + ") + max_new_tokens (" +
                             std::to_string(request.max_new_tokens) + ") exceeds max_seq_len " +
                             std::to_string(max_len));
  if (config_.greedy_in_last_stage && (request.keep_logits || request.sampling.temperature > 0.0f))
    co_return make_error(ErrorCode::INVALID_ARGUMENT,
                         "with greedy_in_last_stage only greedy decoding without logits is possible");
  if (stats_.sessions_active >= config_.manifest.session_limit) {
    stats_.sessions_rejected++;
    co_return make_error(ErrorCode::RESOURCE_EXHAUSTED,
                         "session limit of " + std::to_string(config_.manifest.session_limit) +
                             " reached");
  }
  stats_.sessions_active++;
  struct ActiveGuard {
    uint64_t& n;
    ~ActiveGuard() { --n; }
  } active{stats_.sessions_active};

  GenerateResult result;
  Status last;
  for (int attempt = 1; attempt <= std::max(1, config_.max_attempts); ++attempt) {
    result.attempts = attempt;
    auto link = co_await ensure_link(this);
    if (!link.ok()) {
      last = link.status();
      break;
    }
    last = co_await run_once(this, *link, request, result);
    if (last.ok()) {
      stats_.requests_ok++;
      co_return result;
    }
    if (last.code() != ErrorCode::PIPELINE_STAGE_FAILED) break;
    if (attempt < config_.max_attempts) {
      stats_.retries++;
      log_.warn("retrying request", {{"attempt", std::to_string(attempt + 1)},
                                     {"after", last.to_string()}});
    }
  }
  stats_.requests_failed++;
  co_return last;
}

}  // namespace cpipe::pipeline

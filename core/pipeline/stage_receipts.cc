// ReceiptBook: per-request records on the signing stage and the signing itself (stage_receipts.h).
#include "core/pipeline/stage_receipts.h"

namespace cpipe::pipeline {

void ReceiptBook::on_tokens(uint64_t request_id, bool start, uint32_t capacity, std::span<const int32_t> tokens,
                            runtime::MonoTime now) {
  if (start) {
    Entry e;
    e.prompt.assign(tokens.begin(), tokens.end());
    e.capacity = capacity;
    e.started = now;
    entries_[request_id] = std::move(e);
    return;
  }
  auto it = entries_.find(request_id);
  if (it == entries_.end()) return;  // the stage answers this frame with an error anyway
  it->second.generated.insert(it->second.generated.end(), tokens.begin(), tokens.end());
}

Result<Bytes> ReceiptBook::sign(uint64_t request_id, uint32_t final_token, std::string_view sampling,
                                receipt::ReceiptSigner& signer, runtime::Env& env) {
  auto it = entries_.find(request_id);
  if (it == entries_.end())
    return make_error(ErrorCode::FAILED_PRECONDITION,
                      "no receipt record for request " + std::to_string(request_id));
  Entry e = std::move(it->second);
  entries_.erase(it);
  receipt::InferenceRecord record;
  record.request.prompt_tokens = std::move(e.prompt);
  // The start frame's capacity is prompt + max_new_tokens (orchestrator.cc): recover the latter.
  record.request.max_new_tokens =
      e.capacity > record.request.prompt_tokens.size() ? e.capacity - uint32_t(record.request.prompt_tokens.size()) : 0;
  record.request.sampling = std::string(sampling);
  record.generated_tokens = std::move(e.generated);
  record.generated_tokens.push_back(final_token);
  const runtime::MonoTime now = env.clock->now();
  record.execution_time_ms = uint64_t(std::max<int64_t>(0, (now - e.started).count() / 1'000'000));
  record.iat_s = uint64_t(std::max<int64_t>(0, env.clock->wall_now().unix_ms() / 1000));
  return signer.sign(record, *env.random);
}

}  // namespace cpipe::pipeline

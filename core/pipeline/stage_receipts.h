// ReceiptBook: what the signing stage (stage 0, which sees the prompt and every fed-back token)
// remembers per request so it can sign one AIR v1 receipt when the request is released
// (docs/receipts.md "Who signs"). Entries live exactly as long as the request's KV cache: the
// stage drops them on release, error and session end, so nothing of a request outlives it.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string_view>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/receipt/receipt_signer.h"
#include "core/runtime/env.h"

namespace cpipe::pipeline {

class ReceiptBook {
 public:
  // A tokens frame reached stage 0: `start` opens the request (its tokens are the prompt and
  // `capacity` = prompt + max_new_tokens), later frames are generated tokens fed back.
  void on_tokens(uint64_t request_id, bool start, uint32_t capacity, std::span<const int32_t> tokens,
                 runtime::MonoTime now);
  void drop(uint64_t request_id) { entries_.erase(request_id); }
  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

  // Signs the request's receipt: the generated tokens are the fed-back ones plus `final_token`
  // (the last token never travels the chain), `sampling` is the request's sampling text. The
  // entry is dropped either way. FAILED_PRECONDITION for an unknown request.
  Result<Bytes> sign(uint64_t request_id, uint32_t final_token, std::string_view sampling,
                     receipt::ReceiptSigner& signer, runtime::Env& env);

 private:
  struct Entry {
    std::vector<uint32_t> prompt;
    std::vector<uint32_t> generated;
    uint32_t capacity = 0;
    runtime::MonoTime started;
  };
  std::map<uint64_t, Entry> entries_;
};

}  // namespace cpipe::pipeline

// Inside a stage (not part of its interface): one init's session — its data channels, the KV
// caches of its open requests, stage 0's receipt records — shared by stage.cc (control, set-up)
// and stage_frames.cc (the data frames).
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "core/channel/secure_channel.h"
#include "core/pipeline/stage.h"
#include "core/pipeline/stage_receipts.h"
#include "core/runtime/oneshot.h"

namespace cpipe::pipeline {

struct Stage::Session {
  Session(runtime::Executor& executor, uint64_t control_gen)
      : control_generation(control_gen), upstream_ready(executor) {}

  uint64_t control_generation;
  Bytes session_id;
  std::unique_ptr<channel::SecureChannel> data_in;
  std::unique_ptr<channel::SecureChannel> data_out;
  runtime::Oneshot<Status> upstream_ready;  // the upstream's hello arrived (or gave up)
  std::map<uint64_t, std::unique_ptr<StageSequence>> sequences;
  ReceiptBook receipts;  // stage 0 with a signer: what each open request's receipt will say
  bool ended = false;
  bool data_running = false;
  Bytes out_header;  // scratch for tensor headers
};

}  // namespace cpipe::pipeline

// StageModel: what a pipeline stage computes with — its slice of the model's layers — as core/
// sees it. The stage only moves frames and owns per-request state; the arithmetic lives behind
// this interface (model/gpt2_stage_model.h implements it for GPT-2; tests may fake it). Calls
// are made from Compute jobs, one at a time, never concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace cpipe::pipeline {

struct StageShape {
  int64_t layer_begin = 0;
  int64_t layer_end = 0;  // exclusive
  int64_t n_layer = 0;
  int64_t hidden = 0;
  int64_t vocab = 0;
  int64_t n_positions = 0;

  bool is_first() const { return layer_begin == 0; }
  bool is_last() const { return layer_end == n_layer; }
};

// One request's state in this stage (its KV cache).
class StageSequence {
 public:
  virtual ~StageSequence() = default;
  virtual int64_t position() const = 0;  // tokens already in the cache
};

class StageModel {
 public:
  virtual ~StageModel() = default;
  virtual StageShape shape() const = 0;
  // A fresh, empty sequence with room for `capacity` tokens (MODEL_CONTEXT_OVERFLOW beyond
  // n_positions).
  virtual Result<std::unique_ptr<StageSequence>> new_sequence(int64_t capacity) = 0;
  // First stage: token ids. Other stages: T rows of `hidden` floats. The result is [T, hidden]
  // activations, or on the last stage the logits [vocab] of the last position; it stays valid
  // until the next call on this model.
  virtual Result<std::span<const float>> forward_tokens(StageSequence& seq,
                                                        std::span<const int32_t> tokens) = 0;
  virtual Result<std::span<const float>> forward_hidden(StageSequence& seq,
                                                        std::span<const float> hidden) = 0;
  // The SHA-256 weight hashes of the tensors this stage loaded (manifest_weights.h scheme),
  // computed at load time.
  virtual const std::vector<std::string>& weight_hashes() const = 0;
};

}  // namespace cpipe::pipeline

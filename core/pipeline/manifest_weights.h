// Weight hashes: the scheme behind StageSpec::weight_hashes, so that a stage can prove to itself
// (and the orchestrator can require) that the tensors it loaded are the ones the manifest pins.
// One SHA-256 per tensor the stage loads, over a framed encoding of the tensor's name, dtype,
// shape and stored bytes; the stage's list is ordered by tensor name. docs/manifest.md has the
// byte layout.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/pipeline/manifest.h"

namespace cpipe::pipeline {

inline constexpr std::string_view kWeightHashDomain = "cpipe.weight.v1";

// One tensor as stored in the model's safetensors file: its name there ("h.3.attn.c_attn.weight"),
// its safetensors dtype name ("F32", "BF16", ...), its shape and its raw little-endian bytes.
struct WeightTensor {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
  ByteSpan data;
};

// Lowercase hex SHA-256 of the tensor's framed encoding.
std::string weight_tensor_hash(const WeightTensor& tensor);

// The weight_hashes list for a stage that loads `tensors`: their hashes ordered by tensor name.
std::vector<std::string> stage_weight_hashes(std::span<const WeightTensor> tensors);

// OK when the stage pins no hash and `require` is false, or when the loaded tensors hash to the
// pinned list exactly. PIPELINE_WEIGHT_HASH_MISMATCH otherwise, naming the first tensor that
// differs (or the count when the stage loads a different number of tensors).
Status check_stage_weights(const StageSpec& stage, bool require,
                           std::span<const WeightTensor> tensors);

}  // namespace cpipe::pipeline

// Choosing the next token from logits: greedy (argmax; ties go to the LOWEST token id, so the
// choice never depends on how logits were scanned) and sampling with temperature, top-k and
// top-p from a runtime::Random (seeded in simulation, so sampled runs replay exactly).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/runtime/random.h"

namespace cpipe::model {

// Index of the largest logit; the lowest such index on ties. NaN logits are never chosen
// (unless every logit is NaN, then 0).
int32_t greedy_token(std::span<const float> logits);

struct SamplingParams {
  float temperature = 1.0f;  // <= 0 means greedy
  int32_t top_k = 0;         // 0: no top-k cut
  float top_p = 1.0f;        // 1: no nucleus cut
};

class Sampler {
 public:
  // Buffers are sized for `vocab` once, so sampling allocates nothing per token.
  explicit Sampler(int64_t vocab);

  // Candidates are ordered by (logit descending, id ascending); top-k keeps the first k, top-p
  // the shortest prefix whose probability reaches p (at least one token). One 53-bit uniform
  // draw from `rng` picks within the kept candidates.
  int32_t sample(std::span<const float> logits, const SamplingParams& params, runtime::Random& rng);

 private:
  std::vector<int32_t> ids_;
  std::vector<double> probs_;
};

}  // namespace cpipe::model

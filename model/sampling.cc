// Greedy and sampled token choice.
#include "model/sampling.h"

#include <algorithm>
#include <cmath>

namespace cpipe::model {

int32_t greedy_token(std::span<const float> logits) {
  int32_t best = 0;
  float best_v = -INFINITY;
  bool found = false;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float v = logits[i];
    if (std::isnan(v)) continue;
    if (!found || v > best_v) {  // strictly greater: the first (lowest) id wins ties
      best = int32_t(i);
      best_v = v;
      found = true;
    }
  }
  return best;
}

Sampler::Sampler(int64_t vocab) : ids_(size_t(vocab)), probs_(size_t(vocab)) {}

int32_t Sampler::sample(std::span<const float> logits, const SamplingParams& p, runtime::Random& rng) {
  if (!(p.temperature > 0) || logits.empty()) return greedy_token(logits);
  const size_t V = std::min(logits.size(), ids_.size());
  size_t n = 0;
  for (size_t i = 0; i < V; ++i)
    if (!std::isnan(logits[i])) ids_[n++] = int32_t(i);
  if (n == 0) return 0;
  auto before = [&](int32_t a, int32_t b) {
    return logits[size_t(a)] != logits[size_t(b)] ? logits[size_t(a)] > logits[size_t(b)] : a < b;
  };
  const bool cut_k = p.top_k > 0 && size_t(p.top_k) < n;
  const bool cut_p = p.top_p < 1.0f;
  if (cut_k) {
    std::nth_element(ids_.begin(), ids_.begin() + p.top_k, ids_.begin() + long(n), before);
    n = size_t(p.top_k);
  }
  // Sorting is only needed when order matters for the cut; otherwise id order is canonical.
  if (cut_k || cut_p) std::sort(ids_.begin(), ids_.begin() + long(n), before);
  float mx = -INFINITY;
  for (size_t j = 0; j < n; ++j) mx = std::max(mx, logits[size_t(ids_[j])]);
  const double inv_t = 1.0 / double(p.temperature);
  double total = 0;
  for (size_t j = 0; j < n; ++j) {
    probs_[j] = std::exp((double(logits[size_t(ids_[j])]) - double(mx)) * inv_t);
    total += probs_[j];
  }
  if (cut_p) {
    const double target = double(std::max(p.top_p, 0.0f)) * total;
    double cum = 0;
    size_t keep = 0;
    while (keep < n) {
      cum += probs_[keep++];
      if (cum >= target) break;
    }
    n = keep;
    total = cum;
  }
  const double u = double(rng.next_u64() >> 11) * 0x1.0p-53 * total;
  double cum = 0;
  for (size_t j = 0; j < n; ++j) {
    cum += probs_[j];
    if (u < cum) return ids_[j];
  }
  return ids_[n - 1];
}

}  // namespace cpipe::model

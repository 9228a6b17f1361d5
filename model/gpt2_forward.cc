// The GPT-2 forward pass of one stage: embeddings, pre-LN blocks (causal multi-head attention
// over the sequence's KV cache, tanh-GELU MLP), ln_f and the LM head on the last position.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/gpt2.h"

namespace cpipe::model {
size_t Gpt2Model::decode_weight_bytes() const {
  size_t n = 0;
  for (const Layer& l : layers_) n += l.qkv.bytes() + l.attn_proj.bytes() + l.fc.bytes() + l.mlp_proj.bytes();
  if (is_last()) n += lm_head_.bytes();
  return n;
}

std::unique_ptr<Gpt2Sequence> Gpt2Model::new_sequence(int64_t max_tokens) const {
  std::unique_ptr<Gpt2Sequence> s(new Gpt2Sequence());
  s->model_ = this;
  s->capacity_ = max_tokens > 0 ? std::min(max_tokens, config_.n_positions) : config_.n_positions;
  const size_t kv = size_t(layers_.size()) * size_t(s->capacity_) * size_t(config_.n_embd);
  s->k_.assign(kv, 0.0f);
  s->v_.assign(kv, 0.0f);
  s->scores_.assign(size_t(threads()) * size_t(s->capacity_), 0.0f);
  if (is_last()) s->logits_.assign(size_t(config_.vocab_size), 0.0f);
  s->ensure_scratch(1);
  return s;
}

void Gpt2Sequence::ensure_scratch(int64_t T) {
  if (T <= scratch_tokens_) return;
  const auto& c = model_->config_;
  x_.resize(size_t(T * c.n_embd));
  h_.resize(size_t(T * c.n_embd));
  att_.resize(size_t(T * c.n_embd));
  qkv_.resize(size_t(T * 3 * c.n_embd));
  fc_.resize(size_t(T * c.inner()));
  scratch_tokens_ = T;
}

Result<std::span<const float>> Gpt2Model::forward(Gpt2Sequence& seq, std::span<const int32_t> tokens) {
  if (!is_first())
    return make_error(ErrorCode::FAILED_PRECONDITION, "forward(tokens) on a stage that does not start at layer 0");
  if (seq.model_ != this) return make_error(ErrorCode::INVALID_ARGUMENT, "sequence belongs to another model");
  const int64_t T = int64_t(tokens.size());
  if (T == 0) return make_error(ErrorCode::INVALID_ARGUMENT, "no tokens");
  if (seq.position_ + T > seq.capacity_)
    return make_error(ErrorCode::MODEL_CONTEXT_OVERFLOW,
                      "sequence would hold " + std::to_string(seq.position_ + T) + " tokens, the limit is " +
                          std::to_string(seq.capacity_));
  for (int32_t tok : tokens)
    if (tok < 0 || tok >= config_.vocab_size)
      return make_error(ErrorCode::INVALID_ARGUMENT, "token id " + std::to_string(tok) + " is outside the vocabulary");
  seq.ensure_scratch(T);
  const int64_t C = config_.n_embd;
  for (int64_t t = 0; t < T; ++t) {
    const float* te = wte_ + int64_t(tokens[size_t(t)]) * C;
    const float* pe = wpe_ + (seq.position_ + t) * C;
    float* x = seq.x_.data() + t * C;
    for (int64_t i = 0; i < C; ++i) x[i] = te[i] + pe[i];
  }
  return run(seq, T);
}

Result<std::span<const float>> Gpt2Model::forward_hidden(Gpt2Sequence& seq, std::span<const float> hidden) {
  if (is_first())
    return make_error(ErrorCode::FAILED_PRECONDITION, "forward_hidden on the first stage (it takes token ids)");
  if (seq.model_ != this) return make_error(ErrorCode::INVALID_ARGUMENT, "sequence belongs to another model");
  const int64_t C = config_.n_embd;
  if (hidden.empty() || int64_t(hidden.size()) % C != 0)
    return make_error(ErrorCode::INVALID_ARGUMENT, "activations are not a whole number of rows of n_embd");
  const int64_t T = int64_t(hidden.size()) / C;
  if (seq.position_ + T > seq.capacity_)
    return make_error(ErrorCode::MODEL_CONTEXT_OVERFLOW,
                      "sequence would hold " + std::to_string(seq.position_ + T) + " tokens, the limit is " +
                          std::to_string(seq.capacity_));
  seq.ensure_scratch(T);
  std::memcpy(seq.x_.data(), hidden.data(), hidden.size() * sizeof(float));
  return run(seq, T);
}

void Gpt2Model::layernorm(const float* x, const float* w, const float* b, float* y, int64_t T) const {
  const int64_t C = config_.n_embd;
  const float eps = config_.layer_norm_epsilon;
  for (int64_t t = 0; t < T; ++t) {
    const float* xr = x + t * C;
    float* yr = y + t * C;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < C; ++i) mean += xr[i];
    mean /= double(C);
    for (int64_t i = 0; i < C; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= double(C);
    const float m = float(mean), rstd = float(1.0 / std::sqrt(var + double(eps)));
    for (int64_t i = 0; i < C; ++i) yr[i] = (xr[i] - m) * rstd * w[i] + b[i];
  }
}

void Gpt2Model::matmul(const WeightMatrix& w, const float* bias, const float* x, int64_t T, float* y,
                       int flags, bool gelu) {
  const KernelTable& k = kernels();
  // Chunks of 16 rows keep two threads from writing the same cache line of y.
  pool_->parallel_for(w.rows, 16, [&](int64_t r0, int64_t r1) {
    k.matmul(w, bias, x, T, y, w.rows, r0, r1, flags);
    if (gelu)
      for (int64_t t = 0; t < T; ++t) k.gelu(y + t * w.rows + r0, r1 - r0);
  });
}

void Gpt2Model::attention(Gpt2Sequence& seq, int64_t layer, int64_t T) {
  const int64_t C = config_.n_embd, H = config_.n_head, D = config_.head_dim();
  const int64_t cap = seq.capacity_, p0 = seq.position_;
  const int64_t li = layer - layer_begin_;
  float* kc = seq.k_.data() + li * cap * C;  // [head][pos][D]
  float* vc = seq.v_.data() + li * cap * C;
  const float* qkv = seq.qkv_.data();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      std::memcpy(kc + (h * cap + p0 + t) * D, qkv + t * 3 * C + C + h * D, size_t(D) * 4);
      std::memcpy(vc + (h * cap + p0 + t) * D, qkv + t * 3 * C + 2 * C + h * D, size_t(D) * 4);
    }
  const KernelTable& k = kernels();
  const float scale = 1.0f / std::sqrt(float(D));
  float* att = seq.att_.data();
  float* scores_all = seq.scores_.data();
  struct Ctx {
    const KernelTable* k;
    float *kc, *vc, *att, *scores;
    const float* qkv;
    int64_t C, H, D, cap, p0, T;
    float scale;
  } ctx{&k, kc, vc, att, scores_all, qkv, C, H, D, cap, p0, T, scale};
  // One head (all T queries) per unit of work: each output is computed by exactly one thread.
  pool_->run(
      [](void* p, int64_t h, int worker) {
        auto& c = *static_cast<Ctx*>(p);
        float* scores = c.scores + int64_t(worker) * c.cap;
        const float* kh = c.kc + h * c.cap * c.D;
        const float* vh = c.vc + h * c.cap * c.D;
        for (int64_t t = 0; t < c.T; ++t)  // causal: query t sees positions [0, p0 + t]
          c.k->attend(c.qkv + t * 3 * c.C + h * c.D, kh, vh, c.p0 + t + 1, c.D, c.scale, scores,
                      c.att + t * c.C + h * c.D);
      },
      &ctx, H);
}

Result<std::span<const float>> Gpt2Model::run(Gpt2Sequence& seq, int64_t T) {
  const int64_t C = config_.n_embd;
  float* x = seq.x_.data();
  float* h = seq.h_.data();
  for (int64_t l = layer_begin_; l < layer_end_; ++l) {
    const Layer& L = layers_[size_t(l - layer_begin_)];
    layernorm(x, L.ln1_w, L.ln1_b, h, T);
    matmul(L.qkv, L.qkv_b, h, T, seq.qkv_.data(), 0, false);
    attention(seq, l, T);
    matmul(L.attn_proj, L.attn_proj_b, seq.att_.data(), T, x, kMatmulAccumulate, false);
    layernorm(x, L.ln2_w, L.ln2_b, h, T);
    matmul(L.fc, L.fc_b, h, T, seq.fc_.data(), 0, true);
    matmul(L.mlp_proj, L.mlp_proj_b, seq.fc_.data(), T, x, kMatmulAccumulate, false);
  }
  seq.position_ += T;
  if (!is_last()) return std::span<const float>(x, size_t(T * C));
  layernorm(x + (T - 1) * C, lnf_w_, lnf_b_, h, 1);
  matmul(lm_head_, nullptr, h, 1, seq.logits_.data(), 0, false);
  return std::span<const float>(seq.logits_);
}

}  // namespace cpipe::model

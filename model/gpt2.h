// Gpt2Model: one pipeline stage of GPT-2 — the layers [layer_begin, layer_end) of a model loaded
// from HF files (config.json + model.safetensors) — and Gpt2Sequence, the per-request state (KV
// cache and scratch) it runs on.
//
// Stage roles: the first stage (layer_begin == 0) takes token ids and embeds them (wte + wpe);
// every other stage takes fp32 activations [T, n_embd]. The last stage (layer_end == n_layer)
// applies ln_f and the LM head (tied to wte unless the file carries lm_head.weight) to the last
// position and returns its logits [vocab]; every other stage returns activations [T, n_embd].
// A single stage covering [0, n_layer) goes from tokens to logits.
//
// Prefill is forward() with T > 1 tokens, decode is forward() with T == 1; both append to the
// sequence's KV cache. Nothing is allocated per decode token. A model may serve many sequences,
// but runs one forward() at a time (it owns a thread pool that every call uses).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "model/gpt2_config.h"
#include "model/kernels.h"
#include "model/safetensors.h"
#include "model/thread_pool.h"
#include "model/weight_memory.h"

namespace cpipe::model {

struct Gpt2Options {
  int64_t layer_begin = 0;
  int64_t layer_end = -1;  // -1: up to n_layer
  WeightFormat format = WeightFormat::kF32;
  int threads = 0;                   // 0: one per online CPU (ignored when pool is set)
  std::shared_ptr<ThreadPool> pool;  // stages in one process may share a pool
  // fp32 only: read the LM head (wte) in place from the file mapping instead of copying it into
  // huge-page memory. Saves its size in RAM (154 MB for 124M); decode is slower (4 KiB pages).
  bool lm_head_in_place = false;
};

class Gpt2Sequence;

class Gpt2Model {
 public:
  // Loads DIR/config.json and DIR/model.safetensors.
  static Result<std::unique_ptr<Gpt2Model>> load(const std::string& dir, const Gpt2Options& options);
  static Result<std::unique_ptr<Gpt2Model>> from_file(std::shared_ptr<SafetensorsFile> file,
                                                      const Gpt2Config& config,
                                                      const Gpt2Options& options);
  ~Gpt2Model();

  const Gpt2Config& config() const { return config_; }
  int64_t layer_begin() const { return layer_begin_; }
  int64_t layer_end() const { return layer_end_; }
  bool is_first() const { return layer_begin_ == 0; }
  bool is_last() const { return layer_end_ == config_.n_layer; }
  WeightFormat format() const { return format_; }
  int threads() const { return pool_->size(); }
  // Weight bytes one decode token streams (the matrices, plus the LM head on the last stage).
  size_t decode_weight_bytes() const;

  // A new, empty sequence whose KV cache holds up to max_tokens (0: n_positions).
  std::unique_ptr<Gpt2Sequence> new_sequence(int64_t max_tokens = 0) const;

  // First stage: runs `tokens` (appended at the sequence's position).
  Result<std::span<const float>> forward(Gpt2Sequence& seq, std::span<const int32_t> tokens);
  // Later stages: runs T rows of activations (hidden.size() == T * n_embd).
  Result<std::span<const float>> forward_hidden(Gpt2Sequence& seq, std::span<const float> hidden);

 private:
  struct Layer {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    const float *qkv_b, *attn_proj_b, *fc_b, *mlp_proj_b;
    WeightMatrix qkv, attn_proj, fc, mlp_proj;  // [out, in]
  };
  class Loader;
  Gpt2Model() = default;
  Result<std::span<const float>> run(Gpt2Sequence& seq, int64_t T);
  void layernorm(const float* x, const float* w, const float* b, float* y, int64_t T) const;
  void matmul(const WeightMatrix& w, const float* bias, const float* x, int64_t T, float* y,
              int flags, bool gelu);
  void attention(Gpt2Sequence& seq, int64_t layer, int64_t T);

  Gpt2Config config_;
  int64_t layer_begin_ = 0, layer_end_ = 0;
  WeightFormat format_ = WeightFormat::kF32;
  std::shared_ptr<SafetensorsFile> file_;
  std::shared_ptr<ThreadPool> pool_;
  std::vector<WeightMemory> owned_;
  std::vector<Layer> layers_;
  const float* wte_ = nullptr;  // fp32 [vocab, n_embd]: token embedding (first stage)
  const float* wpe_ = nullptr;  // fp32 [n_positions, n_embd]
  const float *lnf_w_ = nullptr, *lnf_b_ = nullptr;
  WeightMatrix lm_head_;  // [vocab, n_embd] (last stage)

  friend class Gpt2Sequence;
};

class Gpt2Sequence {
 public:
  int64_t position() const { return position_; }  // tokens in the KV cache
  int64_t capacity() const { return capacity_; }
  void reset() { position_ = 0; }  // the cache contents are overwritten on reuse

 private:
  friend class Gpt2Model;
  Gpt2Sequence() = default;
  void ensure_scratch(int64_t T);

  const Gpt2Model* model_ = nullptr;
  int64_t position_ = 0, capacity_ = 0;
  int64_t scratch_tokens_ = 0;
  // KV cache: [layer][head][position][head_dim], for this stage's layers only.
  std::vector<float> k_, v_;
  std::vector<float> x_, h_, qkv_, att_, fc_, logits_, scores_;
};

}  // namespace cpipe::model

// Gpt2Config: the hyperparameters of a GPT-2 model, read from an HF config.json.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/status.h"

namespace cpipe::model {

struct Gpt2Config {
  int64_t vocab_size = 50257;
  int64_t n_positions = 1024;
  int64_t n_embd = 768;
  int64_t n_layer = 12;
  int64_t n_head = 12;
  int64_t n_inner = 0;  // 0 = 4 * n_embd (HF writes null)
  float layer_norm_epsilon = 1e-5f;

  int64_t head_dim() const { return n_embd / n_head; }
  int64_t inner() const { return n_inner > 0 ? n_inner : 4 * n_embd; }

  // MODEL_BAD_CONFIG unless sizes are positive, n_embd divides by n_head, the activation is
  // GPT-2's tanh GELU ("gelu_new") and no unsupported variant flag is set.
  Status validate() const;
  // The config.json that HF's GPT2Config.save_pretrained writes for these sizes.
  std::string to_json() const;
};

Result<Gpt2Config> parse_gpt2_config(std::string_view json_text);
Result<Gpt2Config> load_gpt2_config(const std::string& path);

// Reads a whole small file (configs, tokenizer files).
Result<std::string> read_text_file(const std::string& path);

}  // namespace cpipe::model

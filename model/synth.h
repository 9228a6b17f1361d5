// Synthesized GPT-2 models: deterministic random weights in exactly the layout HF's
// GPT2LMHeadModel.save_pretrained writes (config.json + model.safetensors, F32, names with the
// "transformer." prefix, Conv1D weights [in, out], no lm_head.weight because it is tied to wte).
// They stand in for real weights, which cannot be downloaded everywhere. The same seed gives
// byte-identical files on every platform: values come from SplitMix64 and integer arithmetic
// followed by single correctly rounded IEEE operations, never from std:: distributions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/status.h"
#include "model/gpt2_config.h"

namespace cpipe::model {

// "124M" (GPT-2 small: 12 layers, 768 wide, 12 heads, 1024 positions) or "tiny" (4 layers, 64
// wide, 4 heads, 256 positions); both with the GPT-2 vocabulary (50257).
Result<Gpt2Config> gpt2_preset(std::string_view name);

// Writes DIR/config.json and DIR/model.safetensors (creating DIR).
Status synthesize_gpt2(const Gpt2Config& config, uint64_t seed, const std::string& dir);

// The generator, exposed for tests: SplitMix64 (Steele, Lea, Flood 2014).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Approximately standard normal: the sum of four 16-bit uniforms (Irwin-Hall), centred and
  // scaled to unit variance; bounded to about +-3.46.
  double normal();

 private:
  uint64_t s_;
};

}  // namespace cpipe::model

// Gpt2StageModel: a GPT-2 layer range behind the pipeline's StageModel interface — what a stage
// process (real or simulated) computes with. It also knows which tensors of the safetensors file
// the range reads, and hashes them with the manifest's weight-hash scheme at load time, so the
// stage can refuse weights the manifest does not pin and report what it loaded.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/pipeline/stage_model.h"
#include "model/gpt2.h"

namespace cpipe::model {

// The tensors a stage over layers [begin, end) reads from `file`: wte and wpe on the first
// stage, h.<i>.* for its layers, ln_f and the LM head (lm_head.weight, or the tied wte) on the
// last. Sorted by name.
std::vector<const TensorView*> gpt2_stage_tensors(const SafetensorsFile& file, const Gpt2Config& config,
                                                  int64_t begin, int64_t end);
// Their weight hashes (core/pipeline/manifest_weights.h), in manifest order.
std::vector<std::string> gpt2_stage_weight_hashes(const SafetensorsFile& file, const Gpt2Config& config,
                                                  int64_t begin, int64_t end);

class Gpt2StageModel final : public pipeline::StageModel {
 public:
  // Loads DIR (config.json + model.safetensors) for the layers in `options`.
  static Result<std::unique_ptr<Gpt2StageModel>> load(const std::string& dir, const Gpt2Options& options);
  static Result<std::unique_ptr<Gpt2StageModel>> from_file(std::shared_ptr<SafetensorsFile> file,
                                                           const Gpt2Config& config,
                                                           const Gpt2Options& options);
  // From files already in memory (a cold start's decrypted buffers): the safetensors bytes are
  // taken over, never copied, and each converted weight's bytes are released as the engine
  // builds its own layout, so loading holds about one copy of the model.
  static Result<std::unique_ptr<Gpt2StageModel>> from_memory(std::string_view config_json,
                                                             std::vector<uint8_t> safetensors,
                                                             const Gpt2Options& options);

  pipeline::StageShape shape() const override;
  Result<std::unique_ptr<pipeline::StageSequence>> new_sequence(int64_t capacity) override;
  Result<std::span<const float>> forward_tokens(pipeline::StageSequence& seq,
                                                std::span<const int32_t> tokens) override;
  Result<std::span<const float>> forward_hidden(pipeline::StageSequence& seq,
                                                std::span<const float> hidden) override;
  const std::vector<std::string>& weight_hashes() const override { return weight_hashes_; }

  Gpt2Model& model() { return *model_; }

 private:
  std::unique_ptr<Gpt2Model> model_;
  std::vector<std::string> weight_hashes_;
};

}  // namespace cpipe::model

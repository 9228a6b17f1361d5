// The process-wide stage model cache of the simulator's runs (sim_model_cache.h).
#include "apps/cpipe/sim_model_cache.h"

#include <map>
#include <mutex>
#include <tuple>

namespace cpipe::cli {
namespace {

class SharedStageModel final : public pipeline::StageModel {
 public:
  explicit SharedStageModel(std::shared_ptr<model::Gpt2StageModel> inner) : inner_(std::move(inner)) {}
  pipeline::StageShape shape() const override { return inner_->shape(); }
  Result<std::unique_ptr<pipeline::StageSequence>> new_sequence(int64_t capacity) override {
    return inner_->new_sequence(capacity);
  }
  Result<std::span<const float>> forward_tokens(pipeline::StageSequence& seq,
                                                std::span<const int32_t> tokens) override {
    return inner_->forward_tokens(seq, tokens);
  }
  Result<std::span<const float>> forward_hidden(pipeline::StageSequence& seq,
                                                std::span<const float> hidden) override {
    return inner_->forward_hidden(seq, hidden);
  }
  const std::vector<std::string>& weight_hashes() const override { return inner_->weight_hashes(); }

 private:
  std::shared_ptr<model::Gpt2StageModel> inner_;
};

}  // namespace

Result<std::unique_ptr<pipeline::StageModel>> cached_stage_model(const std::string& model_dir,
                                                                 std::shared_ptr<model::SafetensorsFile> file,
                                                                 const model::Gpt2Config& config,
                                                                 const model::Gpt2Options& options) {
  static std::mutex mu;
  static std::map<std::tuple<std::string, int64_t, int64_t, int>, std::shared_ptr<model::Gpt2StageModel>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_tuple(model_dir, int64_t(options.layer_begin), int64_t(options.layer_end), int(options.format));
  auto it = cache.find(key);
  if (it == cache.end()) {
    CPIPE_ASSIGN_OR_RETURN(std::unique_ptr<model::Gpt2StageModel> m,
                           model::Gpt2StageModel::from_file(std::move(file), config, options));
    it = cache.emplace(key, std::shared_ptr<model::Gpt2StageModel>(std::move(m))).first;
  }
  return std::unique_ptr<pipeline::StageModel>(std::make_unique<SharedStageModel>(it->second));
}

}  // namespace cpipe::cli

// GPT-2 as a pipeline stage model (gpt2_stage_model.h).
#include "model/gpt2_stage_model.h"

#include <algorithm>

#include "core/pipeline/manifest_weights.h"

namespace cpipe::model {
namespace {

class Gpt2StageSequence final : public pipeline::StageSequence {
 public:
  explicit Gpt2StageSequence(std::unique_ptr<Gpt2Sequence> seq) : seq_(std::move(seq)) {}
  int64_t position() const override { return seq_->position(); }
  Gpt2Sequence& get() { return *seq_; }

 private:
  std::unique_ptr<Gpt2Sequence> seq_;
};

bool reads(std::string_view name, std::string_view prefix, const Gpt2Config& config, int64_t begin,
           int64_t end, bool tied_head) {
  if (name.substr(0, prefix.size()) != prefix) return name == "lm_head.weight" && end == config.n_layer;
  std::string_view n = name.substr(prefix.size());
  if (n == "wte.weight") return begin == 0 || (end == config.n_layer && tied_head);
  if (n == "wpe.weight") return begin == 0;
  if (n.substr(0, 5) == "ln_f.") return end == config.n_layer;
  if (n.substr(0, 2) != "h.") return false;
  size_t dot = n.find('.', 2);
  if (dot == std::string_view::npos) return false;
  int64_t layer = 0;
  for (char c : n.substr(2, dot - 2)) {
    if (c < '0' || c > '9') return false;
    layer = layer * 10 + (c - '0');
  }
  return layer >= begin && layer < end;
}

}  // namespace

std::vector<const TensorView*> gpt2_stage_tensors(const SafetensorsFile& file, const Gpt2Config& config,
                                                  int64_t begin, int64_t end) {
  std::string prefix = file.find("transformer.wte.weight") ? "transformer." : "";
  bool tied = file.find("lm_head.weight") == nullptr;
  std::vector<const TensorView*> out;
  for (const TensorView& t : file.tensors())
    if (reads(t.name, prefix, config, begin, end, tied)) out.push_back(&t);
  return out;  // tensors() is sorted by name already
}

std::vector<std::string> gpt2_stage_weight_hashes(const SafetensorsFile& file, const Gpt2Config& config,
                                                  int64_t begin, int64_t end) {
  std::vector<pipeline::WeightTensor> tensors;
  for (const TensorView* t : gpt2_stage_tensors(file, config, begin, end)) {
    pipeline::WeightTensor w;
    w.name = t->name;
    w.dtype = std::string(dtype_name(t->dtype));
    for (int64_t d : t->shape) w.shape.push_back(uint64_t(d));
    w.data = t->data;
    tensors.push_back(std::move(w));
  }
  return pipeline::stage_weight_hashes(tensors);
}

Result<std::unique_ptr<Gpt2StageModel>> Gpt2StageModel::load(const std::string& dir,
                                                             const Gpt2Options& options) {
  CPIPE_ASSIGN_OR_RETURN(Gpt2Config config, load_gpt2_config(dir + "/config.json"));
  CPIPE_ASSIGN_OR_RETURN(auto file, SafetensorsFile::open(dir + "/model.safetensors"));
  return from_file(std::move(file), config, options);
}

Result<std::unique_ptr<Gpt2StageModel>> Gpt2StageModel::from_file(std::shared_ptr<SafetensorsFile> file,
                                                                  const Gpt2Config& config,
                                                                  const Gpt2Options& options) {
  std::unique_ptr<Gpt2StageModel> m(new Gpt2StageModel());
  // Hash first: loading may release the file's bytes of converted tensors (in-memory files read
  // back as zeros afterwards). A bad range is reported by the load below.
  const int64_t begin = options.layer_begin, end = options.layer_end < 0 ? config.n_layer : options.layer_end;
  if (begin >= 0 && begin < end && end <= config.n_layer)
    m->weight_hashes_ = gpt2_stage_weight_hashes(*file, config, begin, end);
  CPIPE_ASSIGN_OR_RETURN(m->model_, Gpt2Model::from_file(file, config, options));
  return m;
}

Result<std::unique_ptr<Gpt2StageModel>> Gpt2StageModel::from_memory(std::string_view config_json,
                                                                    std::vector<uint8_t> safetensors,
                                                                    const Gpt2Options& options) {
  CPIPE_ASSIGN_OR_RETURN(Gpt2Config config, parse_gpt2_config(config_json));
  CPIPE_ASSIGN_OR_RETURN(auto file, SafetensorsFile::from_bytes(std::move(safetensors)));
  return from_file(std::move(file), config, options);
}

pipeline::StageShape Gpt2StageModel::shape() const {
  const Gpt2Config& c = model_->config();
  return pipeline::StageShape{.layer_begin = model_->layer_begin(), .layer_end = model_->layer_end(),
                              .n_layer = c.n_layer, .hidden = c.n_embd, .vocab = c.vocab_size,
                              .n_positions = c.n_positions};
}

Result<std::unique_ptr<pipeline::StageSequence>> Gpt2StageModel::new_sequence(int64_t capacity) {
  const int64_t limit = model_->config().n_positions;
  if (capacity <= 0 || capacity > limit)
    return make_error(ErrorCode::MODEL_CONTEXT_OVERFLOW,
                      "a request of " + std::to_string(capacity) + " tokens does not fit the " +
                          std::to_string(limit) + "-token context");
  return std::unique_ptr<pipeline::StageSequence>(
      std::make_unique<Gpt2StageSequence>(model_->new_sequence(capacity)));
}

Result<std::span<const float>> Gpt2StageModel::forward_tokens(pipeline::StageSequence& seq,
                                                              std::span<const int32_t> tokens) {
  return model_->forward(static_cast<Gpt2StageSequence&>(seq).get(), tokens);
}

Result<std::span<const float>> Gpt2StageModel::forward_hidden(pipeline::StageSequence& seq,
                                                              std::span<const float> hidden) {
  return model_->forward_hidden(static_cast<Gpt2StageSequence&>(seq).get(), hidden);
}

}  // namespace cpipe::model

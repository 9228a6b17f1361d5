// Model and tokenizer resolution for the commands (model_source.h).
#include "apps/cpipe/model_source.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "model/synth.h"
#include "model/tokenizer/tokenizer_files.h"

namespace cpipe::cli {

namespace fs = std::filesystem;

Result<std::string> resolve_model_dir(const std::string& dir, const std::string& preset, uint64_t seed) {
  if (!dir.empty()) {
    if (!fs::exists(dir + "/config.json") || !fs::exists(dir + "/model.safetensors"))
      return make_error(ErrorCode::NOT_FOUND, dir + " has no config.json + model.safetensors");
    return dir;
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string root = std::string(tmp && *tmp ? tmp : "/tmp") + "/cpipe-models";
  std::string target = root + "/synth-gpt2-" + preset + "-seed" + std::to_string(seed);
  if (fs::exists(target + "/model.safetensors")) return target;
  CPIPE_ASSIGN_OR_RETURN(model::Gpt2Config config, model::gpt2_preset(preset));
  std::error_code ec;
  fs::create_directories(root, ec);
  std::string staging = target + ".tmp-" + std::to_string(::getpid());
  CPIPE_RETURN_IF_ERROR(model::synthesize_gpt2(config, seed, staging));
  fs::rename(staging, target, ec);
  if (ec) {
    fs::remove_all(staging, ec);  // another run won the race; its copy is identical
    if (!fs::exists(target + "/model.safetensors"))
      return make_error(ErrorCode::IO_ERROR, "cannot create " + target);
  }
  return target;
}

Result<std::shared_ptr<const model::BpeTokenizer>> find_tokenizer(const std::string& explicit_dir,
                                                                  const std::string& model_dir) {
  if (!explicit_dir.empty()) return model::load_tokenizer_dir(explicit_dir);
  auto has_files = [](const std::string& d) {
    return !d.empty() && (fs::exists(d + "/tokenizer.json") ||
                          (fs::exists(d + "/encoder.json") && fs::exists(d + "/vocab.bpe")));
  };
  if (has_files(model_dir)) return model::load_tokenizer_dir(model_dir);
#ifdef CPIPE_DEFAULT_TOKENIZER_DIR
  if (has_files(CPIPE_DEFAULT_TOKENIZER_DIR)) return model::load_tokenizer_dir(CPIPE_DEFAULT_TOKENIZER_DIR);
#endif
  return make_error(ErrorCode::NOT_FOUND,
                    "no tokenizer (give --tokenizer DIR with encoder.json + vocab.bpe or "
                    "tokenizer.json, or the prompt as --prompt-ids)");
}

Result<std::vector<int32_t>> parse_token_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find_first_of(", ", i);
    if (j == std::string::npos) j = text.size();
    std::string part = text.substr(i, j - i);
    if (!part.empty()) {
      char* end = nullptr;
      long v = std::strtol(part.c_str(), &end, 10);
      if (*end != '\0' || v < 0 || v > 0x7fffffff)
        return make_error(ErrorCode::INVALID_ARGUMENT, "'" + part + "' is not a token id");
      ids.push_back(int32_t(v));
    }
    i = j + 1;
  }
  if (ids.empty()) return make_error(ErrorCode::INVALID_ARGUMENT, "no token ids in '" + text + "'");
  return ids;
}

Result<std::vector<int32_t>> prompt_ids(const std::string& prompt, const std::string& ids,
                                        const model::BpeTokenizer* tokenizer) {
  if (!ids.empty()) return parse_token_ids(ids);
  if (prompt.empty()) return std::vector<int32_t>{464, 2068, 7586, 21831};
  if (!tokenizer)
    return make_error(ErrorCode::NOT_FOUND, "--prompt needs a tokenizer (or use --prompt-ids)");
  std::vector<int32_t> out;
  for (auto id : tokenizer->encode(prompt)) out.push_back(int32_t(id));
  if (out.empty()) return make_error(ErrorCode::INVALID_ARGUMENT, "the prompt encodes to no tokens");
  return out;
}

}  // namespace cpipe::cli

// Where the commands get a model and a tokenizer: a directory the user names, or — so that the
// main job and the benchmarks need no download — a GPT-2-shaped model synthesized with random
// weights (model/synth.h) into a cache directory, made once per preset and seed. The tokenizer
// comes from the model directory, an explicit directory, or the GPT-2 files beside the source
// tree; without one, prompts must be given as token ids.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "model/tokenizer/bpe_tokenizer.h"

namespace cpipe::cli {

// `dir` when non-empty (it must hold config.json and model.safetensors); otherwise the cached
// synthesized `preset` ("tiny", "124M") for `seed`, synthesizing it first if needed (written to
// a temporary directory and renamed, so concurrent runs never see half a model).
Result<std::string> resolve_model_dir(const std::string& dir, const std::string& preset = "tiny",
                                      uint64_t seed = 1);

// The tokenizer in `explicit_dir`, else in `model_dir`, else the GPT-2 files the build knows
// about. NOT_FOUND when there is none.
Result<std::shared_ptr<const model::BpeTokenizer>> find_tokenizer(const std::string& explicit_dir,
                                                                  const std::string& model_dir);

// "464,2068,7586" -> ids; INVALID_ARGUMENT on anything else.
Result<std::vector<int32_t>> parse_token_ids(const std::string& text);

// The prompt as ids: --prompt-ids if given, else --prompt through the tokenizer, else the
// default prompt "The quick brown fox" (GPT-2 ids 464 2068 7586 21831).
Result<std::vector<int32_t>> prompt_ids(const std::string& prompt, const std::string& ids,
                                        const model::BpeTokenizer* tokenizer);

}  // namespace cpipe::cli

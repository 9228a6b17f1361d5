// Loaded stage models shared by every simulated run in a process: a seed sweep runs hundreds of
// worlds on the same model, and loading (converting weights, hashing them for the manifest) was
// a large part of each run. A model's weights never change after loading and all per-request
// state lives in its sequences, so runs one after another can share it; the cache hands each
// run a thin StageModel that forwards to the shared one.
#pragma once

#include <memory>
#include <string>

#include "core/base/status.h"
#include "core/pipeline/stage_model.h"
#include "model/gpt2_stage_model.h"

namespace cpipe::cli {

// The model of layers [options.layer_begin, options.layer_end) of `model_dir`, loaded once per
// process (keyed by directory and layer range; `options.pool` is the first caller's).
Result<std::unique_ptr<pipeline::StageModel>> cached_stage_model(const std::string& model_dir,
                                                                 std::shared_ptr<model::SafetensorsFile> file,
                                                                 const model::Gpt2Config& config,
                                                                 const model::Gpt2Options& options);

}  // namespace cpipe::cli

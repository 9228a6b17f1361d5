// The client flags `cpipe run` and `cpipe up` share: what to ask the pipeline (prompt, tokens,
// requests per session, sessions at once, where the token is picked) and where the latency JSON
// goes — declared once, turned into LocalRunOptions once.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "apps/cpipe/local_pipeline.h"

namespace cpipe::cli {

struct ClientFlags {
  std::string tokenizer_dir, prompt, prompt_ids, latency_out;
  int max_tokens = 16;
  int requests = 1;
  int concurrency = 1;
  bool greedy_in_last_stage = false;
};

void add_client_flags(CLI::App* cmd, ClientFlags& flags);

// The run of `prompt` (already resolved to ids) on `manifest` these flags ask for; timeouts and
// the rest at their defaults.
LocalRunOptions client_run_options(const ClientFlags& flags, const pipeline::Manifest& manifest,
                                   std::vector<int32_t> prompt);

}  // namespace cpipe::cli

// The shared client flags (client_flags.h).
#include "apps/cpipe/client_flags.h"

namespace cpipe::cli {

void add_client_flags(CLI::App* cmd, ClientFlags& f) {
  cmd->add_option("--tokenizer", f.tokenizer_dir, "Tokenizer directory");
  cmd->add_option("--prompt", f.prompt, "Prompt text (needs a tokenizer)");
  cmd->add_option("--prompt-ids", f.prompt_ids, "Prompt as token ids: 464,2068,7586");
  cmd->add_option("--max-tokens", f.max_tokens, "Tokens to generate")->check(CLI::Range(1, 4096));
  cmd->add_option("--requests", f.requests, "Requests per session, one after another")->check(CLI::Range(1, 100000));
  cmd->add_option("--concurrency", f.concurrency, "Sessions at once")->check(CLI::Range(1, 1000));
  cmd->add_flag("--greedy-in-last-stage", f.greedy_in_last_stage, "The last stage picks the token (no logits back)");
  cmd->add_option("--latency-out", f.latency_out, "Write latency JSON here");
}

LocalRunOptions client_run_options(const ClientFlags& f, const pipeline::Manifest& manifest,
                                   std::vector<int32_t> prompt) {
  LocalRunOptions ro;
  ro.manifest = manifest;
  ro.prompt = std::move(prompt);
  ro.max_new_tokens = f.max_tokens;
  ro.requests = f.requests;
  ro.concurrency = f.concurrency;
  ro.greedy_in_last_stage = f.greedy_in_last_stage;
  return ro;
}

}  // namespace cpipe::cli

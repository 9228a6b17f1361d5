// `cpipe run --manifest M --model DIR --prompt TEXT --max-tokens N`: the orchestrator as a real
// process. It attests every stage named by the manifest (mock-dev locally), builds the encrypted
// data chain, runs the requests (several sessions at once with --concurrency) and prints the
// generated ids and text; --latency-out writes the latency JSON (docs/pipeline.md). Exit 1 with
// the error code when the pipeline cannot be built or a request fails. --record-costs F.yaml
// writes the measured costs in the scenario format (cost_recorder.h).
#include <memory>

#include "apps/cpipe/client_flags.h"
#include "apps/cpipe/command_registry.h"
#include "apps/cpipe/cost_recorder.h"
#include "apps/cpipe/local_pipeline.h"
#include "apps/cpipe/model_source.h"

namespace cpipe::cli {
namespace {

struct Options {
  std::string manifest_path, model_dir, record_costs;
  ClientFlags client;
  bool json = false;
  bool verbose = false;
  double step_timeout_ms = 30000;
  double recovery_timeout_ms = 30000;
  double setup_timeout_ms = 30000;
};

runtime::Duration ms(double v) { return runtime::Duration(int64_t(v * 1e6)); }

int run(const Options& o) {
  auto manifest = load_manifest_for_model(o.manifest_path, o.model_dir);
  if (!manifest.ok()) return report_error(manifest.status(), o.json);
  auto tokenizer = find_tokenizer(o.client.tokenizer_dir, o.model_dir);
  if (!o.client.tokenizer_dir.empty() && !tokenizer.ok()) return report_error(tokenizer.status(), o.json);
  const model::BpeTokenizer* tok = tokenizer.ok() ? tokenizer->get() : nullptr;
  auto prompt = prompt_ids(o.client.prompt, o.client.prompt_ids, tok);
  if (!prompt.ok()) return report_error(prompt.status(), o.json);

  posix::PosixEnvOptions po;
  po.compute_threads = 1;
  po.min_event_level = o.verbose ? EventLevel::kInfo : EventLevel::kWarn;
  auto posix = posix::make_posix_env(po);
  LocalRunOptions ro = client_run_options(o.client, *manifest, *prompt);
  ro.step_timeout = ms(o.step_timeout_ms);
  ro.recovery_timeout = ms(o.recovery_timeout_ms);
  ro.setup_timeout = ms(o.setup_timeout_ms);
  int code;
  {
    LocalClient client(*posix);
    LocalRunReport report = client.run(ro);
    nlohmann::ordered_json extra;
    extra["stages"] = manifest->stages.size();
    extra["greedy_in_last_stage"] = o.client.greedy_in_last_stage;
    code = print_local_run(report, *prompt, tok, o.json, o.client.latency_out, extra);
    if (!o.record_costs.empty() && code == kExitOk) {
      // After the requests, so the measurements never disturb their latencies.
      auto costs = record_costs(*posix, *manifest, report, 8);
      if (!costs.ok()) return report_error(costs.status(), o.json);
      Status st = write_text_file(o.record_costs, costs_yaml(*costs));
      if (!st.ok()) return report_error(st, o.json);
    }
  }
  return code;
}

const CommandRegistrar kRegistrar([](CLI::App& root) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("run", "Run requests through a pipeline of stage processes (orchestrator)");
  cmd->add_option("--manifest", opt->manifest_path, "Pipeline manifest (JSON)")->required();
  cmd->add_option("--model", opt->model_dir, "Model directory (checked against the manifest; its tokenizer)")->required();
  add_client_flags(cmd, opt->client);
  cmd->add_option("--record-costs", opt->record_costs, "Write the measured costs as a scenario costs: section (YAML)");
  cmd->add_option("--step-timeout-ms", opt->step_timeout_ms, "One token's round trip must finish in this");
  cmd->add_option("--recovery-timeout-ms", opt->recovery_timeout_ms, "How long a request waits for a rebuilt pipeline");
  cmd->add_option("--setup-timeout-ms", opt->setup_timeout_ms, "The first pipeline build must finish in this");
  cmd->add_flag("--json", opt->json, "Machine-readable output");
  cmd->add_flag("--verbose", opt->verbose, "Info-level events on stderr");
  cmd->callback([opt] { set_exit_code(run(*opt)); });
});

}  // namespace
}  // namespace cpipe::cli

// `cpipe up --stages N`: a local N-stage confidential pipeline in one command. It writes a
// manifest for N stages on 127.0.0.1 (mock-dev attestation, weight hashes pinned from the
// model), starts N `cpipe stage` child processes, waits for their "ready" lines, runs the
// requests in-process exactly as `cpipe run` does, and tears the children down (SIGTERM; each
// must exit 0). --print-commands shows the equivalent `cpipe stage` / `cpipe run` commands.
// --sealed: the model is first sealed (`cpipe model seal`) under a fresh DEVELOPMENT-ONLY dev key
// in a temporary directory, and the stages cold-start from the sealed file (cmd_stage.cc); their
// cold-start phase timings go into the JSON output ("cold_starts").
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "apps/cpipe/client_flags.h"
#include "apps/cpipe/command_registry.h"
#include "apps/cpipe/local_pipeline.h"
#include "apps/cpipe/local_sealed_stage.h"
#include "apps/cpipe/model_source.h"

namespace cpipe::cli {
namespace {

struct Options {
  int stages = 2;
  std::string model_dir, preset = "tiny", manifest_out;
  ClientFlags client;
  int base_port = 0;
  int threads = 1;
  bool json = false;
  bool print_commands = false;
  bool verbose = false;
  bool sealed = false;
};

// The JSON after "cold_start=" on a sealed stage's ready line (null when absent or unparsable).
nlohmann::ordered_json cold_start_of(const std::string& ready_line) {
  const std::string tag = " cold_start=";
  auto at = ready_line.find(tag);
  if (at == std::string::npos) return nullptr;
  auto j = nlohmann::ordered_json::parse(ready_line.substr(at + tag.size()), nullptr, false);
  return j.is_discarded() ? nlohmann::ordered_json(nullptr) : j;
}

int run(const Options& o) {
  auto dir = resolve_model_dir(o.model_dir, o.preset);
  if (!dir.ok()) return report_error(dir.status(), o.json);
  auto tokenizer = find_tokenizer(o.client.tokenizer_dir, *dir);
  if (!o.client.tokenizer_dir.empty() && !tokenizer.ok()) return report_error(tokenizer.status(), o.json);
  const model::BpeTokenizer* tok = tokenizer.ok() ? tokenizer->get() : nullptr;
  auto prompt = prompt_ids(o.client.prompt, o.client.prompt_ids, tok);
  if (!prompt.ok()) return report_error(prompt.status(), o.json);

  LocalManifestOptions mo;
  mo.model_dir = *dir;
  mo.stages = o.stages;
  mo.base_port = uint16_t(o.base_port);
  auto manifest = make_local_manifest(mo);
  if (!manifest.ok()) return report_error(manifest.status(), o.json);
  std::string manifest_path = o.manifest_out.empty()
                                  ? "/tmp/cpipe-up-" + std::to_string(::getpid()) + ".manifest.json"
                                  : o.manifest_out;
  Status written = write_text_file(manifest_path, manifest->to_json() + "\n");
  if (!written.ok()) return report_error(written, o.json);

  StageProcessOptions so;
  so.manifest_path = manifest_path;
  so.model_dir = *dir;
  so.threads = o.threads;
  if (o.verbose) so.extra_args.push_back("--verbose");
  std::string sealed_dir;
  if (o.sealed) {
    sealed_dir = "/tmp/cpipe-up-" + std::to_string(::getpid()) + ".sealed.d";
    std::cerr << "cpipe up: sealing " << *dir << " under a fresh DEVELOPMENT-ONLY dev key in " << sealed_dir << std::endl;
    auto sealed = seal_model_dir_with_fresh_dev_key(*dir, sealed_dir, "cpipe-up-" + o.preset);
    if (!sealed.ok()) {
      std::error_code ec;
      std::filesystem::remove_all(sealed_dir, ec);
      return report_error(sealed.status(), o.json);
    }
    so.sealed_path = *sealed;
    so.dev_key_path = sealed_dir + "/dev.key";
  }
  if (o.print_commands) {
    for (int i = 0; i < o.stages; ++i)
      std::cerr << "  " << self_executable() << " stage --manifest " << manifest_path << " --stage-idx " << i
                << " --model " << *dir << " --threads " << o.threads << " --attestation mock-dev &\n";
    std::cerr << "  " << self_executable() << " run --manifest " << manifest_path << " --model " << *dir
              << " --max-tokens " << o.client.max_tokens << "\n";
  }
  std::vector<std::string> ready_lines;
  auto children = spawn_stages(so, o.stages, 60000, &ready_lines);
  if (!children.ok()) return report_error(children.status(), o.json);

  int code;
  {
    posix::PosixEnvOptions po;
    po.compute_threads = 1;
    po.min_event_level = o.verbose ? EventLevel::kInfo : EventLevel::kWarn;
    auto posix = posix::make_posix_env(po);
    LocalClient client(*posix);
    LocalRunReport report = client.run(client_run_options(o.client, *manifest, *prompt));
    bool clean = stop_stages(*children);
    nlohmann::ordered_json extra;
    extra["stages"] = o.stages;
    extra["model_dir"] = *dir;
    extra["manifest"] = manifest_path;
    extra["greedy_in_last_stage"] = o.client.greedy_in_last_stage;
    extra["stage_threads"] = o.threads;
    extra["stages_exited_cleanly"] = clean;
    if (o.sealed) {
      extra["sealed"] = true;
      extra["key_release"] = "DEVELOPMENT-ONLY dev key";
      nlohmann::ordered_json cold = nlohmann::ordered_json::array();
      for (const std::string& line : ready_lines) cold.push_back(cold_start_of(line));
      extra["cold_starts"] = cold;
    }
    code = print_local_run(report, *prompt, tok, o.json, o.client.latency_out, extra);
    if (code == kExitOk && !clean) {
      std::cerr << "cpipe: error: a stage process did not exit cleanly" << std::endl;
      code = kExitFailure;
    }
  }
  if (o.manifest_out.empty()) std::remove(manifest_path.c_str());
  if (!sealed_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(sealed_dir, ec);
  }
  return code;
}

const CommandRegistrar kRegistrar([](CLI::App& root) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("up", "Start a local N-stage pipeline (processes over TCP), run a request, stop");
  cmd->add_option("--stages", opt->stages, "Stage processes")->check(CLI::Range(1, 64));
  cmd->add_option("--model", opt->model_dir, "Model directory (default: the synthesized --preset)");
  cmd->add_option("--preset", opt->preset, "Synthesized model when no --model: tiny or 124M");
  cmd->add_option("--base-port", opt->base_port, "First TCP port (2 per stage + 1); 0: free ports")->check(CLI::Range(0, 65000));
  cmd->add_option("--threads", opt->threads, "Model threads per stage process")->check(CLI::Range(1, 256));
  add_client_flags(cmd, opt->client);
  cmd->add_option("--manifest-out", opt->manifest_out, "Keep the manifest here (default: a temporary file)");
  cmd->add_flag("--print-commands", opt->print_commands, "Print the equivalent stage/run commands on stderr");
  cmd->add_flag("--sealed", opt->sealed,
                "Seal the model under a fresh DEVELOPMENT-ONLY dev key (temp dir); stages cold-start from it");
  cmd->add_flag("--verbose", opt->verbose, "Info-level events from every process on stderr");
  cmd->add_flag("--json", opt->json, "Machine-readable output");
  cmd->callback([opt] { set_exit_code(run(*opt)); });
});

}  // namespace
}  // namespace cpipe::cli

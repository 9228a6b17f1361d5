// `cpipe manifest pin --model DIR --stages N --out FILE`: writes the manifest `cpipe up` uses —
// N stages on 127.0.0.1 (or --host) over even layer ranges, platform mock-dev, the local stage
// image's measurement and every stage's weight hashes pinned — for running `cpipe stage` and
// `cpipe run` by hand.
#include <iostream>
#include <memory>

#include "apps/cpipe/command_registry.h"
#include "apps/cpipe/local_pipeline.h"
#include "apps/cpipe/model_source.h"

namespace cpipe::cli {
namespace {

struct Options {
  std::string model_dir, preset = "tiny", out, host = "127.0.0.1";
  int stages = 2;
  int base_port = 0;
  bool no_weights = false;
  bool json = false;
};

int run(const Options& o) {
  auto dir = resolve_model_dir(o.model_dir, o.preset);
  if (!dir.ok()) return report_error(dir.status(), o.json);
  LocalManifestOptions mo;
  mo.model_dir = *dir;
  mo.stages = o.stages;
  mo.host = o.host;
  mo.base_port = uint16_t(o.base_port);
  mo.pin_weights = !o.no_weights;
  auto manifest = make_local_manifest(mo);
  if (!manifest.ok()) return report_error(manifest.status(), o.json);
  std::string text = manifest->to_json() + "\n";
  if (o.out.empty() || o.out == "-") {
    std::cout << text;
    return kExitOk;
  }
  Status st = write_text_file(o.out, text);
  if (!st.ok()) return report_error(st, o.json);
  if (o.json)
    std::cout << nlohmann::ordered_json{{"ok", true}, {"out", o.out}, {"model_dir", *dir}, {"stages", o.stages}}.dump(2)
              << std::endl;
  else
    std::cout << "wrote " << o.out << " (" << o.stages << " stages, model " << *dir << ")" << std::endl;
  return kExitOk;
}

const CommandRegistrar kRegistrar([](CLI::App& root) {
  CLI::App* manifest = group(root, "manifest", "Pipeline manifests (docs/manifest.md)");
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = manifest->add_subcommand("pin", "Write a local N-stage manifest with the model's weight hashes pinned");
  cmd->add_option("--model", opt->model_dir, "Model directory (default: the synthesized --preset)");
  cmd->add_option("--preset", opt->preset, "Synthesized model when no --model: tiny or 124M");
  cmd->add_option("--stages", opt->stages, "Stages")->check(CLI::Range(1, 64));
  cmd->add_option("--host", opt->host, "Address the stages listen on");
  cmd->add_option("--base-port", opt->base_port, "First TCP port (2 per stage + 1); 0: free ports now")->check(CLI::Range(0, 65000));
  cmd->add_flag("--no-weights", opt->no_weights, "Do not pin weight hashes");
  cmd->add_option("--out", opt->out, "Output file (default: stdout)");
  cmd->add_flag("--json", opt->json, "Machine-readable output");
  cmd->callback([opt] { set_exit_code(run(*opt)); });
});

}  // namespace
}  // namespace cpipe::cli

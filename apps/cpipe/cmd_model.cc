// `cpipe model synth`: writes a deterministic random-weight GPT-2 in HF layout (config.json +
// model.safetensors), and `cpipe model info`: validates a model directory and prints its shape.
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/cpipe/command_registry.h"
#include "model/gpt2.h"
#include "model/synth.h"

namespace cpipe::cli {
namespace {

struct SynthOptions {
  std::string arch = "gpt2";
  std::string preset = "tiny";
  uint64_t seed = 0;
  std::string out;
  bool json = false;
};

int run_synth(const SynthOptions& o) {
  if (o.arch != "gpt2")
    return report_error(make_error(ErrorCode::INVALID_ARGUMENT, "unknown --arch " + o.arch + " (gpt2)"), o.json);
  auto config = model::gpt2_preset(o.preset);
  if (!config.ok()) return report_error(config.status(), o.json);
  Status s = model::synthesize_gpt2(*config, o.seed, o.out);
  if (!s.ok()) return report_error(s, o.json);
  if (o.json) {
    nlohmann::ordered_json j = {{"ok", true},           {"arch", o.arch},        {"preset", o.preset},
                                {"seed", o.seed},       {"out", o.out},          {"n_layer", config->n_layer},
                                {"n_embd", config->n_embd}, {"n_head", config->n_head},
                                {"vocab_size", config->vocab_size}};
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << "wrote " << o.out << "/config.json and " << o.out << "/model.safetensors\n";
  }
  return kExitOk;
}

struct InfoOptions {
  std::string dir;
  bool json = false;
};

int run_info(const InfoOptions& o) {
  auto config = model::load_gpt2_config(o.dir + "/config.json");
  if (!config.ok()) return report_error(config.status(), o.json);
  auto file = model::SafetensorsFile::open(o.dir + "/model.safetensors");
  if (!file.ok()) return report_error(file.status(), o.json);
  model::Gpt2Options opt;
  opt.threads = 1;
  auto m = model::Gpt2Model::from_file(*file, *config, opt);
  if (!m.ok()) return report_error(m.status(), o.json);
  nlohmann::ordered_json j = {{"ok", true},
                              {"n_layer", config->n_layer},
                              {"n_embd", config->n_embd},
                              {"n_head", config->n_head},
                              {"n_positions", config->n_positions},
                              {"vocab_size", config->vocab_size},
                              {"tensors", (*file)->tensors().size()},
                              {"decode_weight_bytes", (*m)->decode_weight_bytes()}};
  std::cout << (o.json ? j.dump() : j.dump(2)) << std::endl;
  return kExitOk;
}

CommandRegistrar registrar([](CLI::App& root) {
  CLI::App* grp = group(root, "model", "Model files: synthesize, inspect");
  auto so = std::make_shared<SynthOptions>();
  CLI::App* synth = grp->add_subcommand("synth", "Write a deterministic random-weight model in HF layout");
  synth->add_option("--arch", so->arch, "Architecture (gpt2)");
  synth->add_option("--preset", so->preset, "124M or tiny")->required();
  synth->add_option("--seed", so->seed, "Seed (same seed: byte-identical files)");
  synth->add_option("--out", so->out, "Output directory")->required();
  synth->add_flag("--json", so->json, "Machine-readable output");
  synth->callback([so] { set_exit_code(run_synth(*so)); });

  auto io = std::make_shared<InfoOptions>();
  CLI::App* info = grp->add_subcommand("info", "Validate a model directory and print its sizes");
  info->add_option("--model", io->dir, "Directory with config.json and model.safetensors")->required();
  info->add_flag("--json", io->json, "Machine-readable output");
  info->callback([io] { set_exit_code(run_info(*io)); });
});

}  // namespace
}  // namespace cpipe::cli

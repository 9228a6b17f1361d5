// `cpipe manifest check FILE [--model DIR] [--json]`: loads and validates a pipeline manifest
// (docs/manifest.md). Exit 0 with a summary; exit 1 with the stable error code and the JSON path
// of the offending field.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/cpipe/command_registry.h"
#include "core/pipeline/manifest.h"
#include "model/gpt2_config.h"

namespace cpipe::cli {
namespace {

struct CheckOptions {
  std::string file;
  std::string model_dir;
  bool json = false;
};

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::NOT_FOUND, "cannot open '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::IO_ERROR, "cannot read '" + path + "'");
  return text.str();
}

int report_manifest_error(const pipeline::ManifestError& e, const std::string& file, bool json) {
  if (json) {
    nlohmann::ordered_json j;
    j["ok"] = false;
    j["file"] = file;
    j["error"] = {{"code", std::string(error_code_name(e.code))},
                  {"number", int(e.code)},
                  {"json_path", e.json_path},
                  {"message", e.message}};
    std::cout << j.dump(2) << std::endl;
  } else {
    std::cerr << "cpipe: " << file << ": " << error_code_name(e.code) << " at " << e.json_path
              << ": " << e.message << std::endl;
  }
  return kExitFailure;
}

nlohmann::ordered_json summary_json(const pipeline::Manifest& m) {
  nlohmann::ordered_json stages = nlohmann::ordered_json::array();
  for (const pipeline::StageSpec& s : m.stages) {
    stages.push_back({{"stage_idx", s.stage_idx},
                      {"layers", {s.layer_start, s.layer_end}},
                      {"control", s.endpoint.control.to_string()},
                      {"data_in", s.endpoint.data_in.to_string()},
                      {"data_out", s.endpoint.data_out.to_string()},
                      {"weight_hashes", s.weight_hashes.size()},
                      {"expected_measurements", s.expected_measurements.size()}});
  }
  return {{"model_name", m.model_name},
          {"model_version", m.model_version},
          {"total_layers", m.total_layers},
          {"transport", m.uses_vsock() ? "vsock" : "tcp"},
          {"stages", stages},
          {"result_endpoint", m.result_endpoint().to_string()},
          {"platform", m.platform ? std::string(pipeline::platform_name(*m.platform)) : "unset"},
          {"require_weight_hashes", m.require_weight_hashes},
          {"session_limit", m.session_limit}};
}

int run_check(const CheckOptions& o) {
  pipeline::ValidateOptions options;
  if (!o.model_dir.empty()) {
    auto config = model::load_gpt2_config(o.model_dir + "/config.json");
    if (!config.ok()) return report_error(config.status(), o.json);
    options.model = pipeline::ModelShape{config->n_layer, config->n_embd, config->n_positions};
  }
  auto text = read_file(o.file);
  if (!text.ok()) return report_error(text.status(), o.json);
  pipeline::ManifestError error;
  auto manifest = pipeline::load_manifest(*text, options, &error);
  if (!manifest.ok()) return report_manifest_error(error, o.file, o.json);

  nlohmann::ordered_json warnings = nlohmann::ordered_json::array();
  for (const auto& w : manifest->warnings)
    warnings.push_back({{"json_path", w.json_path}, {"message", w.message}});
  if (o.json) {
    nlohmann::ordered_json j = {{"ok", true},
                                {"file", o.file},
                                {"model_checked", options.model.has_value()},
                                {"manifest", summary_json(*manifest)},
                                {"warnings", warnings}};
    std::cout << j.dump(2) << std::endl;
    return kExitOk;
  }
  const pipeline::Manifest& m = *manifest;
  std::cout << "ok: " << o.file << ": " << m.model_name << " " << m.model_version << ", "
            << m.total_layers << " layers in " << m.stages.size() << " stages over "
            << (m.uses_vsock() ? "vsock" : "tcp")
            << (options.model ? " (matches the model)" : "") << "\n";
  for (const pipeline::StageSpec& s : m.stages) {
    std::cout << "  stage " << s.stage_idx << ": layers [" << s.layer_start << ", " << s.layer_end
              << ")  control " << s.endpoint.control.to_string() << "  data_in "
              << s.endpoint.data_in.to_string() << "  data_out " << s.endpoint.data_out.to_string()
              << "\n";
  }
  std::cout << "  results to " << m.result_endpoint().to_string() << "\n";
  for (const auto& w : m.warnings)
    std::cout << "warning: " << w.message << " at " << w.json_path << "\n";
  return kExitOk;
}

CommandRegistrar registrar([](CLI::App& root) {
  CLI::App* manifest = group(root, "manifest", "Pipeline manifests (docs/manifest.md)");
  auto opt = std::make_shared<CheckOptions>();
  CLI::App* check = manifest->add_subcommand("check", "Validate a pipeline manifest");
  check->add_option("FILE", opt->file, "Manifest JSON file")->required();
  check->add_option("--model", opt->model_dir,
                    "Model directory: check against its config.json "
                    "(n_layer, n_embd, n_positions)");
  check->add_flag("--json", opt->json, "Machine-readable output");
  check->callback([opt] { set_exit_code(run_check(*opt)); });
});

}  // namespace
}  // namespace cpipe::cli

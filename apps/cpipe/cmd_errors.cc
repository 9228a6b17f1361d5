// `cpipe errors`: lists every stable error code with its number and meaning.
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/cpipe/command_registry.h"

namespace cpipe::cli {
namespace {

struct ErrorsOptions {
  bool json = false;
};

int run_errors(const ErrorsOptions& opt) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
#define CPIPE_LIST_ENTRY(name, num, doc)                                            \
  if (opt.json) {                                                                   \
    list.push_back({{"code", #name}, {"number", num}, {"meaning", doc}});            \
  } else {                                                                          \
    std::cout << num << "\t" << #name << "\t" << doc << "\n";                        \
  }
  CPIPE_ERROR_CODES(CPIPE_LIST_ENTRY)
#undef CPIPE_LIST_ENTRY
  if (opt.json) std::cout << list.dump(2) << std::endl;
  return kExitOk;
}

CommandRegistrar registrar([](CLI::App& root) {
  auto opt = std::make_shared<ErrorsOptions>();
  CLI::App* cmd = root.add_subcommand("errors", "List the stable error codes (see docs/errors.md)");
  cmd->add_flag("--json", opt->json, "Machine-readable output");
  cmd->callback([opt] { set_exit_code(run_errors(*opt)); });
});

}  // namespace
}  // namespace cpipe::cli

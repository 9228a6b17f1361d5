// The registry behind CommandRegistrar, and shared error reporting.
#include "apps/cpipe/command_registry.h"

#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

namespace cpipe::cli {
namespace {
int g_exit_code = 0;
std::vector<RegisterFn>& registry() {
  static std::vector<RegisterFn> fns;
  return fns;
}
}  // namespace

CommandRegistrar::CommandRegistrar(RegisterFn fn) { registry().push_back(std::move(fn)); }

void set_exit_code(int code) { g_exit_code = code; }
int last_exit_code() { return g_exit_code; }

void register_all(CLI::App& root) {
  for (auto& fn : registry()) fn(root);
}

CLI::App* group(CLI::App& parent, const std::string& name, const std::string& description) {
  for (CLI::App* sub : parent.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == name) return sub;
  }
  CLI::App* sub = parent.add_subcommand(name, description);
  sub->require_subcommand(1);
  return sub;
}

int report_error(const Status& status, bool json) {
  if (json) {
    nlohmann::ordered_json j;
    j["ok"] = false;
    j["error"] = {{"code", std::string(status.code_name())},
                  {"number", int(status.code())},
                  {"message", status.message()}};
    std::cout << j.dump(2) << std::endl;
  } else {
    std::cerr << "cpipe: error: " << status.to_string() << std::endl;
  }
  return kExitFailure;
}

}  // namespace cpipe::cli

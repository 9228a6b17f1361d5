// How subcommands join the `cpipe` binary: each cmd_*.cc file defines a registration function
// and a static CommandRegistrar; main() runs them all on the root CLI11 app. Adding a command is
// adding a file (CMake globs cmd_*.cc) — no central list to edit.
//
// Conventions for every subcommand:
//  - `--help` (CLI11 gives it), `--json` for machine-readable output on stdout;
//  - exit 0 on success, 1 when the operation ran and failed (the stable error code is printed:
//    as {"ok":false,"error":{"code":"...","message":"..."}} with --json), 2 on usage errors.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "core/base/status.h"

namespace cpipe::cli {

using RegisterFn = std::function<void(CLI::App& root)>;

struct CommandRegistrar {
  explicit CommandRegistrar(RegisterFn fn);
};

// Runs every registered function (called once by main).
void register_all(CLI::App& root);

// The subcommand `name` of `parent`, created with `description` if it does not exist yet:
// several files add leaves under the same group ("sim", "bench", "model").
CLI::App* group(CLI::App& parent, const std::string& name, const std::string& description);

// Prints a failed Status to stderr (text) or stdout (JSON) and returns the exit code (1).
int report_error(const Status& status, bool json);

// A leaf's callback records its exit code here; main() returns it after parsing.
void set_exit_code(int code);
int last_exit_code();

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

}  // namespace cpipe::cli

// `cpipe`: one binary, git-style subcommands. The subcommands live in cmd_*.cc files and
// register themselves (command_registry.h); this file only parses and dispatches.
#include <sodium.h>

#include <iostream>

#include "apps/cpipe/command_registry.h"

int main(int argc, char** argv) {
  // Selects libsodium's fastest implementations; the simulator later routes its randomness.
  if (sodium_init() < 0) {
    std::cerr << "cpipe: error: CRYPTO_FAILURE: libsodium failed to initialise" << std::endl;
    return cpipe::cli::kExitFailure;
  }
  CLI::App app{"cpipe: confidential ML inference over attested pipeline stages", "cpipe"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "cpipe 0.1.0");
  cpipe::cli::register_all(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? cpipe::cli::kExitOk : cpipe::cli::kExitUsage;
  }
  // Each leaf subcommand sets its result through its callback (see cmd_*.cc).
  return cpipe::cli::last_exit_code();
}

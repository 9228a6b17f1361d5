// `cpipe sim channel`: the main job — an attested secure-channel session between two simulated
// enclaves through an untrusted simulated host, with its trace hash and unseed.
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/cpipe/command_registry.h"
#include "apps/cpipe/sim_channel_session.h"

namespace cpipe::cli {
namespace {

struct Options {
  SimChannelOptions session;
  bool json = false;
  bool verbose = false;
};

int run(Options& opt) {
  opt.session.keep_events = opt.verbose;
  Result<SimChannelReport> result = run_sim_channel(opt.session);
  if (!result.ok()) return report_error(result.status(), opt.json);
  const SimChannelReport& r = *result;
  if (opt.json) {
    nlohmann::ordered_json j;
    j["ok"] = true;
    j["seed"] = opt.session.seed;
    j["attestation"] = r.attestation;
    j["development_only"] = r.development_only;
    j["a_verified_b"] = r.a_sees_b;
    j["b_verified_a"] = r.b_sees_a;
    j["handshake_virtual_ms"] = r.handshake_ms;
    j["round_trips"] = r.round_trips;
    j["tensor_bytes"] = r.tensor_bytes;
    j["tensor_intact"] = r.tensor_intact;
    j["app_bytes"] = r.app_bytes;
    j["relayed_bytes"] = r.relayed_bytes;
    j["host_saw_plaintext"] = r.host_saw_plaintext;
    j["rekeys"] = r.rekeys;
    j["close"] = r.close_status;
    j["virtual_ms"] = r.virtual_ms;
    j["events"] = r.events;
    j["trace_hash"] = r.trace_hash;
    j["unseed"] = r.unseed;
    std::cout << j.dump(2) << std::endl;
    return kExitOk;
  }
  std::cout << "cpipe sim channel: seed " << opt.session.seed << ", attestation " << r.attestation
            << (r.development_only ? " (DEVELOPMENT ONLY: mock evidence proves nothing)" : "")
            << "\n  enclave-a (vsock cid 16) -> host (cid 3, untrusted relay) -> enclave-b (cid 17)\n";
  for (const std::string& line : opt.verbose ? r.event_lines : r.timeline) std::cout << "  " << line << "\n";
  std::cout << "  handshake: " << r.handshake_ms << " ms virtual (mutual attestation, key confirmation both ways)\n"
            << "  exchanged: " << r.round_trips << " round trips + a " << r.tensor_bytes
            << "-byte tensor, " << r.app_bytes << " plaintext bytes; " << r.rekeys << " key updates\n"
            << "  host relayed " << r.relayed_bytes << " bytes, plaintext seen by host: "
            << (r.host_saw_plaintext ? "YES" : "none") << "\n"
            << "  enclave-b saw the end as " << r.close_status << "\n"
            << "  virtual time " << r.virtual_ms << " ms, " << r.events << " events\n"
            << "trace_hash " << r.trace_hash << "\n"
            << "unseed " << r.unseed << std::endl;
  return kExitOk;
}

CommandRegistrar registrar([](CLI::App& root) {
  auto opt = std::make_shared<Options>();
  CLI::App* sim = group(root, "sim", "Run deterministic simulations");
  CLI::App* cmd = sim->add_subcommand(
      "channel", "Attested secure channel between two simulated enclaves via an untrusted host");
  cmd->add_option("--seed", opt->session.seed, "Simulation seed (same seed, same trace hash)");
  cmd->add_option("--messages", opt->session.messages, "Request/response round trips")
      ->check(CLI::Range(0, 10000));
  cmd->add_option("--tensor-bytes", opt->session.tensor_bytes, "Size of the activation tensor")
      ->check(CLI::Range(uint64_t(4 * 768), uint64_t(32) << 20));
  cmd->add_option("--attestation", opt->session.attestation,
                  "sim-nitro (simulated NSM, real Nitro verifier) or mock-dev (development only)")
      ->check(CLI::IsMember({"sim-nitro", "mock-dev"}));
  cmd->add_option("--rekey-after", opt->session.rekey_after_records, "Records per key before a key update")
      ->check(CLI::Range(uint64_t(1), uint64_t(1) << 40));
  cmd->add_option("--b-image", opt->session.b_image,
                  "Image enclave-b really runs (enclave-a pins the genuine one: try 'rogue')");
  cmd->add_flag("--b-debug", opt->session.b_debug, "Run enclave-b as a debug-mode enclave (must be refused)");
  cmd->add_flag("--verbose", opt->verbose, "Print every structured event with its virtual time");
  cmd->add_flag("--json", opt->json, "Machine-readable output");
  cmd->callback([opt] { set_exit_code(run(*opt)); });
});

}  // namespace
}  // namespace cpipe::cli

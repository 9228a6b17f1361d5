// The main job of issue 2: two simulated enclaves open the attested secure channel through an
// untrusted simulated host that relays (and records) every byte, exchange messages and a large
// tensor both ways, rekey, close, and the run reports what happened with its trace hash and
// unseed. `cpipe sim channel` prints it; tests run it twice to check determinism.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace cpipe::cli {

struct SimChannelOptions {
  uint64_t seed = 1;
  int messages = 8;                        // request/response round trips before the tensor
  uint64_t tensor_bytes = 4 * 1024 * 1024;  // F32 activations sent A -> B
  std::string attestation = "sim-nitro";   // or "mock-dev" (development only)
  uint64_t rekey_after_records = 6;        // small, so the run shows key updates
  bool keep_events = false;                // collect every structured event (for --verbose)
  // What enclave-b really runs. enclave-a always pins the measurements of the genuine
  // "enclave-b" image, so another image, or a debug-mode enclave, must fail the handshake.
  std::string b_image = "enclave-b";
  bool b_debug = false;
};

struct SimChannelReport {
  std::string attestation;          // platform of the evidence both sides verified
  bool development_only = false;    // true for mock-dev
  std::string a_sees_b;             // what A verified about B: measurements, platform
  std::string b_sees_a;
  double handshake_ms = 0;          // virtual time from connect to both sides ready
  int round_trips = 0;
  uint64_t app_bytes = 0;           // plaintext bytes the two enclaves exchanged
  uint64_t relayed_bytes = 0;       // ciphertext bytes the host forwarded
  uint64_t tensor_bytes = 0;
  bool tensor_intact = false;
  bool host_saw_plaintext = true;   // result of probing everything the host relayed
  uint64_t rekeys = 0;              // key updates sent by either side
  std::string close_status;         // how B saw the end: CHANNEL_PEER_CLOSED
  double virtual_ms = 0;            // virtual duration of the whole run
  uint64_t events = 0;              // simulator events run
  std::vector<std::string> timeline;  // "t=12.345ms enclave-a: ..." lines
  std::vector<std::string> event_lines;  // every structured event, when keep_events
  std::string trace_hash;
  uint64_t unseed = 0;
};

// Runs the session; an error when any step fails (handshake, integrity, plaintext on the host).
Result<SimChannelReport> run_sim_channel(const SimChannelOptions& options);

}  // namespace cpipe::cli

// Simulated Nitro attestation for the simulator's sessions (`sim channel`, `sim pipeline`): the
// enclave image a simulated process runs, its SimNsm, and a real Nitro verifier pinned to the
// simulated AWS root (and, optionally, to a peer's PCRs). One PKI seed per world, so every
// enclave's documents chain to the same root.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "backends/simulated/nsm/sim_nsm.h"
#include "core/base/status.h"
#include "core/runtime/attestation.h"
#include "core/runtime/clock.h"

namespace cpipe::cli {

struct SimAttestation {
  std::unique_ptr<runtime::AttestationProvider> provider;
  std::unique_ptr<runtime::AttestationVerifier> verifier;
};

// The measured parts of a simulated enclave image called `name`.
sim::SimEnclaveImage sim_image(const std::string& name, bool debug = false);

// PCR0..2 of `image` as the manifest pins them ("PCR0" -> lowercase hex).
std::map<std::string, std::string> sim_image_measurements(const sim::SimEnclaveImage& image);

struct SimNitroOptions {
  std::string pki_seed = "cpipe simulated Nitro PKI";
  std::string image = "cpipe-enclave";
  bool debug = false;
  // Peer PCRs the verifier itself pins (empty: none; the caller checks measurements itself).
  std::map<uint32_t, Bytes> peer_pcrs;
  runtime::Duration latency = std::chrono::milliseconds(60);  // NSM: about 45-90 ms
};

// A SimNsm for the enclave and the Nitro verifier its peers' evidence goes through.
Result<SimAttestation> make_sim_nitro(runtime::Clock& clock, const SimNitroOptions& options);

}  // namespace cpipe::cli

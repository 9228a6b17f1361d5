// Simulated attestation for the simulator's sessions (`sim channel`, `sim pipeline`), per platform:
// - nitro: the enclave image a simulated process runs, its SimNsm, and a real Nitro verifier
//   pinned to the simulated AWS root (and, optionally, to a peer's PCRs);
// - sev-snp: the guest image, its SimSnpFirmware, and the real SnpAttestationVerifier pinned to
//   the simulated AMD ARK and to the measurements of the images it admits (it fails closed);
// - local: the DEVELOPMENT-ONLY mock-dev provider and verifier (core/attest/mock_attestation.h).
// One PKI seed per world, so every enclave's evidence chains to the same root.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/simulated/nsm/sim_nsm.h"
#include "backends/simulated/snp/sim_snp_firmware.h"
#include "core/base/status.h"
#include "core/runtime/attestation.h"
#include "core/runtime/clock.h"
#include "core/runtime/env.h"

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

// The measured parts (OVMF, kernel, initrd, command line) of a simulated SEV-SNP guest `name`.
sim::SimGuestImage sim_guest_image(const std::string& name);
// What a manifest pins for a sev-snp (or local) stage: {"measurement": 96 lowercase hex digits},
// the name SnpAttestationVerifier reports the 48-byte MEASUREMENT under.
std::map<std::string, std::string> sim_guest_measurements(const sim::SimGuestImage& image);

struct SimSnpOptions {
  std::string pki_seed = "cpipe simulated AMD SEV-SNP PKI";
  std::string image = "cpipe-guest";
  bool debug = false;  // guest policy bit 19: the verifier refuses it
  // Images whose measurements the verifier admits (at least one: the SNP verifier fails closed).
  std::vector<std::string> peer_images;
  runtime::Duration latency = std::chrono::milliseconds(3);  // SNP_GET_EXT_REPORT: a few ms
};

// A SimSnpFirmware for the guest and the real SEV-SNP verifier (simulated ARK pinned as
// root_pem_override; product Milan, VCEK, VMPL 0, the peer images' measurements).
Result<SimAttestation> make_sim_snp(runtime::Clock& clock, const SimSnpOptions& options);
// The simulated ARK (PEM): what `cpipe attest verify --root` takes for simulated SNP evidence.
Result<std::string> sim_snp_root_pem(const SimSnpOptions& options);

// DEVELOPMENT-ONLY: mock-dev attestation of a process running image `image` (its "measurement"
// is sim_guest_measurements(sim_guest_image(image))). The verifier checks the mock platform key,
// freshness and bindings but pins no measurement (the pipeline's manifest pins do); every
// verification is development_only and logged as such on `env`'s events.
Result<SimAttestation> make_sim_mock_dev(runtime::Env& env, const std::string& image,
                                         runtime::Duration latency = std::chrono::milliseconds(1));

}  // namespace cpipe::cli

// Simulated Nitro attestation set-up shared by the simulator's sessions (sim_attestation.h).
#include "apps/cpipe/sim_attestation.h"

#include "core/attest/nitro/nitro_verifier.h"

namespace cpipe::cli {

sim::SimEnclaveImage sim_image(const std::string& name, bool debug) {
  sim::SimEnclaveImage image;
  image.debug = debug;
  image.name = name;
  image.eif = to_bytes("cpipe enclave image file: " + name);
  image.kernel = to_bytes("cpipe enclave kernel 6.1");
  image.application = to_bytes("cpipe stage application: " + name);
  return image;
}

std::map<std::string, std::string> sim_image_measurements(const sim::SimEnclaveImage& image) {
  std::map<uint32_t, Bytes> pcrs = sim::sim_enclave_pcrs(image);
  std::map<std::string, std::string> out;
  for (uint32_t i : {0u, 1u, 2u}) out["PCR" + std::to_string(i)] = hex_encode(pcrs[i]);
  return out;
}

Result<SimAttestation> make_sim_nitro(runtime::Clock& clock, const SimNitroOptions& options) {
  sim::SimNsmConfig nc;
  nc.seed = to_bytes(options.pki_seed);
  nc.image = sim_image(options.image, options.debug);
  nc.module_id = "i-0sim0000000000000-enc-" + options.image;
  nc.latency = options.latency;
  CPIPE_ASSIGN_OR_RETURN(std::unique_ptr<sim::SimNsm> nsm, sim::SimNsm::create(clock, nc));
  attest::nitro::NitroPolicy policy;
  policy.root_der = nsm->root_der();
  policy.platform = sim::SimNsm::kPlatform;
  for (const auto& [index, value] : options.peer_pcrs) policy.expected_pcrs[index] = value;
  // Every simulated verifier of this thread shares one chain memo: the simulated PKI's chains
  // repeat across handshakes and across the runs of a seed sweep (nitro_chain_cache.h).
  thread_local auto chain_cache = std::make_shared<attest::nitro::NitroChainCache>();
  policy.chain_cache = chain_cache;
  CPIPE_ASSIGN_OR_RETURN(attest::nitro::NitroVerifier verifier,
                         attest::nitro::NitroVerifier::create(std::move(policy)));
  SimAttestation a;
  a.provider = std::move(nsm);
  a.verifier = std::make_unique<attest::nitro::NitroVerifier>(std::move(verifier));
  return a;
}

}  // namespace cpipe::cli

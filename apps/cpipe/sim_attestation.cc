// Simulated attestation set-up (Nitro, SEV-SNP, mock-dev) shared by the simulator's sessions
// (sim_attestation.h).
#include "apps/cpipe/sim_attestation.h"

#include "core/attest/mock_attestation.h"
#include "core/attest/nitro/nitro_verifier.h"
#include "core/attest/snp/snp_attestation_verifier.h"

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

sim::SimGuestImage sim_guest_image(const std::string& name) {
  sim::SimGuestImage image;
  image.name = name;
  image.firmware = to_bytes("cpipe guest firmware: OVMF-AMDSEV 2024.02");
  image.kernel = to_bytes("cpipe guest kernel 6.8");
  image.initrd = to_bytes("cpipe guest initrd: " + name);
  image.cmdline = to_bytes("console=ttyS0 cpipe.image=" + name);
  return image;
}

std::map<std::string, std::string> sim_guest_measurements(const sim::SimGuestImage& image) {
  return {{"measurement", hex_encode(sim::sim_guest_measurement(image))}};
}

namespace {
sim::SimSnpConfig snp_config(const SimSnpOptions& options) {
  sim::SimSnpConfig c;
  c.seed = to_bytes(options.pki_seed);
  c.image = sim_guest_image(options.image);
  if (options.debug) c.policy |= uint64_t(1) << 19;
  c.latency = options.latency;
  return c;
}
}  // namespace

Result<SimAttestation> make_sim_snp(runtime::Clock& clock, const SimSnpOptions& options) {
  if (options.peer_images.empty())
    return make_error(ErrorCode::INVALID_ARGUMENT, "a simulated SEV-SNP verifier needs the images it admits");
  CPIPE_ASSIGN_OR_RETURN(std::unique_ptr<sim::SimSnpFirmware> fw,
                         sim::SimSnpFirmware::create(clock, snp_config(options)));
  attest::snp::SnpVerifierConfig vc;
  vc.platform = sim::SimSnpFirmware::kPlatform;
  CPIPE_ASSIGN_OR_RETURN(vc.certs.root_pem_override, sim::certificate_der_to_pem(fw->ark_der()));
  vc.policy.expected_product = attest::snp::Product::kMilan;
  vc.policy.required_signing_key = attest::snp::SigningKey::kVcek;
  vc.policy.max_vmpl = 0;
  // Every simulated SNP verifier of this thread shares one memo of VCEK parsing and chain checks:
  // the simulated AMD PKI's chains repeat across handshakes and across the runs of a seed sweep
  // (amd_chain_cache.h; the answers are those of the uncached checks, so traces do not change).
  thread_local auto chain_cache = std::make_shared<attest::snp::AmdChainCache>();
  vc.chain_cache = chain_cache;
  for (const std::string& peer : options.peer_images)
    vc.policy.allowed_measurements.push_back(sim::sim_guest_measurement(sim_guest_image(peer)));
  SimAttestation a;
  a.provider = std::move(fw);
  a.verifier = std::make_unique<attest::snp::SnpAttestationVerifier>(std::move(vc));
  return a;
}

Result<std::string> sim_snp_root_pem(const SimSnpOptions& options) {
  sim::SimSnpConfig c = snp_config(options);
  CPIPE_ASSIGN_OR_RETURN(sim::SimAmdPki pki, sim::make_sim_amd_pki(c.seed, c.ca_not_before_ms, c.ca_not_after_ms));
  return sim::certificate_der_to_pem(pki.ark_der);
}

Result<SimAttestation> make_sim_mock_dev(runtime::Env& env, const std::string& image, runtime::Duration latency) {
  CPIPE_ASSIGN_OR_RETURN(attest::MockDevAttestation mock,
                         attest::make_mock_dev_attestation(
                             env, {{"measurement", sim::sim_guest_measurement(sim_guest_image(image))}}, latency));
  SimAttestation a;
  a.provider = std::move(mock.provider);
  a.verifier = std::move(mock.verifier);
  return a;
}

}  // namespace cpipe::cli

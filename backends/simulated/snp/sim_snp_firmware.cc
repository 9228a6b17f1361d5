// SimSnpFirmware: extended reports in the real SNP_GET_EXT_REPORT layout, signed deterministically.
#include "backends/simulated/snp/sim_snp_firmware.h"

#include "core/attest/snp/snp_attestation_verifier.h"
#include "core/crypto/hash.h"

namespace cpipe::sim {

Bytes sim_guest_measurement(const SimGuestImage& image) {
  Bytes ld(48, 0);
  for (const Bytes* component : {&image.firmware, &image.kernel, &image.initrd, &image.cmdline}) {
    Bytes h = crypto::sha384(*component);
    ld.insert(ld.end(), h.begin(), h.end());
    ld = crypto::sha384(ld);
  }
  return ld;
}

Result<std::unique_ptr<SimSnpFirmware>> SimSnpFirmware::create(runtime::Clock& clock, SimSnpConfig config) {
  if (config.seed.empty()) return make_error(ErrorCode::INVALID_ARGUMENT, "SimSnpFirmware needs a seed");
  if (config.host_data.size() > 32 || config.vmpl > 3)
    return make_error(ErrorCode::INVALID_ARGUMENT, "SimSnpFirmware: host_data > 32 bytes or vmpl > 3");
  CPIPE_ASSIGN_OR_RETURN(SimAmdPki pki,
                         make_sim_amd_pki(config.seed, config.ca_not_before_ms, config.ca_not_after_ms));
  return std::unique_ptr<SimSnpFirmware>(new SimSnpFirmware(clock, std::move(config), std::move(pki)));
}

SimSnpFirmware::SimSnpFirmware(runtime::Clock& clock, SimSnpConfig config, SimAmdPki pki)
    : clock_(clock), config_(std::move(config)), pki_(std::move(pki)),
      measurement_(sim_guest_measurement(config_.image)) {}

Result<Bytes> SimSnpFirmware::make_document(const runtime::AttestationRequest& request) const {
  SnpReportSpec spec;
  spec.version = 3;
  spec.policy = config_.policy;
  spec.vmpl = config_.vmpl;
  spec.tcb_raw = amd_tcb_raw(pki_.tcb);
  spec.report_data = attest::snp::snp_report_data(request.public_key, request.user_data, request.nonce);
  spec.measurement = measurement_;
  spec.host_data = config_.host_data;
  // REPORT_ID identifies the guest across migrations: derived from the chip and the image.
  Bytes id_in = pki_.chip_id;
  id_in.insert(id_in.end(), measurement_.begin(), measurement_.end());
  spec.report_id = crypto::sha256(id_in);
  spec.chip_id = pki_.chip_id;
  spec.cpuid_family = 0x19;  // Milan: family 19h, model 01h, stepping 1
  spec.cpuid_model = 0x01;
  spec.cpuid_stepping = 0x01;
  spec.fw_major = 1;
  spec.fw_minor = 55;
  spec.fw_build = 21;
  CPIPE_ASSIGN_OR_RETURN(Bytes report, make_signed_snp_report(spec, pki_.vcek_key));
  attest::snp::ExtendedReport ext;
  ext.report = report;
  ext.vcek = pki_.vcek_der;
  ext.ask = pki_.ask_der;
  ext.ark = pki_.ark_der;
  return attest::snp::encode_extended_report(ext);
}

runtime::Task<Result<runtime::Evidence>> SimSnpFirmware::attest(runtime::AttestationRequest request) {
  co_await runtime::sleep_for(clock_, config_.latency);
  auto doc = make_document(request);
  if (!doc.ok()) co_return doc.status();
  co_return runtime::Evidence{kPlatform, std::move(*doc)};
}

}  // namespace cpipe::sim

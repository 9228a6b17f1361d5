// SimSnpFirmware: the simulated AMD SEV-SNP guest firmware (the PSP as an SEV-SNP guest sees it
// through SNP_GET_EXT_REPORT). It answers attestation requests with "sim-sev-snp" evidence in the
// real "sev-snp" document layout: a version-3 ATTESTATION_REPORT whose MEASUREMENT is the launch
// digest of the simulated guest image, REPORT_DATA = snp_report_data(public_key, user_data,
// nonce), the configured guest policy, the VCEK's TCB and chip id, signed by the simulated VCEK,
// followed by the extended-report certificate table (VCEK, ASK, ARK) of the simulated AMD PKI
// (sim_amd_pki.h). The real SnpAttestationVerifier checks it with the simulated ARK pinned.
//
// Determinism: the VCEK derives from the seed, the ARK/ASK are fixed simulation keys, every
// signature is deterministic, so the evidence is a pure function of (seed, image, request). The
// firmware's latency is a virtual sleep on the Env clock (SNP_GET_EXT_REPORT takes a few ms).
// Failures (a scenario's nsm_fail on an SNP platform) come from the simulator's provider wrapper.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backends/simulated/snp/sim_amd_pki.h"
#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/runtime/attestation.h"
#include "core/runtime/clock.h"

namespace cpipe::sim {

// What the simulated guest launch measures, in launch order (OVMF, kernel, initrd, command line).
struct SimGuestImage {
  std::string name = "cpipe-guest";
  Bytes firmware;  // OVMF
  Bytes kernel;
  Bytes initrd;
  Bytes cmdline;
};

// The launch digest: LD_0 = 48 zero bytes, LD_i = SHA-384(LD_{i-1} || SHA-384(component_i)) over
// the four components. A simplification of AMD's page-by-page PAGE_INFO chain with the same
// property that matters here: any change to any component changes the 48-byte measurement.
Bytes sim_guest_measurement(const SimGuestImage& image);

struct SimSnpConfig {
  Bytes seed;  // the VCEK and chip id derive from it
  SimGuestImage image;
  uint64_t policy = 0x30000;  // guest policy: SMT allowed, bit 17; | (1 << 19) for a debug guest
  uint32_t vmpl = 0;
  Bytes host_data;            // up to 32 bytes the host set at launch
  runtime::Duration latency = std::chrono::milliseconds(3);
  // Certificate validity (defaults: 2020-01-01 .. 2049-12-31).
  int64_t ca_not_before_ms = 1577836800000;
  int64_t ca_not_after_ms = 2524607999000;
};

class SimSnpFirmware final : public runtime::AttestationProvider {
 public:
  static constexpr const char* kPlatform = "sim-sev-snp";

  static Result<std::unique_ptr<SimSnpFirmware>> create(runtime::Clock& clock, SimSnpConfig config);

  std::string platform() const override { return kPlatform; }
  // Sleeps `latency` on the clock, then returns the extended report for the request.
  runtime::Task<Result<runtime::Evidence>> attest(runtime::AttestationRequest request) override;

  // The extended report for `request` (no sleep): what attest() returns.
  Result<Bytes> make_document(const runtime::AttestationRequest& request) const;

  const Bytes& measurement() const { return measurement_; }
  const Bytes& ark_der() const { return pki_.ark_der; }

 private:
  SimSnpFirmware(runtime::Clock& clock, SimSnpConfig config, SimAmdPki pki);

  runtime::Clock& clock_;
  SimSnpConfig config_;
  SimAmdPki pki_;
  Bytes measurement_;
};

}  // namespace cpipe::sim

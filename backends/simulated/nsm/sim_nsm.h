// SimNsm: the simulated Nitro Security Module. It answers attestation requests with documents
// that have the real NSM's bytes-on-the-wire shape — untagged COSE_Sign1, protected header
// {1: -35}, empty unprotected map, a 9-field definite-length payload map in NSM field order,
// 16 SHA-384 PCRs, leaf certificate and a 4-certificate cabundle — under a simulated root
// derived from a seed. The same NitroVerifier checks them with that root pinned.
//
// Determinism: keys come from the seed and every signature nonce from (key, message), so a
// document is a pure function of (seed, image, request, virtual time). Latency is a virtual
// sleep on the Env clock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "backends/simulated/nsm/sim_nsm_pki.h"
#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/runtime/attestation.h"
#include "core/runtime/clock.h"

namespace cpipe::sim {

// What the simulated enclave image measures. Each component extends its PCR once:
// PCR = SHA-384(48 zero bytes || SHA-384(component)); empty components leave the PCR zero.
struct SimEnclaveImage {
  std::string name = "cpipe-enclave";
  Bytes eif;           // PCR0: the enclave image file
  Bytes kernel;        // PCR1: kernel and boot ramfs
  Bytes application;   // PCR2: user application
  Bytes iam_role;      // PCR3: parent instance IAM role (optional)
  Bytes instance_id;   // PCR4: parent instance id (optional)
  Bytes signing_cert;  // PCR8: EIF signing certificate (optional)
  bool debug = false;  // debug-mode enclave: PCR0..2 read as zero, like real NSMs
};

// PCR0..PCR15 for an image, as the document reports them.
std::map<uint32_t, Bytes> sim_enclave_pcrs(const SimEnclaveImage& image);

struct SimNsmConfig {
  Bytes seed;                  // the simulated PKI and the enclave key derive from it
  SimEnclaveImage image;
  std::string module_id = "i-0000000000000000-enc0000000000000000";
  runtime::Duration latency = std::chrono::milliseconds(2);
  // CA certificates' validity (defaults: 2020-01-01 .. 2049-12-31).
  int64_t ca_not_before_ms = 1577836800000;
  int64_t ca_not_after_ms = 2524607999000;
  int64_t leaf_lifetime_ms = 3 * 3600 * 1000;  // like AWS: about 3 hours
};

class SimNsm final : public runtime::AttestationProvider {
 public:
  static constexpr const char* kPlatform = "sim-nitro";

  static Result<std::unique_ptr<SimNsm>> create(runtime::Clock& clock, SimNsmConfig config);

  std::string platform() const override { return kPlatform; }
  // Sleeps `latency` on the clock, then documents the request at the clock's wall time.
  runtime::Task<Result<runtime::Evidence>> attest(runtime::AttestationRequest request) override;

  // The document for `request` at `now_unix_ms` (no sleep): what attest() returns.
  Result<Bytes> make_document(const runtime::AttestationRequest& request, int64_t now_unix_ms) const;

  const Bytes& root_der() const { return pki_.cabundle.front(); }
  const std::map<uint32_t, Bytes>& pcrs() const { return pcrs_; }

 private:
  SimNsm(runtime::Clock& clock, SimNsmConfig config, SimNitroPki pki);

  runtime::Clock& clock_;
  SimNsmConfig config_;
  SimNitroPki pki_;
  std::map<uint32_t, Bytes> pcrs_;
};

}  // namespace cpipe::sim

// Attestation interfaces. A provider asks the platform (NSM, /dev/sev-guest, a simulated NSM,
// the development mock) for evidence that binds caller data; a verifier checks evidence against
// a pinned root, a policy and the bindings the caller expects, at a time the caller supplies.
// Verifiers never read a clock: no time given means ATTEST_NO_TIME (fail closed).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/runtime/task.h"

namespace cpipe::runtime {

// What the evidence must bind (the NSM request fields; on SEV-SNP they are hashed into
// report_data by the provider).
struct AttestationRequest {
  Bytes public_key;  // e.g. the ephemeral X25519 key of a handshake
  Bytes user_data;   // e.g. a receipt signing key
  Bytes nonce;       // e.g. the transcript hash of a handshake
};

struct Evidence {
  std::string platform;  // "nitro", "sev-snp", "azure-sev-snp", "sim-nitro", "mock-dev"
  Bytes document;        // the platform's own encoding (COSE_Sign1, SNP report, ...)
};

// What a verifier establishes about evidence that passed.
struct VerifiedEvidence {
  std::string platform;
  std::map<std::string, Bytes> measurements;  // "PCR0".., or "measurement" for SNP
  Bytes public_key;
  Bytes user_data;
  Bytes nonce;
  int64_t timestamp_ms = 0;  // when the evidence was produced, per the evidence
  bool debug = false;
  bool development_only = false;  // true for the mock: never acceptable in production
};

// Per-verification inputs: the time and the bindings this particular use expects.
struct VerifyContext {
  std::optional<int64_t> now_unix_ms;  // required
  std::optional<Bytes> expect_public_key;
  std::optional<Bytes> expect_user_data;
  std::optional<Bytes> expect_nonce;
};

class AttestationProvider {
 public:
  virtual ~AttestationProvider() = default;
  virtual std::string platform() const = 0;
  virtual Task<Result<Evidence>> attest(AttestationRequest request) = 0;
};

class AttestationVerifier {
 public:
  virtual ~AttestationVerifier() = default;
  // Checks signature, chain, validity at ctx.now_unix_ms, the verifier's policy (pinned
  // measurements, debug, freshness) and the bindings in ctx. Returns ATTEST_* codes.
  virtual Result<VerifiedEvidence> verify(const Evidence& evidence, const VerifyContext& ctx) const = 0;
};

}  // namespace cpipe::runtime

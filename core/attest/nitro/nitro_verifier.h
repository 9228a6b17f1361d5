// NitroVerifier: checks an AWS Nitro Enclaves attestation document (COSE_Sign1, ES384) against
// a pinned root, a policy and the caller's bindings, at a time the caller supplies. Order of
// checks (the first failure is returned; docs/attestation.md lists them with their codes):
//   time given -> COSE structure -> alg ES384 -> document fields -> chain at `now` ->
//   COSE signature by the leaf -> freshness -> debug -> pinned PCRs -> bindings.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/attest/nitro/nitro_chain.h"
#include "core/attest/nitro/nitro_chain_cache.h"
#include "core/attest/nitro/nitro_document.h"
#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/runtime/attestation.h"

namespace cpipe::attest::nitro {

struct NitroPolicy {
  // DER of the pinned root. Empty: the built-in AWS Nitro root G1.
  Bytes root_der;
  // The Evidence::platform this verifier accepts ("nitro"; SimNsm documents say "sim-nitro").
  std::string platform = "nitro";
  // PCR index -> required value. Every pinned index must be present and equal.
  std::map<uint32_t, Bytes> expected_pcrs;
  // Debug documents (PCR0..2 all zero) are rejected unless this is set.
  bool allow_debug = false;
  // Freshness: now - timestamp must be <= max_age_ms (nullopt: no age limit), and the
  // document may be at most max_future_ms ahead of now (clock skew between NSM and verifier).
  std::optional<int64_t> max_age_ms = 5 * 60 * 1000;
  int64_t max_future_ms = 60 * 1000;
  // Optional memo of chain checks (nitro_chain_cache.h), shared by the verifiers of one thread.
  std::shared_ptr<NitroChainCache> chain_cache;
  // Bound on the whole COSE message.
  size_t max_document_size = 32 * 1024;
};

// Everything established about a document that verified.
struct NitroVerification {
  NitroDocument document;
  bool tagged = false;      // the COSE_Sign1 carried tag 18
  bool debug = false;
  ChainResult chain;        // certificates root..leaf with their validity
  runtime::VerifiedEvidence evidence;
};

class NitroVerifier : public runtime::AttestationVerifier {
 public:
  // INTERNAL if the built-in root fails its fingerprint check; ATTEST_BAD_FORMAT if
  // policy.root_der is not a certificate.
  static Result<NitroVerifier> create(NitroPolicy policy);

  Result<NitroVerification> verify_document(ByteSpan cose_sign1, const runtime::VerifyContext& ctx) const;

  // AttestationVerifier: evidence.platform must equal policy.platform.
  Result<runtime::VerifiedEvidence> verify(const runtime::Evidence& evidence,
                                           const runtime::VerifyContext& ctx) const override;

  const NitroPolicy& policy() const { return policy_; }

 private:
  explicit NitroVerifier(NitroPolicy policy) : policy_(std::move(policy)) {}
  NitroPolicy policy_;
};

}  // namespace cpipe::attest::nitro

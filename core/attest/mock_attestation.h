// DEVELOPMENT-ONLY mock attestation ("mock-dev"): a provider and a verifier for running cpipe
// without a TEE. It is still a real check, so the channel's bindings are exercised exactly as
// with hardware evidence: the document carries measurements, public_key, user_data, nonce and a
// timestamp, signed with Ed25519 by a mock platform key derived from a seed; the verifier pins
// that key, the measurements and a freshness window. But anyone with the seed can forge it, so
// it proves nothing about the peer: every use logs that it is the development mock, and
// VerifiedEvidence.development_only is always true. Never acceptable in production.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>

#include "core/base/bytes.h"
#include "core/base/event.h"
#include "core/crypto/ed25519.h"
#include "core/runtime/attestation.h"
#include "core/runtime/env.h"

namespace cpipe::attest {

inline constexpr std::string_view kMockPlatform = "mock-dev";

// The mock platform ("root") signing key from a seed; the same seed gives the same key.
// Any seed is stretched with SHA-256, so "tests" and "dev" are valid seeds.
Result<crypto::Ed25519KeyPair> mock_platform_key(std::string_view seed);
// Its public key: what a MockAttestationVerifier pins.
Bytes mock_platform_public_key(std::string_view seed);

inline constexpr std::string_view kDefaultMockSeed = "cpipe mock attestation DEVELOPMENT ONLY";

struct MockProviderConfig {
  std::string platform_seed = std::string(kDefaultMockSeed);
  std::map<std::string, Bytes> measurements;  // e.g. {"PCR0", 48 bytes}
  bool debug = false;
  runtime::Duration latency{0};  // simulated time to produce a document
};

class MockAttestationProvider final : public runtime::AttestationProvider {
 public:
  // `env` must outlive the provider (clock for latency and timestamp, events for the warning).
  static Result<std::unique_ptr<MockAttestationProvider>> create(runtime::Env& env,
                                                                 MockProviderConfig config);
  std::string platform() const override { return std::string(kMockPlatform); }
  runtime::Task<Result<runtime::Evidence>> attest(runtime::AttestationRequest request) override;

 private:
  MockAttestationProvider(runtime::Env& env, MockProviderConfig config, crypto::Ed25519KeyPair key)
      : env_(&env), config_(std::move(config)), key_(std::move(key)) {}
  runtime::Env* env_;
  MockProviderConfig config_;
  crypto::Ed25519KeyPair key_;
};

struct MockVerifierPolicy {
  Bytes platform_public_key;                           // pinned mock root (32 bytes)
  std::map<std::string, Bytes> expected_measurements;  // each must be present and equal
  int64_t max_age_ms = 5 * 60 * 1000;                  // freshness window
  int64_t max_future_skew_ms = 60 * 1000;              // tolerated clock skew into the future
  bool allow_debug = false;
};

class MockAttestationVerifier final : public runtime::AttestationVerifier {
 public:
  explicit MockAttestationVerifier(MockVerifierPolicy policy, EventSink* events = nullptr);
  Result<runtime::VerifiedEvidence> verify(const runtime::Evidence& evidence,
                                           const runtime::VerifyContext& ctx) const override;

 private:
  MockVerifierPolicy policy_;
  Logger log_;
};

// The mock-dev pair a development-mode process uses (local `cpipe stage`/`run`, the simulator's
// `local` platform): a provider that measures `measurements`, and a verifier pinned to the
// default mock platform key (peers' measurements are checked by the caller).
struct MockDevAttestation {
  std::unique_ptr<MockAttestationProvider> provider;
  std::unique_ptr<MockAttestationVerifier> verifier;
};
Result<MockDevAttestation> make_mock_dev_attestation(runtime::Env& env, std::map<std::string, Bytes> measurements,
                                                     runtime::Duration latency = runtime::Duration{0});

// Fields of a mock document, for building and parsing it (tests forge documents with these).
struct MockDocument {
  int64_t timestamp_ms = 0;
  std::map<std::string, Bytes> measurements;
  Bytes public_key;
  Bytes user_data;
  Bytes nonce;
  bool debug = false;
};
// The signed document (layout in docs/protocol.md, "Mock attestation document").
Bytes encode_mock_document(const MockDocument& doc, const crypto::Ed25519KeyPair& key);
// Parses without checking the signature; ATTEST_BAD_FORMAT when malformed. `signed_part` and
// `signature` point into `document`.
struct ParsedMockDocument {
  MockDocument doc;
  ByteSpan signed_part;
  ByteSpan signature;
};
Result<ParsedMockDocument> parse_mock_document(ByteSpan document);

}  // namespace cpipe::attest

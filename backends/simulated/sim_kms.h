// SimKms: the simulated AWS KMS. An actor on a SimNode that serves the KMS JSON API (AWS JSON
// 1.1: POST /, X-Amz-Target: TrentService.<Op>) over plain HTTP/1.1 on a simulated TCP listener.
// TLS is left out in the simulator (the bytes would be opaque to the simulated host either way);
// on hardware the same HttpKmsClient runs over TLS (docs/kms.md).
//
// Faithful where the enclave's code depends on it:
//   - SigV4: the Authorization header is recomputed with the principal's secret
//     (InvalidSignatureException on mismatch, a 5-minute clock-skew window on X-Amz-Date,
//     UnrecognizedClientException for an unknown access key, IncompleteSignatureException for a
//     malformed header).
//   - GenerateDataKey and Decrypt, with and without Recipient. A Recipient's attestation document
//     is checked by the real NitroVerifier pinned to SimNsm's root at this node's wall clock; the
//     key policy (sim_kms_policy.h) is evaluated with kms:RecipientAttestation:ImageSha384 /
//     PCR<n>; the answer is CiphertextForRecipient = CMS EnvelopedData of the data key to the
//     document's RSA public key (encode_cms_enveloped_data), never Plaintext.
//   - Errors as KMS sends them ({"__type": ..., "message": ...}, HTTP 400 or 500):
//     AccessDeniedException, ValidationException, InvalidCiphertextException,
//     IncorrectKeyException, NotFoundException, ThrottlingException (token bucket, or injected),
//     KMSInternalException (injected), UnknownOperationException.
//   - Latency: each answer waits a draw from a log-normal-shaped distribution through the
//     configured p50/p99 (integer interpolation between precomputed quantiles).
// Ciphertext blobs are SimKms's own format (docs/kms.md "SimKms ciphertext blob"):
//   0x01 | u8 len | key ARN | 12-byte nonce | ChaCha20-Poly1305(data key) with AAD
//   "cpipe.simkms.blob.v1" || u16 len || ARN || canonical EncryptionContext.
// Everything (key material, data keys, nonces, CMS randomness, latency) derives from the config
// seed and the node's random stream: deterministic per world seed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/simulated/sim_kms_policy.h"
#include "backends/simulated/sim_node.h"
#include "backends/simulated/sim_service_filter.h"
#include "core/attest/nitro/nitro_verifier.h"
#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/keys/http_message.h"
#include "core/keys/kms_request.h"
#include "core/runtime/transport.h"

namespace cpipe::sim {

struct SimKmsPrincipal {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // when set, requests must carry it (X-Amz-Security-Token)
  std::string arn;            // "arn:aws:iam::111122223333:role/enclave-role"
};

struct SimKmsKeySpec {
  std::string key_id;               // UUID-like id; ARN = arn:aws:kms:REGION:ACCOUNT:key/ID
  std::vector<std::string> aliases; // "alias/cpipe-models"
  std::string policy_json;          // the key policy (sim_kms_policy.h)
};

struct SimKmsConfig {
  std::string region = "eu-west-1";
  std::string account = "111122223333";
  uint16_t port = 443;  // plain HTTP on the KMS port (see above)
  Bytes seed = to_bytes("cpipe simulated KMS");
  std::vector<SimKmsPrincipal> principals;
  std::vector<SimKmsKeySpec> keys;
  // Recipient attestation: the pinned root (SimNsm::root_der()) and document age window.
  Bytes attestation_root_der;
  int64_t attestation_max_age_ms = 5 * 60 * 1000;
  int64_t max_request_skew_s = 300;
  // Latency of an answer (p0 about p50/6, tail capped near 2*p99).
  runtime::Duration latency_p50 = std::chrono::milliseconds(120);
  runtime::Duration latency_p99 = std::chrono::milliseconds(500);
  // Token bucket over all requests: `rate_per_s` tokens a second, at most `burst`; 0 = unlimited.
  uint32_t rate_per_s = 0;
  uint32_t burst = 0;
  keys::HttpReadLimits limits{.max_header_bytes = 16 * 1024, .max_body_bytes = 128 * 1024,
                              .read_timeout = std::chrono::seconds(30)};
};

struct SimKmsStats {
  uint64_t requests = 0;
  std::map<std::string, uint64_t> by_operation;  // "Decrypt", "GenerateDataKey", ...
  std::map<std::string, uint64_t> errors;        // __type -> count
  std::vector<runtime::MonoTime> arrivals;       // when each request finished arriving
};

// A data key made by SimKms (GenerateDataKey).
struct SimDataKey {
  Bytes plaintext;
  Bytes ciphertext_blob;
  std::string key_arn;
};

class SimKms {
 public:
  // INVALID_ARGUMENT for a bad key policy, duplicate key id or missing region.
  static Result<std::unique_ptr<SimKms>> create(SimNode& node, SimKmsConfig config);
  ~SimKms();
  SimKms(const SimKms&) = delete;
  SimKms& operator=(const SimKms&) = delete;

  // Listens on tcp:<node host>:<port> and serves until stop() (or destruction).
  Status start();
  void stop();
  runtime::Endpoint endpoint() const;

  // Fault injection: the next `n` requests (after authentication) are answered with
  // ThrottlingException / KMSInternalException.
  void throttle_next(int n) { throttle_next_ += n; }
  void fail_internal_next(int n) { internal_next_ += n; }
  // Fault injection at the request boundary (sim_service_filter.h): every request is shown to
  // `filter` on arrival, which may have it answered with an error instead; null: none. The
  // filter must outlive the service's tasks or be cleared first.
  void set_filter(SimServiceFilter* filter) { filter_ = filter; }
  // Replace a key's policy at run time (AccessDenied scenarios).
  Status set_key_policy(const std::string& key_ref, const std::string& policy_json);

  // GenerateDataKey without the network (for setting up a scenario: sealing a model).
  Result<SimDataKey> generate_data_key(const std::string& key_ref, const keys::EncryptionContext& context);
  std::string key_arn(const std::string& key_id) const;

  const SimKmsStats& stats() const { return stats_; }

  // The whole request -> response function (after the HTTP layer), exposed for unit tests.
  keys::HttpResponse handle(const keys::HttpRequest& request);

 private:
  struct Key {
    std::string id, arn;
    std::vector<std::string> aliases;
    Bytes material;
    KmsKeyPolicy policy;
  };
  struct Caller {
    const SimKmsPrincipal* principal = nullptr;
  };
  SimKms(SimNode& node, SimKmsConfig config);
  // Coroutines take the SimKms by pointer (never a capturing lambda): it outlives its listener.
  static runtime::Task<void> accept_loop(SimKms* kms, runtime::Listener* listener);
  static runtime::Task<void> serve(SimKms* kms, std::shared_ptr<runtime::Stream> stream);

  const Key* find_key(const std::string& ref) const;
  runtime::Duration sample_latency();
  bool take_token();
  keys::HttpResponse error(int http_status, const std::string& type, const std::string& message);
  Result<const SimKmsPrincipal*> authenticate(const keys::HttpRequest& request, keys::HttpResponse* err);
  keys::HttpResponse op_generate_data_key(const std::string& body, const SimKmsPrincipal& caller);
  keys::HttpResponse op_decrypt(const std::string& body, const SimKmsPrincipal& caller);
  Result<Bytes> seal_blob(const Key& key, ByteSpan plaintext, const keys::EncryptionContext& ctx);

  SimNode& node_;
  SimKmsConfig config_;
  std::vector<Key> keys_;
  std::optional<attest::nitro::NitroVerifier> verifier_;
  std::vector<int64_t> latency_knots_;  // ns at the quantiles of kLatencyKnotPpm
  std::unique_ptr<runtime::Listener> listener_;
  SimServiceFilter* filter_ = nullptr;
  uint64_t calls_ = 0;
  int throttle_next_ = 0;
  int internal_next_ = 0;
  int64_t bucket_scaled_ = 0;  // tokens * 1e9
  runtime::MonoTime bucket_at_;
  uint64_t request_counter_ = 0;
  SimKmsStats stats_;
};

}  // namespace cpipe::sim

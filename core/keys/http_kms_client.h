// HttpKmsClient: the AWS KMS JSON API over HTTP/1.1 on whatever stream a StreamConnector gives
// (TLS through the host's vsock proxy on hardware, plain simulated TCP to SimKms in the
// simulator). Each call: SigV4-sign at the Env's wall time with the credentials the host handed
// in, connect, send, read one bounded response (Boost.Beast parser), close. One request per
// connection: key release happens once per cold start, so connection reuse buys nothing.
//
// Deadline: `request_timeout` bounds the whole exchange (connect to last byte); when it runs out
// the stream is closed and the call returns DEADLINE_EXCEEDED. Retries belong to the caller
// (RetryingKmsClient, kms_retry.h).
#pragma once

#include <memory>
#include <string>

#include "core/keys/http_message.h"
#include "core/keys/kms_client.h"
#include "core/keys/kms_request.h"
#include "core/keys/sigv4.h"
#include "core/runtime/connector.h"
#include "core/runtime/env.h"

namespace cpipe::keys {

struct HttpKmsClientOptions {
  KmsEndpoint endpoint;  // region (signing scope) and Host header
  AwsCredentials credentials;
  runtime::Duration request_timeout = std::chrono::seconds(10);
  // KMS answers are small (a Decrypt-with-Recipient answer is about 1.5 KiB of JSON).
  HttpReadLimits limits{.max_header_bytes = 16 * 1024, .max_body_bytes = 64 * 1024,
                        .read_timeout = runtime::kNoTimeout};
  std::string user_agent = "cpipe-kms/1";
};

// What GenerateDataKey returns (used to seal models under a KMS key; see docs/kms.md).
struct KmsDataKey {
  Bytes plaintext;        // 32 bytes; zero it when done
  Bytes ciphertext_blob;  // what Decrypt takes back
  std::string key_id;     // the key's ARN
};

class HttpKmsClient final : public KmsClient {
 public:
  // `connector` must outlive the client; env.clock is used for signing time and the deadline.
  HttpKmsClient(runtime::Env env, runtime::StreamConnector* connector, HttpKmsClientOptions options);

  // The host hands in (and rotates) credentials; the next request uses them.
  void set_credentials(AwsCredentials credentials) { options_.credentials = std::move(credentials); }
  const HttpKmsClientOptions& options() const { return options_; }

  runtime::Task<Result<KmsDecryptResponse>> decrypt(KmsDecryptRequest request) override;

  // GenerateDataKey (KeySpec AES_256) without a Recipient: the plaintext key comes back in the
  // answer, so only a trusted sealing tool (or the simulator) may call it.
  runtime::Task<Result<KmsDataKey>> generate_data_key(std::string key_id, EncryptionContext context);

  // Sends a signed request and reads the answer: shared by the calls above. Errors: transport,
  // DEADLINE_EXCEEDED, KEYS_KMS_BAD_RESPONSE for a malformed/truncated/oversized answer.
  runtime::Task<Result<HttpResponse>> exchange(HttpRequest request);

 private:
  runtime::Env env_;
  runtime::StreamConnector* connector_;
  HttpKmsClientOptions options_;
};

}  // namespace cpipe::keys

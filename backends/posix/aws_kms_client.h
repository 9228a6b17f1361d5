// The real KMS client, assembled: HttpKmsClient (SigV4, JSON API) over TLS (TlsStream, verifying
// kms.<region>.amazonaws.com against the CA store) over a plain stream to the host's proxy
// (vsock inside a Nitro enclave, TCP elsewhere), wrapped in RetryingKmsClient (deadlines,
// jittered backoff, circuit breaker). The host hands in the credentials (it holds the instance
// role); it relays only TLS ciphertext and so learns neither the request nor the answer.
//
//   auto kms = make_aws_kms_client(env, "eu-west-1", Endpoint::vsock(3, 8000), creds);
//   Result<KmsDecryptResponse> r = co_await (*kms)->client().decrypt(request);
#pragma once

#include <memory>
#include <string>

#include "backends/posix/tls_stream.h"
#include "core/keys/http_kms_client.h"
#include "core/keys/kms_retry.h"
#include "core/runtime/connector.h"
#include "core/runtime/env.h"

namespace cpipe::posix {

struct AwsKmsClientOptions {
  std::string host;     // empty: kms.<region>.amazonaws.com (TLS name and Host header)
  std::string ca_file;  // PEM bundle; the enclave image ships one (no system store inside)
  bool use_system_ca = true;
  std::string ca_pem;   // extra trusted CAs in memory (tests)
  runtime::Duration connect_timeout = std::chrono::seconds(5);
  runtime::Duration request_timeout = std::chrono::seconds(10);
  keys::KmsRetryPolicy retry;
  keys::CircuitBreakerPolicy breaker;
};

class AwsKmsClient {
 public:
  // The decorated client to use.
  keys::KmsClient& client() { return *retrying_; }
  keys::HttpKmsClient& http() { return *http_; }
  keys::RetryingKmsClient& retrying() { return *retrying_; }
  // Rotate the credentials the host handed in (instance role credentials expire).
  void set_credentials(keys::AwsCredentials credentials) { http_->set_credentials(std::move(credentials)); }

 private:
  friend Result<std::unique_ptr<AwsKmsClient>> make_aws_kms_client(runtime::Env, const std::string&,
                                                                   runtime::Endpoint, keys::AwsCredentials,
                                                                   AwsKmsClientOptions);
  AwsKmsClient() = default;
  std::unique_ptr<runtime::NetworkConnector> proxy_;
  std::unique_ptr<TlsConnector> tls_;
  std::unique_ptr<keys::HttpKmsClient> http_;
  std::unique_ptr<keys::RetryingKmsClient> retrying_;
};

// INVALID_ARGUMENT for an empty region; KEYS_TLS_FAILED when the CA store cannot be loaded.
Result<std::unique_ptr<AwsKmsClient>> make_aws_kms_client(runtime::Env env, const std::string& region,
                                                          runtime::Endpoint proxy_endpoint,
                                                          keys::AwsCredentials credentials,
                                                          AwsKmsClientOptions options = {});

}  // namespace cpipe::posix

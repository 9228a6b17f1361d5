// Assembly of the real KMS client (see aws_kms_client.h).
#include "backends/posix/aws_kms_client.h"

namespace cpipe::posix {

Result<std::unique_ptr<AwsKmsClient>> make_aws_kms_client(runtime::Env env, const std::string& region,
                                                          runtime::Endpoint proxy_endpoint,
                                                          keys::AwsCredentials credentials,
                                                          AwsKmsClientOptions options) {
  if (region.empty()) return make_error(ErrorCode::INVALID_ARGUMENT, "AWS KMS client needs a region");
  const std::string host = options.host.empty() ? "kms." + region + ".amazonaws.com" : options.host;
  TlsClientConfig tls;
  tls.server_name = host;
  tls.use_system_ca = options.use_system_ca;
  tls.ca_file = options.ca_file;
  tls.ca_pem = options.ca_pem;
  CPIPE_ASSIGN_OR_RETURN(std::shared_ptr<TlsContext> ctx, TlsContext::client(tls));

  std::unique_ptr<AwsKmsClient> c(new AwsKmsClient());
  c->proxy_ = std::make_unique<runtime::NetworkConnector>(env.network, std::move(proxy_endpoint),
                                                          options.connect_timeout);
  c->tls_ = std::make_unique<TlsConnector>(c->proxy_.get(), std::move(ctx), env.executor, env.clock);
  keys::HttpKmsClientOptions http;
  http.endpoint = {region, host};
  http.credentials = std::move(credentials);
  http.request_timeout = options.request_timeout;
  c->http_ = std::make_unique<keys::HttpKmsClient>(env, c->tls_.get(), std::move(http));
  c->retrying_ = std::make_unique<keys::RetryingKmsClient>(env, c->http_.get(), options.retry, options.breaker);
  return c;
}

}  // namespace cpipe::posix

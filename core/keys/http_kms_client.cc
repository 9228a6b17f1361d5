// HttpKmsClient (see http_kms_client.h).
#include "core/keys/http_kms_client.h"

#include <nlohmann/json.hpp>

#include "core/keys/base64.h"

namespace cpipe::keys {
namespace {

using runtime::Task;

// Shared with the deadline timer, which may fire while the coroutine is suspended.
struct DeadlineState {
  bool fired = false;
  std::shared_ptr<runtime::Stream> stream;
};

Status deadline_error(runtime::Duration timeout) {
  return make_error(ErrorCode::DEADLINE_EXCEEDED,
                    "KMS request did not complete within " +
                        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
                        " ms");
}

Status bad_response(std::string message) {
  return make_error(ErrorCode::KEYS_KMS_BAD_RESPONSE, "KMS response: " + std::move(message));
}

std::string host_of(const KmsEndpoint& e) {
  return e.host.empty() ? "kms." + e.region + ".amazonaws.com" : e.host;
}

Result<HttpRequest> build_signed(const KmsEndpoint& endpoint, const AwsCredentials& credentials, int64_t unix_time,
                                 std::string target, std::string body) {
  if (endpoint.region.empty()) return make_error(ErrorCode::INVALID_ARGUMENT, "KMS request needs a region");
  HttpRequest http;
  http.method = "POST";
  http.path = "/";
  http.body = std::move(body);
  http.headers = {{"Host", host_of(endpoint)},
                  {"Content-Type", "application/x-amz-json-1.1"},
                  {"X-Amz-Target", std::move(target)}};
  SigV4Options o;
  o.region = endpoint.region;
  o.service = "kms";
  o.unix_time = unix_time;
  CPIPE_ASSIGN_OR_RETURN(SigV4Result signed_req, sigv4_sign_headers(http, credentials, o));
  http.headers.insert(http.headers.end(), signed_req.added_headers.begin(), signed_req.added_headers.end());
  return http;
}

Result<KmsDataKey> parse_generate_data_key(const HttpResponse& r) {
  if (r.status != 200) return kms_error_status(r.status, r.body);
  auto j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return bad_response("GenerateDataKey body is not a JSON object");
  KmsDataKey out;
  for (auto [field, dest] : {std::pair{"Plaintext", &out.plaintext}, std::pair{"CiphertextBlob", &out.ciphertext_blob}}) {
    if (!j.contains(field) || !j[field].is_string()) return bad_response(std::string("no ") + field);
    auto decoded = base64_decode(j[field].get<std::string>());
    if (!decoded.ok() || decoded->empty()) return bad_response(std::string(field) + " is not base64");
    *dest = std::move(*decoded);
  }
  if (j.contains("KeyId") && j["KeyId"].is_string()) out.key_id = j["KeyId"].get<std::string>();
  return out;
}

}  // namespace

HttpKmsClient::HttpKmsClient(runtime::Env env, runtime::StreamConnector* connector, HttpKmsClientOptions options)
    : env_(env), connector_(connector), options_(std::move(options)) {}

Task<Result<HttpResponse>> HttpKmsClient::exchange(HttpRequest request) {
  // Added after signing: SigV4 leaves these unsigned.
  request.headers.emplace_back("User-Agent", options_.user_agent);
  request.headers.emplace_back("Connection", "close");
  const std::string wire = http_serialize_request(request);
  const runtime::Duration timeout = options_.request_timeout;
  const runtime::MonoTime deadline = env_.clock->now() + timeout;

  auto state = std::make_shared<DeadlineState>();
  runtime::ScopedTimer timer(*env_.clock, timeout, [state] {
    state->fired = true;
    if (state->stream) state->stream->close();
  });

  Result<std::shared_ptr<runtime::Stream>> conn = co_await connector_->connect();
  if (state->fired || env_.clock->now() >= deadline) {
    if (conn.ok()) (*conn)->close();
    co_return deadline_error(timeout);
  }
  if (!conn.ok()) co_return conn.status();
  std::shared_ptr<runtime::Stream> stream = *conn;
  state->stream = stream;

  Status written = co_await stream->write_all(ByteSpan(reinterpret_cast<const uint8_t*>(wire.data()), wire.size()));
  if (!written.ok()) {
    stream->close();
    co_return state->fired ? deadline_error(timeout) : written;
  }
  Result<HttpResponse> response = co_await http_read_response(*stream, options_.limits);
  stream->close();
  timer.cancel();
  if (!response.ok()) {
    if (state->fired) co_return deadline_error(timeout);
    if (response.status().code() == ErrorCode::PARSE_ERROR) co_return bad_response(response.status().message());
    co_return response.status();
  }
  env_.logger("keys.kms").debug("kms_response", {{"status", std::to_string(response->status)},
                                                 {"bytes", std::to_string(response->body.size())}});
  co_return response;
}

Task<Result<KmsDecryptResponse>> HttpKmsClient::decrypt(KmsDecryptRequest request) {
  const int64_t now_s = env_.clock->wall_now().unix_ns / 1'000'000'000;
  Result<HttpRequest> http = build_kms_decrypt_request(request, options_.endpoint, options_.credentials, now_s);
  if (!http.ok()) co_return http.status();
  Result<HttpResponse> response = co_await exchange(std::move(*http));
  if (!response.ok()) co_return response.status();
  co_return parse_kms_decrypt_response(response->status, response->body);
}

Task<Result<KmsDataKey>> HttpKmsClient::generate_data_key(std::string key_id, EncryptionContext context) {
  const int64_t now_s = env_.clock->wall_now().unix_ns / 1'000'000'000;
  Result<HttpRequest> http = build_signed(options_.endpoint, options_.credentials, now_s,
                                          "TrentService.GenerateDataKey", kms_generate_data_key_body(key_id, context));
  if (!http.ok()) co_return http.status();
  Result<HttpResponse> response = co_await exchange(std::move(*http));
  if (!response.ok()) co_return response.status();
  co_return parse_generate_data_key(*response);
}

}  // namespace cpipe::keys

// KMS JSON API requests and responses (see kms_request.h).
#include "core/keys/kms_request.h"

#include <nlohmann/json.hpp>

#include "core/keys/base64.h"
#include "core/keys/cms_envelope.h"
#include "core/keys/sealed_model_format.h"

namespace cpipe::keys {
namespace {

using ojson = nlohmann::ordered_json;

ojson context_json(const EncryptionContext& ctx) {
  ojson j = ojson::object();
  for (const auto& [k, v] : ctx) j[k] = v;
  return j;
}

Status bad_response(std::string message) {
  return make_error(ErrorCode::KEYS_KMS_BAD_RESPONSE, "KMS response: " + std::move(message));
}

}  // namespace

EncryptionContext sealed_model_encryption_context(const std::string& model_id, const std::string& model_version) {
  return {{"cpipe:model-id", model_id}, {"cpipe:model-version", model_version}};
}

std::string kms_decrypt_body(const KmsDecryptRequest& r) {
  ojson j;
  j["CiphertextBlob"] = base64_encode(r.ciphertext_blob);
  if (!r.encryption_context.empty()) j["EncryptionContext"] = context_json(r.encryption_context);
  if (!r.key_id.empty()) j["KeyId"] = r.key_id;
  if (!r.encryption_algorithm.empty()) j["EncryptionAlgorithm"] = r.encryption_algorithm;
  j["Recipient"] = ojson{{"KeyEncryptionAlgorithm", "RSAES_OAEP_SHA_256"},
                         {"AttestationDocument", base64_encode(r.attestation_document)}};
  return j.dump();
}

std::string kms_generate_data_key_body(const std::string& key_id, const EncryptionContext& context) {
  ojson j;
  j["KeyId"] = key_id;
  j["KeySpec"] = "AES_256";
  j["EncryptionContext"] = context_json(context);
  return j.dump();
}

Result<HttpRequest> build_kms_decrypt_request(const KmsDecryptRequest& request, const KmsEndpoint& endpoint,
                                              const AwsCredentials& credentials, int64_t unix_time) {
  if (request.ciphertext_blob.empty() || request.attestation_document.empty() || endpoint.region.empty())
    return make_error(ErrorCode::INVALID_ARGUMENT,
                      "KMS Decrypt needs a ciphertext blob, an attestation document and a region");
  HttpRequest http;
  http.method = "POST";
  http.path = "/";
  http.body = kms_decrypt_body(request);
  http.headers = {{"Host", endpoint.host.empty() ? "kms." + endpoint.region + ".amazonaws.com" : endpoint.host},
                  {"Content-Type", "application/x-amz-json-1.1"},
                  {"X-Amz-Target", "TrentService.Decrypt"}};
  SigV4Options o;
  o.region = endpoint.region;
  o.service = "kms";
  o.unix_time = unix_time;
  CPIPE_ASSIGN_OR_RETURN(SigV4Result signed_req, sigv4_sign_headers(http, credentials, o));
  http.headers.insert(http.headers.end(), signed_req.added_headers.begin(), signed_req.added_headers.end());
  return http;
}

std::string serialize_http_request(const HttpRequest& r) {
  std::string out =
      r.method + " " + aws_uri_encode(r.path, true) + (r.query.empty() ? "" : "?" + r.query) + " HTTP/1.1\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n";
  out += r.body;
  return out;
}

Status kms_error_status(int http_status, std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  std::string type, message;
  if (j.is_object()) {
    if (j.contains("__type") && j["__type"].is_string()) type = j["__type"].get<std::string>();
    for (const char* key : {"message", "Message"})
      if (j.contains(key) && j[key].is_string()) message = j[key].get<std::string>();
  }
  if (const size_t hash = type.rfind('#'); hash != std::string::npos) type = type.substr(hash + 1);
  const std::string text = "KMS " + std::to_string(http_status) + " " + (type.empty() ? "(no __type)" : type) +
                           (message.empty() ? "" : ": " + message);
  static const std::pair<const char*, ErrorCode> kMap[] = {
      {"AccessDeniedException", ErrorCode::KEYS_ACCESS_DENIED},
      {"UnrecognizedClientException", ErrorCode::KEYS_ACCESS_DENIED},
      {"InvalidSignatureException", ErrorCode::KEYS_ACCESS_DENIED},
      {"IncompleteSignature", ErrorCode::KEYS_ACCESS_DENIED},
      {"IncompleteSignatureException", ErrorCode::KEYS_ACCESS_DENIED},
      {"MissingAuthenticationTokenException", ErrorCode::KEYS_ACCESS_DENIED},
      {"ExpiredTokenException", ErrorCode::KEYS_ACCESS_DENIED},
      {"ValidationException", ErrorCode::KEYS_VALIDATION},
      {"InvalidCiphertextException", ErrorCode::KEYS_VALIDATION},
      {"IncorrectKeyException", ErrorCode::KEYS_VALIDATION},
      {"InvalidKeyUsageException", ErrorCode::KEYS_VALIDATION},
      {"InvalidGrantTokenException", ErrorCode::KEYS_VALIDATION},
      {"ThrottlingException", ErrorCode::KEYS_THROTTLED},
      {"LimitExceededException", ErrorCode::KEYS_THROTTLED},
      {"KMSInternalException", ErrorCode::KEYS_KMS_INTERNAL},
      {"KeyUnavailableException", ErrorCode::UNAVAILABLE},
      {"DependencyTimeoutException", ErrorCode::UNAVAILABLE},
      {"NotFoundException", ErrorCode::NOT_FOUND},
      {"DisabledException", ErrorCode::FAILED_PRECONDITION},
      {"KMSInvalidStateException", ErrorCode::FAILED_PRECONDITION},
  };
  for (const auto& [name, code] : kMap)
    if (type == name) return make_error(code, text);
  return make_error(http_status >= 500 ? ErrorCode::KEYS_KMS_INTERNAL : ErrorCode::KEYS_KMS_BAD_RESPONSE, text);
}

Result<Bytes> data_key_from_recipient_response(const KmsDecryptResponse& response, const RsaKey& recipient) {
  CPIPE_ASSIGN_OR_RETURN(Bytes key, decrypt_cms_enveloped_data(response.ciphertext_for_recipient, recipient));
  if (key.size() != kDataKeySize) {
    secure_zero(key);
    return make_error(ErrorCode::KEYS_CMS_INVALID, "released key is not 32 bytes");
  }
  return key;
}

bool kms_error_retryable(ErrorCode code) {
  return code == ErrorCode::KEYS_THROTTLED || code == ErrorCode::KEYS_KMS_INTERNAL ||
         code == ErrorCode::UNAVAILABLE;
}

Result<KmsDecryptResponse> parse_kms_decrypt_response(int http_status, std::string_view body) {
  if (http_status != 200) return kms_error_status(http_status, body);
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return bad_response("body is not a JSON object");
  if (j.contains("Plaintext") && !j["Plaintext"].is_null())
    return bad_response("Plaintext present in a Recipient answer: refusing a key sent in clear");
  if (!j.contains("CiphertextForRecipient") || !j["CiphertextForRecipient"].is_string())
    return bad_response("no CiphertextForRecipient");
  auto cms = base64_decode(j["CiphertextForRecipient"].get<std::string>());
  if (!cms.ok() || cms->empty()) return bad_response("CiphertextForRecipient is not base64");
  KmsDecryptResponse out;
  out.ciphertext_for_recipient = std::move(*cms);
  if (j.contains("KeyId") && j["KeyId"].is_string()) out.key_id = j["KeyId"].get<std::string>();
  if (j.contains("EncryptionAlgorithm") && j["EncryptionAlgorithm"].is_string())
    out.encryption_algorithm = j["EncryptionAlgorithm"].get<std::string>();
  return out;
}

}  // namespace cpipe::keys

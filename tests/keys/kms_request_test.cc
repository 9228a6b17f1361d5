// KMS Decrypt with a Recipient: the JSON body, the SigV4-signed headers (signature checked
// against an independent Python computation), the response parser on a real KMS CMS blob, and
// the mapping of every KMS error type to a stable code.
#include "core/keys/kms_request.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "backends/simulated/sim_random.h"
#include "core/keys/base64.h"
#include "core/keys/cms_envelope.h"

namespace cpipe::keys {
namespace {

const std::string kBody =
    R"({"CiphertextBlob":"AQIDBA==","EncryptionContext":{"cpipe:model-id":"gpt2","cpipe:model-version":"1"},)"
    R"("KeyId":"alias/model","EncryptionAlgorithm":"SYMMETRIC_DEFAULT","Recipient":)"
    R"({"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256","AttestationDocument":"QVRURVNU"}})";

KmsDecryptRequest sample_request() {
  KmsDecryptRequest r;
  r.ciphertext_blob = {1, 2, 3, 4};
  r.key_id = "alias/model";
  r.encryption_algorithm = "SYMMETRIC_DEFAULT";
  r.encryption_context = sealed_model_encryption_context("gpt2", "1");
  r.attestation_document = to_bytes("ATTEST");
  return r;
}

std::string header(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "<missing>";
}

TEST(KmsRequest, DecryptBodyIsTheDocumentedJson) {
  EXPECT_EQ(kms_decrypt_body(sample_request()), kBody);
  KmsDecryptRequest minimal;
  minimal.ciphertext_blob = {0xff};
  minimal.attestation_document = {0x00};
  EXPECT_EQ(
      kms_decrypt_body(minimal),
      R"({"CiphertextBlob":"/w==","Recipient":{"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256","AttestationDocument":"AA=="}})");
}

TEST(KmsRequest, SignedDecryptRequestMatchesAnIndependentSigV4) {
  AwsCredentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "FwoGZXIvYXdzEXAMPLETOKEN"};
  auto t = parse_iso8601_utc("2015-08-30T12:36:00Z");
  ASSERT_TRUE(t.ok());
  auto req = build_kms_decrypt_request(sample_request(), {"eu-west-1", ""}, creds, *t);
  ASSERT_TRUE(req.ok()) << req.status().to_string();
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->path, "/");
  EXPECT_EQ(req->body, kBody);
  EXPECT_EQ(header(*req, "Host"), "kms.eu-west-1.amazonaws.com");
  EXPECT_EQ(header(*req, "Content-Type"), "application/x-amz-json-1.1");
  EXPECT_EQ(header(*req, "X-Amz-Target"), "TrentService.Decrypt");
  EXPECT_EQ(header(*req, "X-Amz-Date"), "20150830T123600Z");
  EXPECT_EQ(header(*req, "X-Amz-Security-Token"), "FwoGZXIvYXdzEXAMPLETOKEN");
  // Expected value computed with Python's hashlib/hmac from the SigV4 specification.
  EXPECT_EQ(header(*req, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/kms/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
            "Signature=46d08f9fe413ebc9679849124a6c1bcf811402565edab90b9a2d312055445607");
  const std::string wire = serialize_http_request(*req);
  EXPECT_EQ(wire.substr(0, 18), "POST / HTTP/1.1\r\nH");
  EXPECT_NE(wire.find("\r\nContent-Length: " + std::to_string(kBody.size()) + "\r\n\r\n" + kBody),
            std::string::npos);
}

TEST(KmsRequest, RefusesIncompleteRequests) {
  AwsCredentials creds{"AKID", "secret", ""};
  KmsDecryptRequest r = sample_request();
  r.attestation_document.clear();
  EXPECT_EQ(build_kms_decrypt_request(r, {"eu-west-1", ""}, creds, 0).code(), ErrorCode::INVALID_ARGUMENT);
  EXPECT_EQ(build_kms_decrypt_request(sample_request(), {"", ""}, creds, 0).code(), ErrorCode::INVALID_ARGUMENT);
  EXPECT_EQ(build_kms_decrypt_request(sample_request(), {"eu-west-1", ""}, {"", "", ""}, 0).code(),
            ErrorCode::INVALID_ARGUMENT);
}

TEST(KmsResponse, CiphertextForRecipientCarriesTheRealCmsBlob) {
  std::ifstream in(std::string(CPIPE_SHARED_DATA) + "/kms/input_ber.bin", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const Bytes blob = to_bytes(ss.str());
  ASSERT_EQ(blob.size(), 493u);
  const std::string body =
      R"({"CiphertextForRecipient":")" + base64_encode(blob) +
      R"(","EncryptionAlgorithm":"SYMMETRIC_DEFAULT","KeyId":"arn:aws:kms:eu-west-1:111122223333:key/k1","Plaintext":null})";
  auto resp = parse_kms_decrypt_response(200, body);
  ASSERT_TRUE(resp.ok()) << resp.status().to_string();
  EXPECT_EQ(resp->ciphertext_for_recipient, blob);
  EXPECT_EQ(resp->key_id, "arn:aws:kms:eu-west-1:111122223333:key/k1");
  EXPECT_EQ(resp->encryption_algorithm, "SYMMETRIC_DEFAULT");
  EXPECT_TRUE(parse_cms_enveloped_data(resp->ciphertext_for_recipient).ok());
}

TEST(KmsResponse, DataKeyComesOutOfARecipientAnswer) {
  auto rsa = RsaKey::generate_rsa2048();
  ASSERT_TRUE(rsa.ok());
  sim::SimRandom random(3);
  const Bytes data_key = random.bytes(32);
  auto cms = encode_cms_enveloped_data(data_key, *rsa, random);
  ASSERT_TRUE(cms.ok());
  auto resp = parse_kms_decrypt_response(200, R"({"CiphertextForRecipient":")" + base64_encode(*cms) + R"("})");
  ASSERT_TRUE(resp.ok());
  auto key = data_key_from_recipient_response(*resp, *rsa);
  ASSERT_TRUE(key.ok()) << key.status().to_string();
  EXPECT_EQ(*key, data_key);
  // A 16-byte "key" is not a sealed-model data key.
  auto short_cms = encode_cms_enveloped_data(Bytes(16, 1), *rsa, random);
  ASSERT_TRUE(short_cms.ok());
  EXPECT_EQ(data_key_from_recipient_response({*short_cms, "", ""}, *rsa).code(), ErrorCode::KEYS_CMS_INVALID);
}

TEST(KmsResponse, MalformedSuccessAnswersAreRefused) {
  EXPECT_EQ(parse_kms_decrypt_response(200, "not json").code(), ErrorCode::KEYS_KMS_BAD_RESPONSE);
  EXPECT_EQ(parse_kms_decrypt_response(200, "{}").code(), ErrorCode::KEYS_KMS_BAD_RESPONSE);
  EXPECT_EQ(parse_kms_decrypt_response(200, R"({"CiphertextForRecipient":"A==="})").code(),
            ErrorCode::KEYS_KMS_BAD_RESPONSE);
  // The data key in clear must never be accepted on the recipient path.
  EXPECT_EQ(parse_kms_decrypt_response(200, R"({"CiphertextForRecipient":"AAAA","Plaintext":"AAAA"})").code(),
            ErrorCode::KEYS_KMS_BAD_RESPONSE);
}

TEST(KmsResponse, ErrorTypesMapToStableCodes) {
  struct Case {
    int status;
    const char* type;
    ErrorCode code;
  };
  const Case cases[] = {
      {400, "AccessDeniedException", ErrorCode::KEYS_ACCESS_DENIED},
      {400, "com.amazonaws.kms#AccessDeniedException", ErrorCode::KEYS_ACCESS_DENIED},
      {400, "UnrecognizedClientException", ErrorCode::KEYS_ACCESS_DENIED},
      {403, "InvalidSignatureException", ErrorCode::KEYS_ACCESS_DENIED},
      {400, "ExpiredTokenException", ErrorCode::KEYS_ACCESS_DENIED},
      {400, "ValidationException", ErrorCode::KEYS_VALIDATION},
      {400, "InvalidCiphertextException", ErrorCode::KEYS_VALIDATION},
      {400, "IncorrectKeyException", ErrorCode::KEYS_VALIDATION},
      {400, "ThrottlingException", ErrorCode::KEYS_THROTTLED},
      {400, "LimitExceededException", ErrorCode::KEYS_THROTTLED},
      {500, "KMSInternalException", ErrorCode::KEYS_KMS_INTERNAL},
      {500, "KeyUnavailableException", ErrorCode::UNAVAILABLE},
      {503, "DependencyTimeoutException", ErrorCode::UNAVAILABLE},
      {400, "NotFoundException", ErrorCode::NOT_FOUND},
      {400, "DisabledException", ErrorCode::FAILED_PRECONDITION},
      {400, "KMSInvalidStateException", ErrorCode::FAILED_PRECONDITION},
      {400, "SomethingNewException", ErrorCode::KEYS_KMS_BAD_RESPONSE},
      {502, "SomethingNewException", ErrorCode::KEYS_KMS_INTERNAL},
  };
  for (const Case& c : cases) {
    const std::string body = std::string(R"({"__type":")") + c.type + R"(","message":"why"})";
    auto r = parse_kms_decrypt_response(c.status, body);
    EXPECT_EQ(r.code(), c.code) << c.type;
    // KMS's own words stay in the status for the stage to report.
    const std::string name = std::string(c.type).substr(std::string(c.type).rfind('#') + 1);
    EXPECT_NE(r.status().message().find(name), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("why"), std::string::npos);
  }
  EXPECT_EQ(kms_error_status(400, R"({"__type":"ThrottlingException","Message":"Rate exceeded"})").message(),
            "KMS 400 ThrottlingException: Rate exceeded");
  EXPECT_EQ(kms_error_status(500, "<html>oops</html>").code(), ErrorCode::KEYS_KMS_INTERNAL);
  EXPECT_EQ(kms_error_status(400, "").code(), ErrorCode::KEYS_KMS_BAD_RESPONSE);
}

TEST(KmsResponse, OnlyTransientErrorsAreRetryable) {
  EXPECT_TRUE(kms_error_retryable(ErrorCode::KEYS_THROTTLED));
  EXPECT_TRUE(kms_error_retryable(ErrorCode::KEYS_KMS_INTERNAL));
  EXPECT_TRUE(kms_error_retryable(ErrorCode::UNAVAILABLE));
  EXPECT_FALSE(kms_error_retryable(ErrorCode::KEYS_ACCESS_DENIED));
  EXPECT_FALSE(kms_error_retryable(ErrorCode::KEYS_VALIDATION));
}

TEST(KmsRequest, GenerateDataKeyBodyBindsTheModel) {
  EXPECT_EQ(
      kms_generate_data_key_body("alias/m", sealed_model_encryption_context("gpt2", "1")),
      R"({"KeyId":"alias/m","KeySpec":"AES_256","EncryptionContext":{"cpipe:model-id":"gpt2","cpipe:model-version":"1"}})");
}

TEST(Base64, StrictStandardAlphabet) {
  EXPECT_EQ(base64_encode(to_bytes("")), "");
  EXPECT_EQ(base64_encode(to_bytes("f")), "Zg==");
  EXPECT_EQ(base64_encode(to_bytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(*base64_decode("Zm9vYg=="), to_bytes("foob"));
  EXPECT_EQ(*base64_decode("+/+/"), (Bytes{0xfb, 0xff, 0xbf}));
  for (const char* bad : {"Zg=", "Zg", "Zm9v YmFy", "Zm9vYmFy\n", "Zh==", "-_-_", "Zg==Zg==", "===="})
    EXPECT_EQ(base64_decode(bad).code(), ErrorCode::INVALID_ARGUMENT) << bad;
}

}  // namespace
}  // namespace cpipe::keys

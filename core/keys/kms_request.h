// The AWS KMS JSON API calls cpipe makes, as bytes: Decrypt with a Recipient (the enclave's
// attestation document, whose public_key is the RSA-2048 recipient key), SigV4-signed with
// credentials the host hands in and a time from the caller; and the parsing of its answer
// (CiphertextForRecipient, a CMS EnvelopedData) and of KMS errors into stable codes. Transport
// (TLS through the vsock proxy) is the client's business, not this file's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/keys/rsa_key.h"
#include "core/keys/sigv4.h"

namespace cpipe::keys {

using EncryptionContext = std::vector<std::pair<std::string, std::string>>;

// The EncryptionContext a sealed model's KMS data key is bound to (must match at Decrypt):
// {"cpipe:model-id": id, "cpipe:model-version": version}.
EncryptionContext sealed_model_encryption_context(const std::string& model_id, const std::string& model_version);

struct KmsDecryptRequest {
  Bytes ciphertext_blob;
  std::string key_id;                // optional (required by KMS for asymmetric keys)
  std::string encryption_algorithm;  // optional ("SYMMETRIC_DEFAULT")
  EncryptionContext encryption_context;
  Bytes attestation_document;  // Recipient.AttestationDocument (COSE_Sign1 from the NSM)
};

struct KmsEndpoint {
  std::string region;  // "eu-west-1"
  std::string host;    // empty: kms.<region>.amazonaws.com
};

// {"CiphertextBlob": b64, "EncryptionContext"?: {...}, "KeyId"?, "EncryptionAlgorithm"?,
//  "Recipient": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b64}}
std::string kms_decrypt_body(const KmsDecryptRequest& request);
// {"KeyId": ..., "KeySpec": "AES_256", "EncryptionContext": {...}}: what `cpipe model seal
// --kms-key` asks the operator to send (GenerateDataKey) when it cannot reach KMS itself.
std::string kms_generate_data_key_body(const std::string& key_id, const EncryptionContext& context);

// POST / with Host, Content-Type: application/x-amz-json-1.1, X-Amz-Target: TrentService.Decrypt
// and the SigV4 headers (service "kms"). INVALID_ARGUMENT for an empty blob, document or region.
Result<HttpRequest> build_kms_decrypt_request(const KmsDecryptRequest& request, const KmsEndpoint& endpoint,
                                              const AwsCredentials& credentials, int64_t unix_time);
// HTTP/1.1 wire form (CRLF, Content-Length), ready for the TLS stream.
std::string serialize_http_request(const HttpRequest& request);

struct KmsDecryptResponse {
  Bytes ciphertext_for_recipient;  // CMS EnvelopedData (BER)
  std::string key_id;
  std::string encryption_algorithm;
};

// HTTP status and body of a Decrypt-with-Recipient answer. 200 with CiphertextForRecipient is
// success; a 200 carrying Plaintext instead is refused (the key must never travel in clear);
// anything else goes through kms_error_status.
Result<KmsDecryptResponse> parse_kms_decrypt_response(int http_status, std::string_view body);

// The data key inside a Decrypt-with-Recipient answer: opens CiphertextForRecipient (CMS) with
// the enclave's RSA private key and checks it is a 32-byte key (KEYS_CMS_INVALID otherwise).
Result<Bytes> data_key_from_recipient_response(const KmsDecryptResponse& response, const RsaKey& recipient);

// A KMS error answer ({"__type": "[prefix#]Name", "message"|"Message": ...}) as a Status:
//   AccessDeniedException (and the front door's UnrecognizedClient, InvalidSignature,
//   ExpiredToken, IncompleteSignature) -> KEYS_ACCESS_DENIED
//   ValidationException, InvalidCiphertextException, IncorrectKeyException,
//   InvalidKeyUsageException, InvalidGrantTokenException -> KEYS_VALIDATION
//   ThrottlingException, LimitExceededException -> KEYS_THROTTLED
//   KMSInternalException -> KEYS_KMS_INTERNAL
//   KeyUnavailableException, DependencyTimeoutException -> UNAVAILABLE
//   NotFoundException -> NOT_FOUND; DisabledException, KMSInvalidStateException -> FAILED_PRECONDITION
//   anything else: 5xx -> KEYS_KMS_INTERNAL, otherwise KEYS_KMS_BAD_RESPONSE.
// The message keeps KMS's exception name, so the stage's status shows what KMS said.
Status kms_error_status(int http_status, std::string_view body);

// Codes worth retrying with backoff (throttling, KMS internal errors, unavailability).
bool kms_error_retryable(ErrorCode code);

}  // namespace cpipe::keys

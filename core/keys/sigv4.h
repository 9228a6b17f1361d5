// AWS Signature Version 4 (AWS4-HMAC-SHA256): canonical request, string to sign, signing key,
// signature, and the Authorization header or presigned query, for requests the enclave sends to
// KMS (and S3) through the untrusted host. Pure functions: credentials are handed in by the
// host and the time by the caller, never read from the environment or a clock here.
// Checked against every case of AWS's own suite (tests/keys/sigv4_suite_test.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::keys {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;   // "POST"
  std::string path;     // as sent, not yet percent-encoded: "/", "/example space/"
  std::string query;    // raw query string without '?': "a=1&b=%E1%88%B4"
  HttpHeaders headers;  // in order; a repeated name is one header with comma-joined values
  std::string body;
};

struct SigV4Options {
  std::string region;
  std::string service;
  int64_t unix_time = 0;            // seconds since the epoch, UTC
  bool normalize_path = true;       // remove "." / ".." segments and empty segments (not for S3)
  bool sign_body_header = false;    // add and sign x-amz-content-sha256
  bool omit_session_token = false;  // add the token after signing (services that want it unsigned)
  int64_t expires_seconds = 3600;   // presigned (query) only
  // The canonical request's payload hash; empty: hex SHA-256 of the body. S3 accepts
  // "UNSIGNED-PAYLOAD" (then also send it as x-amz-content-sha256).
  std::string payload_hash = {};
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // lowercase hex
  // Header signing: the headers to add to the request, Authorization last.
  HttpHeaders added_headers;
  // Query signing: the query string to send (original parameters + X-Amz-*), in sent order.
  std::string signed_query;
};

// Header signing (Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...).
// INVALID_ARGUMENT for an empty method, region, service or key, or a path not starting with '/'.
Result<SigV4Result> sigv4_sign_headers(const HttpRequest& request, const AwsCredentials& credentials,
                                       const SigV4Options& options);
// Query signing (presigned URL: X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, [X-Amz-Security-Token], X-Amz-Signature).
Result<SigV4Result> sigv4_sign_query(const HttpRequest& request, const AwsCredentials& credentials,
                                     const SigV4Options& options);

// The building blocks, exposed for tests and for other AWS clients.
std::string aws_uri_encode(std::string_view data, bool keep_slash);
std::string sigv4_canonical_path(std::string_view path, bool normalize);
// Parameters percent-decoded, re-encoded canonically, sorted by name then value.
std::string sigv4_canonical_query(std::string_view query);
Bytes sigv4_signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service);
// "20150830T123600Z" and "20150830".
std::string amz_date(int64_t unix_time);
std::string amz_short_date(int64_t unix_time);
// "2015-08-30T12:36:00Z" -> unix seconds (INVALID_ARGUMENT otherwise).
Result<int64_t> parse_iso8601_utc(std::string_view text);

}  // namespace cpipe::keys

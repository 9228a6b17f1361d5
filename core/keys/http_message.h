// HTTP/1.1 messages over a runtime::Stream, for the AWS clients (KMS, S3) and the simulated
// services that answer them. Boost.Beast does the parsing and serialization (header-only; we
// feed it bytes read from the Stream ourselves, so no Asio socket is involved and the core rule
// holds). Everything read is from the untrusted host: sizes are bounded, and a malformed,
// truncated or oversized message is PARSE_ERROR (callers map it to their own code, e.g.
// KEYS_KMS_BAD_RESPONSE). Transport errors (TRANSPORT_*, CANCELLED) pass through unchanged.
#pragma once

#include <string>
#include <string_view>

#include "core/base/status.h"
#include "core/keys/sigv4.h"
#include "core/runtime/clock.h"
#include "core/runtime/task.h"
#include "core/runtime/transport.h"

namespace cpipe::keys {

struct HttpResponse {
  int status = 0;
  std::string reason;   // informational only
  HttpHeaders headers;  // in received order
  std::string body;

  // First header with this name (case-insensitive), or empty.
  std::string header(std::string_view name) const;
};

// First header of `headers` with this name (case-insensitive), or empty.
std::string http_header(const HttpHeaders& headers, std::string_view name);

struct HttpReadLimits {
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  // Per read: TRANSPORT_TIMEOUT when no byte arrives for this long (kNoTimeout: none).
  runtime::Duration read_timeout = runtime::kNoTimeout;
};

// Wire form: request line with the path URI-encoded as SigV4 canonicalizes it (aws_uri_encode
// keeping '/') and the raw query, the headers in order, Content-Length (unless the request
// already has one) and the body.
std::string http_serialize_request(const HttpRequest& request);
// Status line, headers in order, Content-Length (unless present; none for 204/304) and body.
std::string http_serialize_response(const HttpResponse& response);

// Reads one response. `head_request`: the answer to a HEAD has no body whatever its
// Content-Length says. A body without length or chunking runs to EOF.
runtime::Task<Result<HttpResponse>> http_read_response(runtime::Stream& stream, HttpReadLimits limits,
                                                       bool head_request = false);

// Reads one request (server side). TRANSPORT_CLOSED when the peer closed cleanly before sending
// any byte of it (the end of a keep-alive connection); PARSE_ERROR for EOF inside a request.
// The request path is returned percent-decoded, the query raw.
runtime::Task<Result<HttpRequest>> http_read_request(runtime::Stream& stream, HttpReadLimits limits);

}  // namespace cpipe::keys

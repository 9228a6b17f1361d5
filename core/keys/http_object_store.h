// HttpObjectStore: ObjectStore over the S3 REST API — HEAD for the size, GET with
// `Range: bytes=a-b` for pieces — SigV4-signed (service "s3", x-amz-content-sha256:
// UNSIGNED-PAYLOAD) with credentials the host hands in and the time from the Env's wall clock.
// It talks HTTP/1.1 over streams from a StreamConnector (plain simulated TCP to SimS3, or TLS
// through the vsock proxy to AWS), keeps idle connections for reuse, and reads a ranged body
// straight into the caller's buffer (Boost.Beast parses the header; the body needs no parsing).
//
// Answers → codes: 206 (Content-Range must be exactly the asked range, or its end-of-object
// prefix) and 200 (only when the whole object is the asked range) succeed; 404 NOT_FOUND
// (NoSuchKey, NoSuchBucket); 416 OUT_OF_RANGE; 403 KEYS_STORE_DENIED; 500/503 (InternalError,
// SlowDown) UNAVAILABLE, retried with full-jitter exponential backoff up to max_attempts; other
// statuses and malformed answers KEYS_STORE_BAD_RESPONSE. The S3 error code and message (XML)
// stay in the Status message.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/event.h"
#include "core/keys/object_store.h"
#include "core/keys/sigv4.h"
#include "core/runtime/connector.h"
#include "core/runtime/env.h"

namespace cpipe::keys {

struct S3StoreConfig {
  std::string bucket;
  std::string region = "us-east-1";
  // The Host header. Empty: "<bucket>.s3.<region>.amazonaws.com" (virtual-hosted style), or
  // "s3.<region>.amazonaws.com" with path_style.
  std::string host;
  bool path_style = false;     // request "/<bucket>/<key>" instead of "/<key>"
  AwsCredentials credentials;  // handed in by the host (instance role); required
  runtime::Duration read_timeout = std::chrono::seconds(30);  // no byte for this long: TRANSPORT_TIMEOUT
  int max_attempts = 4;                                       // per request, retryable failures only
  runtime::Duration backoff_base = std::chrono::milliseconds(50);
  runtime::Duration backoff_max = std::chrono::seconds(2);
  size_t max_idle_connections = 4;
  size_t max_header_bytes = 16 * 1024;
  size_t max_error_body_bytes = 64 * 1024;
};

struct ObjectStoreStats {
  uint64_t requests = 0;            // HTTP requests sent (retries included)
  uint64_t retries = 0;             // attempts after a retryable failure
  uint64_t connections_opened = 0;  // fresh streams from the connector
  uint64_t bytes_received = 0;      // body bytes of successful ranged reads
};

// Worth retrying: 5xx/SlowDown (UNAVAILABLE) and broken or silent connections.
bool object_store_error_retryable(ErrorCode code);

class HttpObjectStore final : public ObjectStore {
 public:
  // `env` and `connector` must outlive the store, and the store every call it started.
  HttpObjectStore(runtime::Env& env, runtime::StreamConnector& connector, S3StoreConfig config);
  ~HttpObjectStore() override;

  runtime::Task<Result<uint64_t>> size(std::string key) override;
  runtime::Task<Result<size_t>> read_range(std::string key, uint64_t offset, MutableByteSpan out) override;

  // Closes the kept-alive connections (e.g. once a cold start is done with S3).
  void close_idle_connections();

  const ObjectStoreStats& stats() const { return stats_; }
  const S3StoreConfig& config() const { return config_; }

  // What one attempt yields (exposed for the implementation's helpers).
  struct Reply {
    uint64_t object_size = 0;  // from Content-Length (HEAD) or Content-Range (GET)
    size_t bytes = 0;          // body bytes written to the caller's buffer
  };

 private:
  runtime::Task<Result<Reply>> with_retries(bool head, std::string key, uint64_t offset, MutableByteSpan out);
  runtime::Task<Result<Reply>> attempt(bool head, const std::string& key, uint64_t offset, MutableByteSpan out,
                                       bool* retry_at_once);
  Result<std::string> build_request(bool head, const std::string& key, uint64_t offset, size_t length) const;

  runtime::Env* env_;
  runtime::StreamConnector* connector_;
  S3StoreConfig config_;
  Logger log_;
  std::vector<std::shared_ptr<runtime::Stream>> idle_;
  ObjectStoreStats stats_;
};

}  // namespace cpipe::keys

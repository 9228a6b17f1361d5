// SimS3: the simulated S3 a stage's cold start reads its sealed model from. An actor on a
// SimNode serving objects held in memory over plain HTTP/1.1 on a simulated TCP listener (the
// simulator omits TLS, as for SimKms): HEAD, GET with Range (206 + Content-Range; bytes=a-b,
// a- and -n forms), 200 without Range, 404 NoSuchKey/NoSuchBucket, 416 InvalidRange, and S3's
// XML error bodies. Both addressing styles: virtual-hosted (Host "<bucket>.s3...", path "/key")
// and path-style ("/<bucket>/<key>").
//
// Timing model: each request waits a time-to-first-byte drawn from `first_byte` (the node's
// seeded Random), then the body leaves in pieces at `bandwidth_bytes_per_s` per connection; the
// simulated links add their own latency and bandwidth on top. Deterministic per seed.
//
// Authentication: every request must carry SigV4 headers (Authorization with
// AWS4-HMAC-SHA256 Credential=<akid>/<date>/<region>/s3/aws4_request, SignedHeaders, Signature;
// X-Amz-Date; x-amz-content-sha256), checked for presence and form (403 AccessDenied when
// absent, 400 AuthorizationHeaderMalformed / InvalidRequest when malformed, 403
// RequestTimeTooSkewed beyond 15 minutes). With `credentials` set the signature is recomputed
// and compared (403 InvalidAccessKeyId / SignatureDoesNotMatch); without, it is not verified.
//
// Fault hooks: the next N requests fail with 500 InternalError or 503 SlowDown; a
// SimServiceFilter may answer any request with an S3 error of its choosing.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "backends/simulated/sim_network.h"
#include "backends/simulated/sim_node.h"
#include "backends/simulated/sim_service_filter.h"
#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/keys/sigv4.h"
#include "core/runtime/transport.h"

namespace cpipe::sim {

struct SimS3Config {
  runtime::Endpoint listen = runtime::Endpoint::tcp("s3", 80);
  std::string bucket = "cpipe-models";
  std::string region = "us-east-1";
  LatencyDistribution first_byte = LatencyDistribution::quantiles(
      std::chrono::milliseconds(8), std::chrono::milliseconds(20), std::chrono::milliseconds(60),
      std::chrono::milliseconds(150));
  uint64_t bandwidth_bytes_per_s = 90'000'000;  // per connection; 0 = unlimited
  size_t send_piece = 256 * 1024;               // body write size (bandwidth pacing granularity)
  std::optional<keys::AwsCredentials> credentials;  // set: verify signatures fully
  int64_t max_skew_seconds = 15 * 60;
};

struct SimS3Stats {
  uint64_t connections = 0;
  uint64_t requests = 0;
  uint64_t gets = 0;
  uint64_t heads = 0;
  uint64_t body_bytes_sent = 0;
  uint64_t errors = 0;  // 4xx/5xx answers, injected ones included
  uint64_t injected = 0;
};

class SimS3 {
 public:
  // `node` must outlive the service, and the service every task it started (keep it alive until
  // the world ran dry or was destroyed).
  SimS3(SimNode& node, SimS3Config config);
  ~SimS3();
  SimS3(const SimS3&) = delete;
  SimS3& operator=(const SimS3&) = delete;

  // Listens and serves (TRANSPORT_ADDRESS_IN_USE etc. from the network).
  Status start();
  void stop();

  void put_object(const std::string& key, Bytes data);
  bool delete_object(const std::string& key);
  const Bytes* object(const std::string& key) const;

  // The next `count` requests (after authentication) answer `http_status`: 500 InternalError
  // or 503 SlowDown.
  void fail_next(int count, int http_status = 500);
  // Fault injection at the request boundary (sim_service_filter.h): every request is shown to
  // `filter` on arrival, which may have it answered with an S3 error instead; null: none.
  void set_filter(SimServiceFilter* filter) { filter_ = filter; }

  const SimS3Stats& stats() const { return stats_; }
  const SimS3Config& config() const { return config_; }
  runtime::Endpoint endpoint() const;

  struct Answer;  // one response, built by the request handler (sim_s3.cc)

 private:
  static runtime::Task<void> serve(SimS3* self);
  static runtime::Task<void> handle(SimS3* self, std::shared_ptr<runtime::Stream> stream);
  Answer answer(const keys::HttpRequest& request, const SimInjectedError* injected);

  SimNode& node_;
  SimS3Config config_;
  Logger log_;
  std::unique_ptr<runtime::Listener> listener_;
  std::map<std::string, std::shared_ptr<const Bytes>> objects_;
  SimServiceFilter* filter_ = nullptr;
  uint64_t calls_ = 0;
  int fail_count_ = 0;
  int fail_status_ = 500;
  uint64_t request_ids_ = 0;
  SimS3Stats stats_;
};

}  // namespace cpipe::sim

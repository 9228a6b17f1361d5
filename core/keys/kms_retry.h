// RetryingKmsClient: a KmsClient decorator (LevelDB EnvWrapper style) that gives any KmsClient
// the behaviour a stage needs from an unreliable key service reached through an untrusted host:
//   - a deadline per attempt and one for the whole call (DEADLINE_EXCEEDED);
//   - exponential backoff with jitter between attempts (runtime::Random, runtime::Clock), only
//     for retryable failures: kms_error_retryable codes (throttling, KMS internal, unavailable)
//     and, optionally, transport failures and per-attempt deadlines. AccessDenied, validation
//     errors and malformed answers are final and returned unchanged (the KMS message kept);
//   - a circuit breaker: after `failure_threshold` consecutive failed attempts it opens and
//     calls fail fast with UNAVAILABLE; after `cool_down` one probe attempt is let through
//     (half-open): success closes it, failure opens it again.
// An answer from KMS that is an error but not an outage (AccessDenied, Validation...) counts as
// the service being healthy for the breaker.
//
// The wrapped client must outlive this one and every call it started: an attempt abandoned at its
// deadline keeps running in the background until the inner client's own timeout ends it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/keys/kms_client.h"
#include "core/runtime/env.h"

namespace cpipe::keys {

enum class JitterMode {
  kFull,   // sleep = uniform[0, cap]             (AWS "full jitter": least contention)
  kEqual,  // sleep = cap/2 + uniform[0, cap/2]   (never shorter than half the cap)
};

struct KmsRetryPolicy {
  int max_attempts = 6;
  runtime::Duration attempt_timeout = std::chrono::seconds(5);
  runtime::Duration overall_timeout = std::chrono::seconds(30);
  // cap(k) = min(max_backoff, base_backoff * 2^k) before retry k (k = 0 for the first retry).
  runtime::Duration base_backoff = std::chrono::milliseconds(100);
  runtime::Duration max_backoff = std::chrono::seconds(5);
  JitterMode jitter = JitterMode::kFull;
  // Also retry TRANSPORT_* failures, KEYS_KMS_BAD_RESPONSE excluded, and attempts that ran past
  // attempt_timeout (a dropped connection or a slow host should not kill a cold start).
  bool retry_transport_errors = true;
};

struct CircuitBreakerPolicy {
  int failure_threshold = 5;  // consecutive failed attempts that open the breaker (0: never)
  runtime::Duration cool_down = std::chrono::seconds(30);
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };
std::string_view breaker_state_name(BreakerState state);

struct KmsRetryStats {
  uint64_t calls = 0;
  uint64_t attempts = 0;        // attempts handed to the inner client
  uint64_t retries = 0;         // attempts after the first of a call
  uint64_t successes = 0;       // calls that returned a response
  uint64_t failures = 0;        // calls that returned an error (fast failures included)
  uint64_t fast_failures = 0;   // calls or retries refused by the open breaker
  uint64_t attempt_timeouts = 0;
  uint64_t breaker_opens = 0;
  int64_t backoff_ns_total = 0;
  // The most recent call's attempts: when each started (monotonic) and the backoff cap and
  // drawn sleep before each retry (for benchmarks and tests).
  std::vector<runtime::MonoTime> last_call_attempt_starts;
  std::vector<int64_t> last_call_backoff_caps_ns;
  std::vector<int64_t> last_call_backoffs_ns;
};

class RetryingKmsClient final : public KmsClient {
 public:
  RetryingKmsClient(runtime::Env env, KmsClient* inner, KmsRetryPolicy retry = {},
                    CircuitBreakerPolicy breaker = {});

  runtime::Task<Result<KmsDecryptResponse>> decrypt(KmsDecryptRequest request) override;

  const KmsRetryStats& stats() const { return stats_; }
  // The state now (an open breaker whose cool-down has passed reads as half-open).
  BreakerState breaker_state() const;
  int consecutive_failures() const { return consecutive_failures_; }

  // Whether `code` from one attempt is worth another under `policy`.
  static bool retryable(ErrorCode code, const KmsRetryPolicy& policy);

 private:
  // Admission by the breaker: OK, or the UNAVAILABLE fast failure. Sets *probe for the
  // half-open probe attempt.
  Status admit(bool* probe);
  void record(const Status& attempt, bool probe);
  // Whether an attempt's outcome says the service is unhealthy.
  bool counts_as_failure(const Status& attempt) const;
  runtime::Task<Result<KmsDecryptResponse>> attempt(const KmsDecryptRequest& request, runtime::Duration timeout);
  int64_t backoff_cap_ns(int retry_index) const;
  Status overall_deadline_error(int attempts, const Status& last, const Status& last_answer) const;

  runtime::Env env_;
  KmsClient* inner_;
  KmsRetryPolicy retry_;
  CircuitBreakerPolicy breaker_;
  KmsRetryStats stats_;
  BreakerState state_ = BreakerState::kClosed;
  runtime::MonoTime opened_at_;
  bool probe_in_flight_ = false;
  int consecutive_failures_ = 0;
  std::string last_failure_;
};

}  // namespace cpipe::keys

// RetryingKmsClient (see kms_retry.h).
#include "core/keys/kms_retry.h"

#include <algorithm>

#include "core/runtime/oneshot.h"

namespace cpipe::keys {
namespace {

using runtime::Task;
using DecryptResult = Result<KmsDecryptResponse>;

int64_t to_ms(int64_t ns) { return ns / 1'000'000; }

bool is_transport(ErrorCode code) {
  switch (code) {
    case ErrorCode::TRANSPORT_REFUSED:
    case ErrorCode::TRANSPORT_RESET:
    case ErrorCode::TRANSPORT_TIMEOUT:
    case ErrorCode::TRANSPORT_CLOSED:
    case ErrorCode::TRANSPORT_UNREACHABLE:
      return true;
    default:
      return false;
  }
}

// Runs one attempt to completion on its own; the caller may have stopped waiting (deadline).
Task<void> run_attempt(KmsClient* inner, KmsDecryptRequest request, runtime::Oneshot<DecryptResult> out) {
  DecryptResult r = co_await inner->decrypt(std::move(request));
  out.set(std::move(r));
}

}  // namespace

std::string_view breaker_state_name(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half-open";
  }
  return "?";
}

RetryingKmsClient::RetryingKmsClient(runtime::Env env, KmsClient* inner, KmsRetryPolicy retry,
                                     CircuitBreakerPolicy breaker)
    : env_(env), inner_(inner), retry_(retry), breaker_(breaker) {}

bool RetryingKmsClient::retryable(ErrorCode code, const KmsRetryPolicy& policy) {
  if (kms_error_retryable(code)) return true;
  return policy.retry_transport_errors && (is_transport(code) || code == ErrorCode::DEADLINE_EXCEEDED);
}

bool RetryingKmsClient::counts_as_failure(const Status& attempt) const {
  if (attempt.ok()) return false;
  switch (attempt.code()) {
    // KMS answered, and the answer is final: the service is up.
    case ErrorCode::KEYS_ACCESS_DENIED:
    case ErrorCode::KEYS_VALIDATION:
    case ErrorCode::NOT_FOUND:
    case ErrorCode::FAILED_PRECONDITION:
    case ErrorCode::INVALID_ARGUMENT:
      return false;
    default:
      return true;
  }
}

BreakerState RetryingKmsClient::breaker_state() const {
  if (state_ == BreakerState::kOpen && env_.clock->now() - opened_at_ >= breaker_.cool_down)
    return BreakerState::kHalfOpen;
  return state_;
}

Status RetryingKmsClient::admit(bool* probe) {
  *probe = false;
  if (state_ == BreakerState::kOpen && env_.clock->now() - opened_at_ >= breaker_.cool_down) {
    state_ = BreakerState::kHalfOpen;
    probe_in_flight_ = false;
    env_.logger("keys.kms").info("kms_breaker_half_open");
  }
  if (state_ == BreakerState::kClosed) return Status{};
  if (state_ == BreakerState::kHalfOpen && !probe_in_flight_) {
    probe_in_flight_ = true;
    *probe = true;
    return Status{};
  }
  const int64_t wait_ns =
      state_ == BreakerState::kOpen ? (breaker_.cool_down - (env_.clock->now() - opened_at_)).count() : 0;
  return make_error(ErrorCode::UNAVAILABLE,
                    "KMS circuit breaker " + std::string(breaker_state_name(state_)) + " after " +
                        std::to_string(consecutive_failures_) + " consecutive failures (next probe in " +
                        std::to_string(to_ms(std::max<int64_t>(wait_ns, 0))) + " ms); last error: " + last_failure_);
}

void RetryingKmsClient::record(const Status& attempt, bool probe) {
  if (probe) probe_in_flight_ = false;
  if (!counts_as_failure(attempt)) {
    if (state_ != BreakerState::kClosed) env_.logger("keys.kms").info("kms_breaker_closed");
    state_ = BreakerState::kClosed;
    consecutive_failures_ = 0;
    return;
  }
  ++consecutive_failures_;
  last_failure_ = std::string(error_code_name(attempt.code())) + ": " + attempt.message();
  const bool trip = probe || (state_ == BreakerState::kClosed && breaker_.failure_threshold > 0 &&
                              consecutive_failures_ >= breaker_.failure_threshold);
  if (trip) {
    state_ = BreakerState::kOpen;
    opened_at_ = env_.clock->now();
    ++stats_.breaker_opens;
    env_.logger("keys.kms").warn("kms_breaker_open", {{"consecutive_failures", std::to_string(consecutive_failures_)},
                                                      {"last_error", last_failure_}});
  }
}

int64_t RetryingKmsClient::backoff_cap_ns(int retry_index) const {
  const int64_t max_ns = retry_.max_backoff.count();
  int64_t cap = retry_.base_backoff.count();
  for (int i = 0; i < retry_index && cap < max_ns; ++i) cap *= 2;
  return std::min(cap, max_ns);
}

Task<DecryptResult> RetryingKmsClient::attempt(const KmsDecryptRequest& request, runtime::Duration timeout) {
  runtime::Oneshot<DecryptResult> done(*env_.executor);
  runtime::spawn(*env_.executor, run_attempt(inner_, request, done));
  runtime::ScopedTimer timer(*env_.clock, timeout, [done, timeout] {
    done.set(make_error(ErrorCode::DEADLINE_EXCEEDED,
                        "KMS attempt did not complete within " +
                            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
                            " ms"));
  });
  DecryptResult r = co_await done;
  co_return r;
}

Status RetryingKmsClient::overall_deadline_error(int attempts, const Status& last, const Status& last_answer) const {
  std::string text = "KMS Decrypt: overall deadline of " + std::to_string(to_ms(retry_.overall_timeout.count())) +
                     " ms exceeded after " + std::to_string(attempts) + " attempts; last error: " +
                     std::string(error_code_name(last.code())) + ": " + last.message();
  if (!last_answer.ok() && last_answer.message() != last.message())
    text += "; last KMS answer: " + std::string(error_code_name(last_answer.code())) + ": " + last_answer.message();
  return make_error(ErrorCode::DEADLINE_EXCEEDED, text);
}

Task<DecryptResult> RetryingKmsClient::decrypt(KmsDecryptRequest request) {
  ++stats_.calls;
  stats_.last_call_attempt_starts.clear();
  stats_.last_call_backoff_caps_ns.clear();
  stats_.last_call_backoffs_ns.clear();
  const runtime::MonoTime deadline = env_.clock->now() + retry_.overall_timeout;
  const Logger log = env_.logger("keys.kms");
  Status last, last_answer;  // last_answer: the last failure that was not a timeout
  const int max_attempts = std::max(1, retry_.max_attempts);
  for (int k = 0; k < max_attempts; ++k) {
    if (k > 0) {
      const int64_t cap = backoff_cap_ns(k - 1);
      const int64_t sleep_ns = retry_.jitter == JitterMode::kFull
                                   ? int64_t(env_.random->uniform(uint64_t(cap) + 1))
                                   : cap / 2 + int64_t(env_.random->uniform(uint64_t(cap - cap / 2) + 1));
      if (env_.clock->now() + runtime::Duration(sleep_ns) >= deadline) {
        ++stats_.failures;
        co_return overall_deadline_error(k, last, last_answer);
      }
      stats_.last_call_backoff_caps_ns.push_back(cap);
      stats_.last_call_backoffs_ns.push_back(sleep_ns);
      stats_.backoff_ns_total += sleep_ns;
      log.info("kms_retry", {{"attempt", std::to_string(k + 1)},
                             {"backoff_ms", std::to_string(to_ms(sleep_ns))},
                             {"after", std::string(error_code_name(last.code()))}});
      co_await runtime::sleep_for(*env_.clock, runtime::Duration(sleep_ns));
      ++stats_.retries;
    }
    bool probe = false;
    Status admitted = admit(&probe);
    if (!admitted.ok()) {
      ++stats_.fast_failures;
      ++stats_.failures;
      co_return admitted;
    }
    const runtime::Duration remaining = deadline - env_.clock->now();
    const runtime::Duration timeout = std::min(retry_.attempt_timeout, remaining);
    ++stats_.attempts;
    stats_.last_call_attempt_starts.push_back(env_.clock->now());
    DecryptResult r = co_await attempt(request, timeout);
    const Status outcome = r.ok() ? Status{} : r.status();
    record(outcome, probe);
    if (r.ok()) {
      ++stats_.successes;
      co_return r;
    }
    if (outcome.code() == ErrorCode::DEADLINE_EXCEEDED) ++stats_.attempt_timeouts;
    last = outcome;
    if (outcome.code() != ErrorCode::DEADLINE_EXCEEDED) last_answer = outcome;
    if (outcome.code() == ErrorCode::DEADLINE_EXCEEDED && timeout < retry_.attempt_timeout) {
      ++stats_.failures;  // cut short by the overall deadline
      co_return overall_deadline_error(k + 1, last, last_answer);
    }
    if (!retryable(outcome.code(), retry_)) {
      ++stats_.failures;
      co_return outcome;  // final answers (AccessDenied...) unchanged, KMS message kept
    }
  }
  ++stats_.failures;
  co_return make_error(last.code(), "KMS Decrypt failed after " + std::to_string(max_attempts) +
                                        " attempts: " + last.message());
}

}  // namespace cpipe::keys

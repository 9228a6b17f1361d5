// RetryingKmsClient over a scripted KmsClient in a SimWorld (virtual time): what is retried and
// what is final, jittered exponential backoff within its caps, per-attempt and overall
// deadlines, and the circuit breaker's closed -> open -> half-open -> closed/open cycle.
#include <gtest/gtest.h>

#include <deque>
#include <optional>

#include "backends/simulated/sim_world.h"
#include "core/keys/kms_retry.h"

namespace cpipe::keys {
namespace {

using namespace std::chrono_literals;
using runtime::Duration;
using runtime::Task;

// Answers each call with the next scripted outcome after the step's delay (then OK forever).
class ScriptedKms final : public KmsClient {
 public:
  struct Step {
    Status status;  // OK: success
    Duration delay{0};
  };
  explicit ScriptedKms(runtime::Clock* clock) : clock_(clock) {}
  std::deque<Step> script;
  int calls = 0;

  Task<Result<KmsDecryptResponse>> decrypt(KmsDecryptRequest) override {
    ++calls;
    Step step;
    if (!script.empty()) {
      step = script.front();
      script.pop_front();
    }
    if (step.delay.count() > 0) co_await runtime::sleep_for(*clock_, step.delay);
    if (!step.status.ok()) co_return step.status;
    KmsDecryptResponse r;
    r.ciphertext_for_recipient = to_bytes("cms");
    co_return r;
  }

 private:
  runtime::Clock* clock_;
};

Status throttled() { return make_error(ErrorCode::KEYS_THROTTLED, "KMS 400 ThrottlingException: Rate exceeded"); }
Status internal() { return make_error(ErrorCode::KEYS_KMS_INTERNAL, "KMS 500 KMSInternalException"); }

Task<void> call(KmsClient* client, std::optional<Result<KmsDecryptResponse>>* out) {
  // A named request: GCC 12 mishandles a temporary argument inside a co_await expression.
  KmsDecryptRequest request;
  out->emplace(co_await client->decrypt(std::move(request)));
}

struct Harness {
  explicit Harness(uint64_t seed = 3) : world(seed), node(world.add_node("enclave")), inner(&node.clock()) {}
  ~Harness() { (void)world.run_until_idle(); }  // abandoned attempts end before the world does
  Result<KmsDecryptResponse> run(KmsClient* client) {
    std::optional<Result<KmsDecryptResponse>> out;
    runtime::spawn(node, call(client, &out));
    while (!out.has_value() && world.step()) {
    }
    EXPECT_TRUE(out.has_value());
    return std::move(*out);
  }
  sim::SimWorld world;
  sim::SimNode& node;
  ScriptedKms inner;
};

TEST(KmsRetryTest, AccessDeniedIsFinalAndKeepsTheKmsMessage) {
  Harness h;
  const std::string msg = "KMS 400 AccessDeniedException: User: arn:aws:iam::1:role/e is not authorized";
  h.inner.script = {{make_error(ErrorCode::KEYS_ACCESS_DENIED, msg)}};
  RetryingKmsClient c(h.node.env(), &h.inner);
  auto r = h.run(&c);
  EXPECT_EQ(r.status().code(), ErrorCode::KEYS_ACCESS_DENIED);
  EXPECT_EQ(r.status().message(), msg);
  EXPECT_EQ(c.stats().attempts, 1u);
  EXPECT_EQ(c.stats().retries, 0u);
  EXPECT_EQ(h.world.now().ns, 0) << "no backoff for a final answer";
}

TEST(KmsRetryTest, ValidationAndBadResponsesAreFinal) {
  for (ErrorCode code : {ErrorCode::KEYS_VALIDATION, ErrorCode::KEYS_KMS_BAD_RESPONSE, ErrorCode::NOT_FOUND}) {
    Harness h;
    h.inner.script = {{make_error(code, "x")}};
    RetryingKmsClient c(h.node.env(), &h.inner);
    EXPECT_EQ(h.run(&c).status().code(), code);
    EXPECT_EQ(h.inner.calls, 1);
  }
}

TEST(KmsRetryTest, ThrottlingRetriedUntilSuccessWithFullJitterUnderDoublingCaps) {
  Harness h;
  h.inner.script = {{throttled()}, {throttled()}, {internal()}, {throttled()}};
  KmsRetryPolicy p;
  p.base_backoff = 100ms;
  p.max_backoff = 500ms;
  RetryingKmsClient c(h.node.env(), &h.inner, p);
  auto r = h.run(&c);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(c.stats().attempts, 5u);
  EXPECT_EQ(c.stats().retries, 4u);
  const auto& caps = c.stats().last_call_backoff_caps_ns;
  const auto& sleeps = c.stats().last_call_backoffs_ns;
  ASSERT_EQ(caps, (std::vector<int64_t>{100'000'000, 200'000'000, 400'000'000, 500'000'000}));
  int64_t total = 0;
  for (size_t i = 0; i < sleeps.size(); ++i) {
    EXPECT_GE(sleeps[i], 0);
    EXPECT_LE(sleeps[i], caps[i]);
    total += sleeps[i];
  }
  EXPECT_EQ(h.world.now().ns, total) << "the only time spent is the backoff";
  const auto& starts = c.stats().last_call_attempt_starts;
  ASSERT_EQ(starts.size(), 5u);
  for (size_t i = 1; i < starts.size(); ++i) EXPECT_EQ((starts[i] - starts[i - 1]).count(), sleeps[i - 1]);
}

TEST(KmsRetryTest, FullJitterSleepsGrowOnAverage) {
  Harness h;
  KmsRetryPolicy p;
  p.base_backoff = 100ms;
  RetryingKmsClient c(h.node.env(), &h.inner, p, {.failure_threshold = 0});
  std::vector<int64_t> sum(3, 0);
  constexpr int kCalls = 200;
  for (int i = 0; i < kCalls; ++i) {
    h.inner.script = {{throttled()}, {throttled()}, {throttled()}};
    ASSERT_TRUE(h.run(&c).ok());
    for (size_t k = 0; k < 3; ++k) sum[k] += c.stats().last_call_backoffs_ns[k];
  }
  // Means near 50, 100, 200 ms.
  EXPECT_LT(sum[0], sum[1]);
  EXPECT_LT(sum[1], sum[2]);
  EXPECT_NEAR(double(sum[2]) / kCalls / 1e6, 200.0, 30.0);
}

TEST(KmsRetryTest, ExhaustedAttemptsReturnTheLastCode) {
  Harness h;
  h.inner.script = {{throttled()}, {throttled()}, {throttled()}, {throttled()}};
  KmsRetryPolicy p;
  p.max_attempts = 4;
  RetryingKmsClient c(h.node.env(), &h.inner, p);
  auto r = h.run(&c);
  EXPECT_EQ(r.status().code(), ErrorCode::KEYS_THROTTLED);
  EXPECT_NE(r.status().message().find("after 4 attempts"), std::string::npos);
  EXPECT_NE(r.status().message().find("ThrottlingException"), std::string::npos);
  EXPECT_EQ(h.inner.calls, 4);
}

TEST(KmsRetryTest, HungAttemptIsAbandonedAtItsDeadlineAndRetried) {
  Harness h;
  h.inner.script = {{Status{}, 60s}};  // hangs for a minute
  KmsRetryPolicy p;
  p.attempt_timeout = 1s;
  RetryingKmsClient c(h.node.env(), &h.inner, p);
  auto r = h.run(&c);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(c.stats().attempt_timeouts, 1u);
  EXPECT_EQ(c.stats().attempts, 2u);
  EXPECT_LT(h.world.now().ns, runtime::Duration(2s).count());
  ASSERT_TRUE(h.world.run_until_idle().ok());  // the abandoned attempt ends on its own
}

TEST(KmsRetryTest, OverallDeadlineBoundsTheCall) {
  Harness h;
  for (int i = 0; i < 20; ++i) h.inner.script.push_back({internal(), 400ms});
  KmsRetryPolicy p;
  p.max_attempts = 20;
  p.overall_timeout = 1s;
  p.base_backoff = 50ms;
  RetryingKmsClient c(h.node.env(), &h.inner, p, {.failure_threshold = 0});
  auto r = h.run(&c);
  EXPECT_EQ(r.status().code(), ErrorCode::DEADLINE_EXCEEDED);
  EXPECT_NE(r.status().message().find("KMSInternalException"), std::string::npos) << r.status().message();
  EXPECT_LE(h.world.now().ns, runtime::Duration(1s).count());
}

TEST(KmsRetryTest, TransportErrorsRetriedOnlyWhenEnabled) {
  Harness h;
  h.inner.script = {{make_error(ErrorCode::TRANSPORT_REFUSED, "refused")}};
  KmsRetryPolicy p;
  p.retry_transport_errors = false;
  RetryingKmsClient strict(h.node.env(), &h.inner, p);
  EXPECT_EQ(h.run(&strict).status().code(), ErrorCode::TRANSPORT_REFUSED);
  h.inner.script = {{make_error(ErrorCode::TRANSPORT_RESET, "reset")}};
  RetryingKmsClient lenient(h.node.env(), &h.inner);
  EXPECT_TRUE(h.run(&lenient).ok());
}

TEST(KmsRetryTest, BreakerOpensFailsFastAndAFailedProbeReopens) {
  Harness h;
  KmsRetryPolicy p;
  p.max_attempts = 1;
  RetryingKmsClient c(h.node.env(), &h.inner, p, {.failure_threshold = 2, .cool_down = 5s});
  h.inner.script = {{internal()}, {internal()}, {internal()}};
  EXPECT_EQ(h.run(&c).status().code(), ErrorCode::KEYS_KMS_INTERNAL);
  EXPECT_EQ(c.breaker_state(), BreakerState::kClosed);
  EXPECT_EQ(h.run(&c).status().code(), ErrorCode::KEYS_KMS_INTERNAL);
  EXPECT_EQ(c.breaker_state(), BreakerState::kOpen);
  auto fast = h.run(&c);
  EXPECT_EQ(fast.status().code(), ErrorCode::UNAVAILABLE);
  EXPECT_EQ(h.inner.calls, 2);
  ASSERT_TRUE(h.world.run_for(5s).ok());
  EXPECT_EQ(c.breaker_state(), BreakerState::kHalfOpen);
  EXPECT_EQ(h.run(&c).status().code(), ErrorCode::KEYS_KMS_INTERNAL);  // the probe fails
  EXPECT_EQ(c.breaker_state(), BreakerState::kOpen);
  EXPECT_EQ(c.stats().breaker_opens, 2u);
  EXPECT_EQ(h.run(&c).status().code(), ErrorCode::UNAVAILABLE);
  ASSERT_TRUE(h.world.run_for(5s).ok());
  EXPECT_TRUE(h.run(&c).ok());  // script exhausted: the probe succeeds
  EXPECT_EQ(c.breaker_state(), BreakerState::kClosed);
  EXPECT_EQ(c.consecutive_failures(), 0);
}

TEST(KmsRetryTest, FinalKmsAnswersDoNotTripTheBreaker) {
  Harness h;
  KmsRetryPolicy p;
  RetryingKmsClient c(h.node.env(), &h.inner, p, {.failure_threshold = 2});
  for (int i = 0; i < 5; ++i) {
    h.inner.script = {{make_error(ErrorCode::KEYS_ACCESS_DENIED, "denied")}};
    EXPECT_EQ(h.run(&c).status().code(), ErrorCode::KEYS_ACCESS_DENIED);
  }
  EXPECT_EQ(c.breaker_state(), BreakerState::kClosed);
}

}  // namespace
}  // namespace cpipe::keys

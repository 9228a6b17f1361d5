// Key-delivery faults in scenarios: KMS and S3 answering with the errors the real services send
// (kms_error, s3_error) and a stage killed while its KMS call is in flight (kill during
// kms_call). Final errors must end the cold start with the stage's explicit refusal code and no
// retry; retryable ones must be retried through; a stage killed during its key release must come
// back; the shipped scenario is deterministic.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "apps/cpipe/scenario.h"
#include "apps/cpipe/scenario_run.h"
#include "tests/cli/scenario_test_util.h"

namespace cpipe::cli {
namespace {

using scenario_tests::parse_error;
using scenario_tests::violations;

Scenario shipped() { return scenario_tests::load_shipped("kms-s3-errors.yaml"); }

// The shipped sealed deployment with only `faults` and no expectations beyond the defaults.
Scenario with_faults(std::vector<SimFault> faults) {
  Scenario s = shipped();
  s.faults = std::move(faults);
  s.expect = {};
  return s;
}

SimFault service_error(FaultKind kind, const std::string& error, int count, double at_ms = 0,
                       double duration_ms = -1) {
  SimFault f;
  f.kind = kind;
  f.stage = kind == FaultKind::kKmsError ? kFaultNodeKms : kFaultNodeS3;
  f.at_ms = at_ms;
  f.duration_ms = duration_ms;
  f.count = count;
  f.error = error;
  return f;
}


TEST(ServiceFaultParseTest, KindsTriggersAndErrorsReadBackAndBadOnesAreNamed) {
  Scenario a = shipped();
  ASSERT_EQ(a.faults.size(), 4u);
  EXPECT_EQ(a.faults[0].kind, FaultKind::kKmsError);
  EXPECT_EQ(a.faults[0].error, "KMSInternalException");
  EXPECT_EQ(a.faults[0].count, 3);
  EXPECT_EQ(a.faults[0].at_ms, 0.0);  // count from the start
  EXPECT_EQ(a.faults[2].during, FaultEvent::kKmsCall);
  EXPECT_FALSE(a.faults[2].at_ms || a.faults[2].after_forwards);
  a.faults.push_back(service_error(FaultKind::kS3Error, "NoSuchKey", 0, 250, 400));
  auto b = parse_scenario(scenario_to_yaml(a), "again.yaml");
  ASSERT_TRUE(b.ok()) << b.status().to_string() << "\n" << scenario_to_yaml(a);
  EXPECT_EQ(b->faults, a.faults);

  const std::string sealed = "topology: {stages: 2, sealed: true, host_proxy: true}\nfaults:\n  timeline:\n    - ";
  std::string e = parse_error(sealed + "{kind: kms_error, error: NoSuchThing, count: 1}\n");
  EXPECT_NE(e.find("'faults.timeline[0].error'"), std::string::npos) << e;
  EXPECT_NE(e.find("known: AccessDeniedException"), std::string::npos) << e;
  e = parse_error(sealed + "{kind: s3_error, error: KMSInternalException, count: 1}\n");
  EXPECT_NE(e.find("unknown error"), std::string::npos) << e;
  e = parse_error(sealed + "{kind: kms_error, error: ThrottlingException}\n");
  EXPECT_NE(e.find("at_ms (a window) or count"), std::string::npos) << e;
  e = parse_error(sealed + "{kind: kill, stage: 0, at_ms: 5, during: kms_call}\n");
  EXPECT_NE(e.find("give one of at_ms, after_token and during"), std::string::npos) << e;
  e = parse_error(sealed + "{kind: partition, stage: 0, during: kms_call}\n");
  EXPECT_NE(e.find("does not apply to a partition fault"), std::string::npos) << e;
  e = parse_error(sealed + "{kind: kill, stage: 0, during: s3_call}\n");
  EXPECT_NE(e.find("must be kms_call"), std::string::npos) << e;
  e = parse_error("faults:\n  timeline:\n    - {kind: s3_error, count: 1}\n");
  EXPECT_NE(e.find("need topology.sealed: true"), std::string::npos) << e;
  e = parse_error("faults:\n  timeline:\n    - {kind: kill, stage: 0, during: kms_call}\n");
  EXPECT_NE(e.find("only with topology.sealed: true"), std::string::npos) << e;
  e = parse_error("faults:\n  swarm:\n    kinds: [kill, kms_error]\n");
  EXPECT_NE(e.find("need topology.sealed: true"), std::string::npos) << e;
}

// Sealed swarm mode draws the key-delivery kinds and the kms_call trigger, and its draws go
// through the writer and back unchanged; unsealed swarm scenarios never draw them.
TEST(ServiceFaultParseTest, SealedSwarmDrawsServiceErrorsAndKillsDuringKmsCalls) {
  auto sw = load_scenario(std::string(CPIPE_SOURCE_DIR) + "/scenarios/swarm-sealed.yaml");
  ASSERT_TRUE(sw.ok()) << sw.status().to_string();
  Scenario a = *sw;
  std::set<std::string> errors;
  int during = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed)
    for (const SimFault& f : swarm_faults(a, seed)) {
      if (f.kind == FaultKind::kKmsError || f.kind == FaultKind::kS3Error) {
        EXPECT_NE(service_error_spec(f.kind, f.error), nullptr) << f.error;
        EXPECT_EQ(f.stage, f.kind == FaultKind::kKmsError ? kFaultNodeKms : kFaultNodeS3);
        errors.insert(f.error);
      }
      during += f.during.has_value();
      a.faults.push_back(f);
    }
  EXPECT_GE(errors.size(), 7u);  // most of the 9 errors
  EXPECT_GE(during, 3);
  auto b = parse_scenario(scenario_to_yaml(a), "again.yaml");
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(b->faults, a.faults);
  EXPECT_EQ(b->swarm, a.swarm);
  auto plain = load_scenario(std::string(CPIPE_SOURCE_DIR) + "/scenarios/swarm.yaml");
  ASSERT_TRUE(plain.ok());
  for (uint64_t seed = 1; seed <= 60; ++seed)
    for (const SimFault& f : swarm_faults(*plain, seed)) {
      EXPECT_NE(f.kind, FaultKind::kKmsError);
      EXPECT_NE(f.kind, FaultKind::kS3Error);
      EXPECT_FALSE(f.during.has_value());
    }
}

// Final answers end the cold start at once: the stage refuses init with the code the client
// mapped the answer to, every request fails with it (never a hang, never tokens), and nothing
// was retried.
TEST(ServiceFaultRunTest, FinalErrorsRefuseWithAnExplicitCodeAndAreNotRetried) {
  struct Case {
    FaultKind kind;
    const char* error;
    const char* code;
  };
  const Case cases[] = {
      {FaultKind::kKmsError, "AccessDeniedException", "KEYS_ACCESS_DENIED"},
      {FaultKind::kKmsError, "KMSInvalidStateException", "FAILED_PRECONDITION"},
      {FaultKind::kS3Error, "NoSuchKey", "NOT_FOUND"},
      {FaultKind::kS3Error, "AccessDenied", "KEYS_STORE_DENIED"},
  };
  for (const Case& c : cases) {
    auto r = run_scenario_seed(with_faults({service_error(c.kind, c.error, 0)}), 1);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(r->ok()) << c.error << "\n" << violations(*r);  // explicit outcomes, run ends
    for (const SimPipelineRequest& q : r->report.requests) {
      EXPECT_EQ(q.code, c.code) << c.error << ": " << q.status;
      EXPECT_TRUE(q.tokens.empty());
    }
    ASSERT_EQ(r->report.boots.size(), 2u) << c.error;
    for (const SimStageBoot& b : r->report.boots) EXPECT_EQ(b.code, c.code) << c.error << ": " << b.status;
    EXPECT_EQ(r->report.kms_retries, 0u) << c.error;
    EXPECT_EQ(r->report.s3_retries, 0u) << c.error;
    EXPECT_GE(r->report.service_errors, 2u) << c.error;  // one per stage at least
    if (std::string(c.error) == "AccessDeniedException") {
      EXPECT_GE(r->report.kms_denied, 2u);
    }
  }
}

// Retryable answers in a burst are retried with backoff: every request gets the fault-free
// answer, and the clients' retry counters account for every injected error.
TEST(ServiceFaultRunTest, RetryableBurstsAreRetriedThrough) {
  const std::pair<FaultKind, const char*> cases[] = {
      {FaultKind::kKmsError, "KMSInternalException"},  {FaultKind::kKmsError, "ThrottlingException"},
      {FaultKind::kKmsError, "DependencyTimeoutException"}, {FaultKind::kS3Error, "InternalError"},
      {FaultKind::kS3Error, "SlowDown"},
  };
  for (const auto& [kind, error] : cases) {
    Scenario s = with_faults({service_error(kind, error, 3)});
    s.expect.all_ok = true;
    auto r = run_scenario_seed(s, 2);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(r->ok()) << error << "\n" << violations(*r);
    EXPECT_EQ(r->report.service_errors, 3u) << error;
    const uint64_t retries = kind == FaultKind::kKmsError ? r->report.kms_retries : r->report.s3_retries;
    EXPECT_EQ(retries, 3u) << error;  // one retry per injected error, none more
    for (const SimStageBoot& b : r->report.boots) EXPECT_EQ(b.code, "OK") << error << ": " << b.status;
  }
}

// A retryable error that outlasts the client's retries still ends explicitly, never a hang:
// after 5 consecutive failed attempts the client's circuit breaker opens and the cold start
// fails fast (UNAVAILABLE, the last KMS error kept in the message).
TEST(ServiceFaultRunTest, AnOutageLongerThanTheRetriesFailsExplicitly) {
  auto r = run_scenario_seed(with_faults({service_error(FaultKind::kKmsError, "KMSInternalException", 0)}), 1);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->ok()) << violations(*r);
  for (const SimPipelineRequest& q : r->report.requests) {
    EXPECT_EQ(q.code, "UNAVAILABLE") << q.status;
    EXPECT_NE(q.status.find("stage 0 refused"), std::string::npos) << q.status;
  }
  for (const SimStageBoot& b : r->report.boots) {
    EXPECT_NE(b.status.find("circuit breaker open"), std::string::npos) << b.status;
    EXPECT_NE(b.status.find("KMSInternalException"), std::string::npos) << b.status;
  }
  EXPECT_EQ(r->report.kms_requests, 10u);  // 2 stages x 5 attempts before the breaker opened
  EXPECT_EQ(r->report.service_errors, 10u);
  // A window that closes in time is ridden out instead.
  auto window = run_scenario_seed(
      with_faults({service_error(FaultKind::kKmsError, "ThrottlingException", 0, 0, 400)}), 1);
  ASSERT_TRUE(window.ok());
  for (const SimPipelineRequest& q : window->report.requests) EXPECT_EQ(q.code, "OK") << q.status;
  EXPECT_GE(window->report.kms_retries, 2u);
}

// "During KMS call": the kill fires after the stage's Decrypt request reached KMS and before
// KMS's answer left; the restarted stage cold-starts again and serves.
TEST(ServiceFaultRunTest, KillDuringTheKmsCallFiresInFlightAndTheStageComesBack) {
  SimFault kill;
  kill.kind = FaultKind::kKill;
  kill.stage = 1;
  kill.during = FaultEvent::kKmsCall;
  kill.duration_ms = 300;
  Scenario s = with_faults({kill});
  s.expect.all_ok = true;
  auto r = run_scenario_seed(s, 3);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->ok()) << violations(*r);
  const SimPipelineReport& rep = r->report;
  ASSERT_EQ(rep.call_triggers.size(), 1u);
  const SimCallTrigger& t = rep.call_triggers[0];
  EXPECT_EQ(t.stage, 1);
  EXPECT_GE(t.arrived_ms, 0);
  EXPECT_EQ(t.fired_ms, t.arrived_ms);  // at the same virtual instant as the arrival
  EXPECT_GT(t.answered_ms, t.fired_ms);  // KMS answered after the caller had died
  ASSERT_EQ(rep.fault_ms.size(), 1u);
  EXPECT_EQ(rep.fault_ms[0], t.fired_ms);
  // Stage 1 booted twice: the killed incarnation's cold start ended with its process, the
  // restarted one's succeeded; stage 0's once.
  std::vector<std::string> stage1;
  for (const SimStageBoot& b : rep.boots)
    if (b.stage == 1) stage1.push_back(b.code);
  EXPECT_EQ(stage1, (std::vector<std::string>{"CANCELLED", "OK"}));
  // The timeline says it in order: the call arrived, the stage died, KMS answered a dead caller.
  int arrived = -1, killed = -1, answered = -1;
  for (size_t i = 0; i < rep.timeline.size(); ++i) {
    const std::string& line = rep.timeline[i];
    if (arrived < 0 && line.find("kms: Decrypt call") != std::string::npos) arrived = int(i);
    if (killed < 0 && line.find("stage1: killed") != std::string::npos) killed = int(i);
    if (answered < 0 && line.find("was killed") != std::string::npos) answered = int(i);
  }
  EXPECT_GE(arrived, 0);
  EXPECT_GT(killed, arrived);
  EXPECT_GT(answered, killed);
  EXPECT_GE(rep.kms_requests, 3u);  // stage 0, the killed stage 1, the restarted stage 1
}

TEST(ServiceFaultRunTest, ShippedScenarioIsDeterministic) {
  Scenario s = shipped();
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    auto a = run_scenario_seed(s, seed);
    auto b = run_scenario_seed(s, seed);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(a->ok()) << violations(*a);
    EXPECT_EQ(a->report.trace_hash, b->report.trace_hash) << "seed " << seed;
    EXPECT_EQ(a->report.unseed, b->report.unseed) << "seed " << seed;
    EXPECT_EQ(a->report.kms_retries, b->report.kms_retries);
    // 3 KMS errors and 2 S3 errors; one KMS error may have gone to the stage killed in its call
    // (a dead process retries nothing).
    EXPECT_EQ(a->report.service_errors, 5u);
    EXPECT_GE(a->report.kms_retries, 2u);
    EXPECT_EQ(a->report.s3_retries, 2u);
    ASSERT_EQ(a->report.call_triggers.size(), 1u);
    EXPECT_GT(a->report.call_triggers[0].answered_ms, a->report.call_triggers[0].fired_ms);
  }
}

}  // namespace
}  // namespace cpipe::cli

// YAML scenarios: the parser's errors (file, line, key; unknown keys), the writer round trip,
// every shipped scenario for several seeds, determinism (one scenario twice per seed, same trace
// hash), swarm draws as a function of the seed, faults that really disturb the run, and the
// shrinker reducing a failing scenario to its cause.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "apps/cpipe/scenario.h"
#include "apps/cpipe/scenario_run.h"
#include "apps/cpipe/scenario_shrink.h"
#include "tests/cli/scenario_test_util.h"

namespace cpipe::cli {
namespace {

using scenario_tests::parse_error;
using scenario_tests::violations;
Scenario load(const std::string& name) { return scenario_tests::load_shipped(name); }

// A fault at a time (at_ms >= 0) or after a forward pass (after > 0); `more` sets the rest.
SimFault fault(FaultKind kind, int stage, double at_ms, int after, double duration_ms,
               const std::function<void(SimFault&)>& more = {}) {
  SimFault f;
  f.kind = kind;
  f.stage = stage;
  if (after > 0) f.after_forwards = after;
  else f.at_ms = at_ms;
  f.duration_ms = duration_ms;
  if (more) more(f);
  return f;
}


TEST(ScenarioParseTest, ErrorsNameFileLineAndKey) {
  std::string e = parse_error("name: a\ntopology:\n  stages: 2\n  stagse: 3\n");
  EXPECT_NE(e.find("SIM_SCENARIO_INVALID"), std::string::npos) << e;
  EXPECT_NE(e.find("x.yaml:4:3"), std::string::npos) << e;
  EXPECT_NE(e.find("'topology.stagse'"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key"), std::string::npos) << e;

  e = parse_error("topology:\n  stages: two\n");
  EXPECT_NE(e.find("x.yaml:2:11"), std::string::npos) << e;
  EXPECT_NE(e.find("'topology.stages'"), std::string::npos) << e;

  e = parse_error("faults:\n  timeline:\n    - {kind: kill, stage: 0, at_ms: 5, action: flip}\n");
  EXPECT_NE(e.find("'faults.timeline[0].action'"), std::string::npos) << e;
  EXPECT_NE(e.find("does not apply to a kill fault"), std::string::npos) << e;

  e = parse_error("faults:\n  timeline:\n    - {kind: kill, stage: 5, at_ms: 5}\n");
  EXPECT_NE(e.find("no such stage"), std::string::npos) << e;
  e = parse_error("faults:\n  timeline:\n    - {kind: kill, stage: 0}\n");
  EXPECT_NE(e.find("at_ms or after_token"), std::string::npos) << e;
  e = parse_error("faults:\n  timeline:\n    - {kind: meteor, stage: 0, at_ms: 1}\n");
  EXPECT_NE(e.find("unknown fault kind"), std::string::npos) << e;
  e = parse_error("expect:\n  invariants: [no_such_thing]\n");
  EXPECT_NE(e.find("unknown invariant"), std::string::npos) << e;
  e = parse_error("costs:\n  nsm_ms: {p0: 90, p50: 45}\n");
  EXPECT_NE(e.find("quantiles"), std::string::npos) << e;
  e = parse_error("topology: [1, 2\n");  // not YAML at all
  EXPECT_NE(e.find("x.yaml:"), std::string::npos) << e;
  e = parse_error("workload:\n  sessions: 2\n  requests: [{prompt: [1]}]\n");
  EXPECT_NE(e.find("not with an explicit requests list"), std::string::npos) << e;
}

TEST(ScenarioParseTest, WorkloadExpandsAndDefaultsAreNitroFigures) {
  auto s = parse_scenario(
      "workload:\n  sessions: 2\n  requests_per_session: 3\n  prompts: [[1, 2], [3]]\n  tokens: 4\n"
      "  arrival_gap_ms: 50\n",
      "w.yaml");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  ASSERT_EQ(s->requests.size(), 6u);
  EXPECT_EQ(s->requests[4].session, 1);
  EXPECT_EQ(s->requests[4].at_ms, 50);
  EXPECT_EQ(s->requests[1].prompt, (std::vector<int32_t>{3}));
  EXPECT_EQ(s->requests[2].prompt, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(s->nsm_ms.p0, 45);
  EXPECT_EQ(s->nsm_ms.p100, 90);
  EXPECT_EQ(s->kms_ms.p50, 120);
  EXPECT_EQ(s->kms_ms.p99, 500);
  EXPECT_DOUBLE_EQ(s->link_rtt_ms, 0.17);
  EXPECT_DOUBLE_EQ(s->compute_ms_per_layer_token, 3.5);
}

TEST(ScenarioParseTest, WrittenYamlReadsBackEqual) {
  for (const char* name : {"stage-crash-restart.yaml", "host-tamper-data.yaml", "swarm.yaml", "session-limit.yaml"}) {
    Scenario a = load(name);
    // Swarm draws and every fault kind's keys go through the writer too.
    for (uint64_t seed = 1; seed <= 20; ++seed)
      for (const SimFault& f : swarm_faults(a, seed)) a.faults.push_back(f);
    auto b = parse_scenario(scenario_to_yaml(a), a.source);
    ASSERT_TRUE(b.ok()) << name << ": " << b.status().to_string() << "\n" << scenario_to_yaml(a);
    EXPECT_EQ(b->faults, a.faults) << name;
    EXPECT_EQ(b->requests, a.requests) << name;
    EXPECT_EQ(b->swarm, a.swarm) << name;
    EXPECT_EQ(b->expect, a.expect) << name;
    EXPECT_EQ(b->stages, a.stages) << name;
    EXPECT_EQ(b->nsm_ms, a.nsm_ms) << name;
    EXPECT_EQ(b->session_limit, a.session_limit) << name;
    EXPECT_EQ(b->greedy_in_last_stage, a.greedy_in_last_stage) << name;
  }
}

TEST(ScenarioSwarmTest, DrawsArePureFunctionsOfTheSeed) {
  Scenario s = load("swarm.yaml");
  std::set<FaultKind> kinds;
  size_t differing = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    auto a = swarm_faults(s, seed);
    EXPECT_EQ(a, swarm_faults(s, seed));
    EXPECT_GE(a.size(), 1u);
    EXPECT_LE(a.size(), size_t(s.swarm->max_faults));
    if (a != swarm_faults(s, seed + 1)) ++differing;
    for (const SimFault& f : a) kinds.insert(f.kind);
  }
  EXPECT_EQ(kinds.size(), std::size(kAllFaultKinds));  // 60 seeds reach every kind
  EXPECT_GE(differing, 55u);
}

// Every shipped scenario passes for several seeds.
class ShippedScenarioTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ShippedScenarioTest, PassesForSeveralSeeds) {
  Scenario s = load(GetParam());
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    auto r = run_scenario_seed(s, seed);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(r->ok()) << GetParam() << " seed " << seed << "\n" << violations(*r);
    EXPECT_FALSE(r->report.trace_hash.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ShippedScenarioTest,
                         ::testing::Values("nitro-2stage-happy.yaml", "stage-crash-restart.yaml",
                                           "host-tamper-data.yaml", "partition-heals.yaml",
                                           "session-limit.yaml", "rogue-enclave.yaml", "kms-spike-throttle.yaml",
                                           "kms-s3-errors.yaml", "swarm.yaml", "sev-snp-2stage.yaml"),
                         [](const auto& info) {
                           std::string n = info.param;
                           n = n.substr(0, n.find('.'));
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(ScenarioDeterminismTest, SameSeedSameTraceHashTwice) {
  Scenario s = load("stage-crash-restart.yaml");
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    auto a = run_scenario_seed(s, seed);
    auto b = run_scenario_seed(s, seed);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->report.trace_hash, b->report.trace_hash) << "seed " << seed;
    EXPECT_EQ(a->report.unseed, b->report.unseed) << "seed " << seed;
  }
  auto one = run_scenario_seed(s, 1), two = run_scenario_seed(s, 2);
  EXPECT_NE(one->report.trace_hash, two->report.trace_hash);
}

TEST(ScenarioDeterminismTest, TraceOutputIsJsonLinesAndIncludesTheFault) {
  Scenario s = load("stage-crash-restart.yaml");
  std::stringstream trace;
  auto r = run_scenario_seed(s, 1, &trace);
  ASSERT_TRUE(r.ok());
  std::string line;
  int lines = 0;
  bool saw_fault = false;
  while (std::getline(trace, line)) {
    ++lines;
    ASSERT_EQ(line.front(), '{');
    ASSERT_EQ(line.back(), '}');
    saw_fault = saw_fault || line.find("kill stage1 after forward 4") != std::string::npos;
  }
  EXPECT_GT(lines, 100);
  EXPECT_TRUE(saw_fault);
}

// Faults really disturb: the same workload without faults and with each kind differs in what
// the orchestrator saw.
TEST(ScenarioFaultTest, EachKindLeavesAMark) {
  Scenario base = load("partition-heals.yaml");
  base.faults.clear();
  base.expect = {};
  auto clean = run_scenario_seed(base, 1);
  ASSERT_TRUE(clean.ok());
  ASSERT_TRUE(clean->ok());
  EXPECT_EQ(clean->report.pipeline_failures, 0u);
  struct Case {
    SimFault fault;
    bool breaks;  // the pipeline must break (and recover)
  };
  auto tamper = [](TamperAction a, TamperChannel c, int skip = 2) {
    return [a, c, skip](SimFault& f) {
      f.action = a;
      f.channel = c;
      f.skip_segments = skip;
    };
  };
  std::vector<Case> cases = {
      {fault(FaultKind::kReset, 1, 0, 2, -1), true},
      {fault(FaultKind::kStall, 0, 0, 2, 1000), true},
      {fault(FaultKind::kTamper, 1, 0, 0, -1, tamper(TamperAction::kReorder, TamperChannel::kDataIn)), true},
      {fault(FaultKind::kTamper, 0, 0, 0, -1, tamper(TamperAction::kReplay, TamperChannel::kDataOut)), true},
      {fault(FaultKind::kTamper, 1, 0, 0, -1, tamper(TamperAction::kInject, TamperChannel::kDataIn)), true},
      {fault(FaultKind::kTamper, 1, 0, 0, -1, tamper(TamperAction::kDrop, TamperChannel::kDataIn)), true},
      {fault(FaultKind::kLinkLatency, 1, 0, 0, -1, [](SimFault& f) { f.latency_ms = 30; }), false},
      {fault(FaultKind::kBandwidth, 0, 0, 0, -1, [](SimFault& f) { f.bandwidth_bytes_per_s = 50'000; }), false},
  };
  for (const Case& c : cases) {
    Scenario s = base;
    s.faults = {c.fault};
    auto r = run_scenario_seed(s, 1);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(r->ok()) << describe_fault(c.fault) << "\n" << violations(*r);
    EXPECT_NE(r->report.trace_hash, clean->report.trace_hash) << describe_fault(c.fault);
    if (c.breaks) EXPECT_GE(r->report.pipeline_failures, 1u) << describe_fault(c.fault);
    else EXPECT_GT(r->report.virtual_ms, clean->report.virtual_ms) << describe_fault(c.fault);
  }
}

TEST(ScenarioFaultTest, NsmFailureDelaysTheRestartedStagesAttestation) {
  Scenario s = load("partition-heals.yaml");
  s.expect = {};
  s.faults = {fault(FaultKind::kKill, 1, 0, 2, 100)};
  auto kill_only = run_scenario_seed(s, 1);
  s.faults.push_back(fault(FaultKind::kNsmFail, 1, 0, 2, 1500));
  auto kill_and_nsm = run_scenario_seed(s, 1);
  ASSERT_TRUE(kill_only.ok() && kill_and_nsm.ok());
  EXPECT_TRUE(kill_only->ok());
  EXPECT_TRUE(kill_and_nsm->ok());
  for (const auto& q : kill_and_nsm->report.requests) EXPECT_EQ(q.code, "OK") << q.status;
  // The restarted stage cannot attest until the NSM is back: recovery takes about 1.4 s longer.
  EXPECT_GT(kill_and_nsm->report.recovery_ms, kill_only->report.recovery_ms + 1000);
}

TEST(ScenarioFaultTest, ClockJumpOnTheOrchestratorFailsAttestationExplicitly) {
  Scenario s = load("partition-heals.yaml");
  s.faults = {fault(FaultKind::kClockJump, -1, 0, 0, -1, [](SimFault& f) { f.jump_ms = 10.0 * 365 * 86400 * 1000; })};
  s.expect = {};
  s.recovery_timeout_ms = 1000;
  auto r = run_scenario_seed(s, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok());
  for (const auto& q : r->report.requests) {
    EXPECT_NE(q.code, "OK");
    EXPECT_TRUE(q.tokens.empty());
  }
}

TEST(ScenarioShrinkTest, ReducesToTheFaultThatBreaksTheExpectation) {
  // A stage that never comes back, among harmless faults, with several requests: "all_ok" fails.
  Scenario s = load("partition-heals.yaml");
  s.faults = {
      fault(FaultKind::kLinkLatency, 0, 0, 0, 300, [](SimFault& f) { f.latency_ms = 2; }),
      fault(FaultKind::kKill, 1, 0, 3, -1),
      fault(FaultKind::kClockSkew, 0, 10, 0, -1, [](SimFault& f) { f.skew_ppm = 100; }),
  };
  s.recovery_timeout_ms = 500;
  s.expect = {};
  s.expect.all_ok = true;
  s.expect.invariants = {"run_completes"};
  auto r = shrink_scenario(s, 4);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->invariant, "all_ok");
  ASSERT_EQ(r->minimal.faults.size(), 1u);
  EXPECT_EQ(r->minimal.faults[0].kind, FaultKind::kKill);
  EXPECT_EQ(r->minimal.requests.size(), 1u);
  EXPECT_EQ(r->minimal.stages, 1);  // the kill moves to the only stage, and still fails
  EXPECT_LT(r->minimal.requests[0].max_new_tokens, 6);
  // The written scenario reads back and fails the same way with the same seed.
  auto back = parse_scenario(scenario_to_yaml(r->minimal), "min.yaml");
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  auto again = run_scenario_seed(*back, 4);
  ASSERT_TRUE(again.ok());
  ASSERT_FALSE(again->ok());
  EXPECT_EQ(again->violations[0].invariant, "all_ok");
  // A passing seed has nothing to shrink.
  EXPECT_FALSE(shrink_scenario(load("partition-heals.yaml"), 1).ok());
}

}  // namespace
}  // namespace cpipe::cli

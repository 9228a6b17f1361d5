// Scenario platforms (topology.platform): sev-snp runs the whole pipeline on simulated SEV-SNP
// guests checked by the real SNP verifier (same answers as nitro, rogue image refused,
// deterministic), local runs on the DEVELOPMENT-ONLY mock-dev attestation and says so, and
// sealed delivery is refused off nitro (the simulated KMS releases keys only to Nitro documents).
#include <gtest/gtest.h>

#include "apps/cpipe/scenario.h"
#include "apps/cpipe/scenario_run.h"
#include "apps/cpipe/sim_pipeline_session.h"
#include "tests/cli/scenario_test_util.h"

namespace cpipe::cli {
namespace {

Scenario load(const std::string& name) { return scenario_tests::load_shipped(name); }

// sev-snp-2stage.yaml without its faults, on `platform` with that platform's default latency.
Scenario quiet_on(const std::string& platform) {
  Scenario s = load("sev-snp-2stage.yaml");
  s.faults.clear();
  s.expect = {};
  s.expect.all_ok = true;
  s.platform = platform;
  s.nsm_ms = platform == "nitro" ? Scenario{}.nsm_ms : platform == "local" ? SimLatencyMs{1, 1, 1, 1}
                                                                           : SimLatencyMs{2, 3, 5, 8};
  return s;
}

std::string why(const ScenarioSeedResult& r) { return scenario_tests::violations(r); }

TEST(ScenarioPlatformTest, SevSnpAndLocalGiveTheNitroAnswers) {
  auto nitro = run_scenario_seed(quiet_on("nitro"), 4);
  auto snp = run_scenario_seed(quiet_on("sev-snp"), 4);
  auto local = run_scenario_seed(quiet_on("local"), 4);
  ASSERT_TRUE(nitro.ok() && snp.ok() && local.ok());
  EXPECT_TRUE(nitro->ok()) << why(*nitro);
  EXPECT_TRUE(snp->ok()) << why(*snp);
  EXPECT_TRUE(local->ok()) << why(*local);
  // What the orchestrator verified, by name.
  EXPECT_EQ(nitro->report.stage_platform, "sim-nitro");
  EXPECT_EQ(snp->report.stage_platform, "sim-sev-snp");
  EXPECT_EQ(local->report.stage_platform, "mock-dev");
  ASSERT_EQ(snp->report.requests.size(), 4u);
  ASSERT_EQ(nitro->report.requests.size(), snp->report.requests.size());
  ASSERT_EQ(local->report.requests.size(), snp->report.requests.size());
  for (size_t i = 0; i < snp->report.requests.size(); ++i) {
    EXPECT_EQ(snp->report.requests[i].code, "OK") << snp->report.requests[i].status;
    EXPECT_EQ(snp->report.requests[i].tokens.size(), 6u);
    EXPECT_EQ(snp->report.requests[i].tokens, nitro->report.requests[i].tokens) << "request " << i;
    EXPECT_EQ(local->report.requests[i].tokens, nitro->report.requests[i].tokens) << "request " << i;
  }
  EXPECT_FALSE(snp->report.host_saw_plaintext);
  // SNP_GET_EXT_REPORT takes milliseconds, the NSM tens of them: the pipeline is up sooner.
  EXPECT_LT(snp->report.setup_ms, nitro->report.setup_ms);
  // mock-dev is named as development-only where the run is reported.
  bool named = false;
  for (const std::string& line : local->report.timeline) named = named || line.find("DEVELOPMENT ONLY") != std::string::npos;
  EXPECT_TRUE(named);
}

TEST(ScenarioPlatformTest, RogueStageIsRefusedOnSevSnp) {
  Scenario s = load("rogue-enclave.yaml");
  s.platform = "sev-snp";
  s.nsm_ms = {2, 3, 5, 8};
  auto r = run_scenario_seed(s, 1);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->ok()) << why(*r);  // only_pinned_enclaves holds
  EXPECT_EQ(r->report.pipelines_built, 0u);
  ASSERT_FALSE(r->report.requests.empty());
  for (const auto& q : r->report.requests) EXPECT_NE(q.code, "OK");
  // Refused by the SEV-SNP verifier for its launch measurement.
  bool measured = false;
  for (const std::string& line : r->report.timeline)
    measured = measured || line.find("ATTEST_MEASUREMENT_MISMATCH") != std::string::npos;
  for (const auto& q : r->report.requests)
    measured = measured || q.status.find("ATTEST_MEASUREMENT_MISMATCH") != std::string::npos;
  EXPECT_TRUE(measured);
}

// nsm_fail on an SNP guest: its firmware fails every request, so the restarted stage attests
// (and the pipeline recovers) only once the fault is over.
TEST(ScenarioPlatformTest, FirmwareFailureDelaysTheRestartedGuestsAttestation) {
  Scenario with = load("sev-snp-2stage.yaml");
  Scenario without = with;
  std::erase_if(without.faults, [](const SimFault& f) { return f.kind == FaultKind::kNsmFail; });
  ASSERT_EQ(without.faults.size() + 1, with.faults.size());
  auto a = run_scenario_seed(with, 1), b = run_scenario_seed(without, 1);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->ok()) << why(*a);
  EXPECT_TRUE(b->ok()) << why(*b);
  EXPECT_GT(a->report.recovery_ms, b->report.recovery_ms + 400);
}

TEST(ScenarioPlatformTest, SevSnpIsDeterministic) {
  Scenario s = load("sev-snp-2stage.yaml");
  std::vector<std::string> hashes;
  for (uint64_t seed : {1u, 2u}) {
    auto a = run_scenario_seed(s, seed);
    auto b = run_scenario_seed(s, seed);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->report.trace_hash, b->report.trace_hash) << "seed " << seed;
    EXPECT_EQ(a->report.unseed, b->report.unseed) << "seed " << seed;
    hashes.push_back(a->report.trace_hash);
  }
  EXPECT_NE(hashes[0], hashes[1]);
}

TEST(ScenarioPlatformTest, SealedAndReceiptsNeedNitro) {
  auto e = parse_scenario("topology:\n  platform: sev-snp\n  sealed: true\n  host_proxy: true\n", "x.yaml");
  ASSERT_FALSE(e.ok());
  std::string m = e.status().to_string();
  EXPECT_NE(m.find("x.yaml:3:"), std::string::npos) << m;
  EXPECT_NE(m.find("'topology.sealed'"), std::string::npos) << m;
  EXPECT_NE(m.find("simulated KMS"), std::string::npos) << m;
  EXPECT_NE(m.find("sev-snp"), std::string::npos) << m;
  e = parse_scenario("topology:\n  platform: local\n  receipts: true\n", "x.yaml");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().to_string().find("'topology.receipts'"), std::string::npos) << e.status().to_string();
  e = parse_scenario("topology:\n  platform: tdx\n", "x.yaml");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().to_string().find("must be nitro, sev-snp or local"), std::string::npos);

  // Each platform's attestation latency by default; an explicit costs.nsm_ms wins.
  auto snp = parse_scenario("topology:\n  platform: sev-snp\n", "x.yaml");
  ASSERT_TRUE(snp.ok()) << snp.status().to_string();
  EXPECT_EQ(snp->nsm_ms.p50, 3);
  auto pinned = parse_scenario("topology:\n  platform: sev-snp\ncosts:\n  nsm_ms: {p0: 9, p50: 9, p99: 9, p100: 9}\n", "x.yaml");
  ASSERT_TRUE(pinned.ok()) << pinned.status().to_string();
  EXPECT_EQ(pinned->nsm_ms.p50, 9);

  // The writer keeps the platform and its latency (`cpipe sim shrink` output replays the same run).
  for (const std::string platform : {"sev-snp", "local"}) {
    Scenario a = quiet_on(platform);
    auto b = parse_scenario(scenario_to_yaml(a), "w.yaml");
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    EXPECT_EQ(b->platform, platform);
    EXPECT_EQ(b->nsm_ms, a.nsm_ms);
  }

  // The session refuses the combination too (`cpipe sim pipeline --platform sev-snp --sealed`).
  SimPipelineOptions o;
  o.platform = "sev-snp";
  o.sealed = true;
  o.prompt = {464, 2068};
  auto r = run_sim_pipeline(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::INVALID_ARGUMENT);
  EXPECT_NE(r.status().message().find("Nitro"), std::string::npos) << r.status().to_string();
}

}  // namespace
}  // namespace cpipe::cli

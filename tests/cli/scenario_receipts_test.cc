// Scenario workloads with text prompts, and the receipts_verify invariant: every answer's
// receipt verifies against a stage 0 boot's simulated Nitro evidence and hashes exactly what was
// sent and returned — across a stage 0 restart (new key, new evidence) too — and a receipt that
// was altered, or that belongs to another request, fails the check.
#include <gtest/gtest.h>

#include "apps/cpipe/scenario.h"
#include "apps/cpipe/scenario_receipts.h"
#include "apps/cpipe/scenario_run.h"
#include "tests/cli/scenario_test_util.h"

namespace cpipe::cli {
namespace {

constexpr const char* kReceiptScenario = R"(name: receipts
topology:
  stages: 2
  model: {preset: tiny, seed: 7}
  receipts: true
workload:
  sessions: 1
  requests_per_session: 3
  prompts: ["The quick brown fox", [40, 1101, 257]]
  tokens: 5
)";

using scenario_tests::violations;

Scenario parse(const std::string& yaml) { return scenario_tests::parse_yaml(yaml, "receipts.yaml"); }

TEST(ScenarioTextPromptTest, TextIsTokenizedWithTheModelsTokenizer) {
  Scenario s = parse(kReceiptScenario);
  ASSERT_EQ(s.requests.size(), 3u);
  EXPECT_EQ(s.requests[0].prompt_text, "The quick brown fox");
  EXPECT_TRUE(s.requests[0].prompt.empty());
  EXPECT_EQ(s.requests[1].prompt, (std::vector<int32_t>{40, 1101, 257}));
  auto resolved = resolve_text_prompts(s);
  ASSERT_TRUE(resolved.ok()) << resolved.status().to_string();
  // GPT-2's ids for "The", " quick", " brown", " fox".
  EXPECT_EQ(resolved->requests[0].prompt, (std::vector<int32_t>{464, 2068, 7586, 21831}));
  EXPECT_EQ(resolved->requests[2].prompt, resolved->requests[0].prompt);
  EXPECT_EQ(resolved->requests[1].prompt, s.requests[1].prompt);
}

TEST(ScenarioTextPromptTest, TextPromptsAndReceiptsSurviveTheWriter) {
  Scenario s = parse(kReceiptScenario);
  auto back = parse_scenario(scenario_to_yaml(s), "back.yaml");
  ASSERT_TRUE(back.ok()) << back.status().to_string() << "\n" << scenario_to_yaml(s);
  EXPECT_EQ(back->requests, s.requests);
  EXPECT_TRUE(back->receipts);
  EXPECT_NE(parse_scenario("workload:\n  prompts: [\"\"]\n", "x.yaml").status().to_string().find("workload.prompts[0]"),
            std::string::npos);
}

TEST(ScenarioReceiptsTest, EveryAnswerCarriesAReceiptThatVerifies) {
  Scenario s = parse(kReceiptScenario);
  auto checks = checked_invariants(s);
  EXPECT_NE(std::find(checks.begin(), checks.end(), "receipts_verify"), checks.end());
  auto r = run_scenario_seed(s, 3);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->ok()) << violations(*r);
  ASSERT_EQ(r->report.requests.size(), 3u);
  ASSERT_EQ(r->report.receipt_signers.size(), 1u);
  for (const auto& q : r->report.requests) {
    EXPECT_EQ(q.code, "OK");
    EXPECT_FALSE(q.receipt.empty());
  }
}

TEST(ScenarioReceiptsTest, AnAlteredOrMisattributedReceiptFailsTheCheck) {
  Scenario s = parse(kReceiptScenario);
  auto resolved = resolve_text_prompts(s);
  ASSERT_TRUE(resolved.ok());
  auto r = run_scenario_seed(s, 4);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const SimPipelineReport& report = r->report;
  auto signers = receipt_signer_evidence(report);
  ASSERT_TRUE(signers.ok()) << signers.status().to_string();
  const SimWorkItem& item = resolved->requests[0];
  const SimPipelineRequest& answer = report.requests[0];
  ASSERT_TRUE(check_request_receipt(report, *signers, item, answer).ok());

  // Any byte of the receipt flipped (a stride keeps the test quick).
  for (size_t i = 0; i < answer.receipt.size(); i += 7) {
    SimPipelineRequest bad = answer;
    bad.receipt[i] ^= 0x01;
    EXPECT_FALSE(check_request_receipt(report, *signers, item, bad).ok()) << "byte " << i;
  }
  // The receipt of request 0 presented for request 1 (another prompt): its request hash differs.
  EXPECT_FALSE(check_request_receipt(report, *signers, resolved->requests[1], answer).ok());
  // Other tokens than those the receipt covers.
  SimPipelineRequest other = answer;
  other.tokens.back() ^= 1;
  Status st = check_request_receipt(report, *signers, item, other);
  EXPECT_EQ(st.code(), ErrorCode::RECEIPT_INVALID);
  EXPECT_NE(st.message().find("response_hash"), std::string::npos) << st.to_string();
  // No receipt at all.
  SimPipelineRequest none = answer;
  none.receipt.clear();
  EXPECT_EQ(check_request_receipt(report, *signers, item, none).code(), ErrorCode::RECEIPT_INVALID);
}

TEST(ScenarioReceiptsTest, ReceiptsFromBeforeAndAfterAStage0RestartBothVerify) {
  Scenario s = parse(kReceiptScenario);
  SimFault kill;
  kill.kind = FaultKind::kKill;
  kill.stage = 0;
  kill.after_forwards = 7;  // inside the second request
  kill.duration_ms = 300;
  s.faults = {kill};
  auto r = run_scenario_seed(s, 5);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->ok()) << violations(*r);
  EXPECT_GE(r->report.pipeline_failures, 1u);
  // Two boots of stage 0 signed, with different keys: receipts come from both.
  ASSERT_EQ(r->report.receipt_signers.size(), 2u);
  EXPECT_NE(r->report.receipt_signers[0].evidence, r->report.receipt_signers[1].evidence);
}

}  // namespace
}  // namespace cpipe::cli

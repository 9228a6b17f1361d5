// The pipeline end to end in the simulator, on a synthesized tiny GPT-2: the same tokens and
// bit-identical logits for any stage count, no KV state carried between requests, concurrent
// sessions and the session limit, recovery from a killed or cut-off stage, fail-closed on a
// tampering host or a stage with the wrong enclave or weights, no plaintext on the host, and
// replay by seed.
#include <gtest/gtest.h>

#include <cstring>

#include "apps/cpipe/model_source.h"
#include "apps/cpipe/sim_pipeline_session.h"
#include "model/gpt2.h"

namespace cpipe::cli {
namespace {

const std::vector<int32_t> kPromptA = {464, 2068, 7586, 21831};  // "The quick brown fox"
const std::vector<int32_t> kPromptB = {40, 1101, 257, 1332, 286, 262, 3288};

class SimPipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dir = resolve_model_dir("", "tiny", 7);
    ASSERT_TRUE(dir.ok()) << dir.status().to_string();
    model_dir_ = new std::string(*dir);
  }
  static SimPipelineOptions options(int stages) {
    SimPipelineOptions o;
    o.model_dir = *model_dir_;
    o.stages = stages;
    o.prompt = kPromptA;
    o.max_new_tokens = 6;
    return o;
  }
  static SimPipelineReport run(const SimPipelineOptions& o) {
    auto r = run_sim_pipeline(o);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : SimPipelineReport{};
  }
  // The reference: the whole model in one process, no pipeline, greedy.
  static std::vector<int32_t> reference(const std::vector<int32_t>& prompt, int n) {
    model::Gpt2Options mo;
    mo.threads = 1;
    auto m = model::Gpt2Model::load(*model_dir_, mo);
    EXPECT_TRUE(m.ok());
    auto seq = (*m)->new_sequence();
    std::vector<int32_t> out, in = prompt;
    for (int i = 0; i < n; ++i) {
      auto logits = (*m)->forward(*seq, in);
      EXPECT_TRUE(logits.ok());
      int32_t best = 0;
      for (size_t v = 1; v < logits->size(); ++v)
        if ((*logits)[v] > (*logits)[size_t(best)]) best = int32_t(v);
      out.push_back(best);
      in = {best};
    }
    return out;
  }
  static std::string* model_dir_;
};
std::string* SimPipelineTest::model_dir_ = nullptr;

TEST_F(SimPipelineTest, OneTwoThreeStagesGiveIdenticalTokensAndBitIdenticalLogits) {
  std::vector<SimPipelineReport> reports;
  for (int stages : {1, 2, 3}) {
    SimPipelineOptions o = options(stages);
    o.keep_logits = true;
    reports.push_back(run(o));
    ASSERT_EQ(reports.back().requests.size(), 1u);
    ASSERT_EQ(reports.back().requests[0].code, "OK") << reports.back().requests[0].status;
  }
  const auto& base = reports[0].requests[0];
  EXPECT_EQ(base.tokens, reference(kPromptA, 6));
  for (size_t k = 1; k < reports.size(); ++k) {
    const auto& other = reports[k].requests[0];
    EXPECT_EQ(other.tokens, base.tokens) << k + 1 << " stages";
    ASSERT_EQ(other.logits.size(), base.logits.size());
    for (size_t t = 0; t < base.logits.size(); ++t) {
      ASSERT_EQ(other.logits[t].size(), base.logits[t].size());
      EXPECT_EQ(std::memcmp(other.logits[t].data(), base.logits[t].data(),
                            base.logits[t].size() * sizeof(float)), 0)
          << k + 1 << " stages, token " << t;
    }
  }
}

TEST_F(SimPipelineTest, GreedyInTheLastStageGivesTheSameTokens) {
  SimPipelineOptions o = options(2);
  SimPipelineReport logits_back = run(o);
  o.greedy_in_last_stage = true;
  SimPipelineReport token_back = run(o);
  ASSERT_EQ(token_back.requests[0].code, "OK") << token_back.requests[0].status;
  EXPECT_EQ(token_back.requests[0].tokens, logits_back.requests[0].tokens);
  EXPECT_LT(token_back.relayed_bytes, logits_back.relayed_bytes / 4);  // no logits cross back
}

TEST_F(SimPipelineTest, SequentialRequestsDoNotLeakKvState) {
  // B after A (and A again after B) must equal B alone and A alone, in every stage.
  SimPipelineOptions o = options(3);
  o.prompts = {kPromptA, kPromptB, kPromptA};
  o.requests = 3;
  SimPipelineReport mixed = run(o);
  ASSERT_EQ(mixed.requests.size(), 3u);
  for (const auto& q : mixed.requests) ASSERT_EQ(q.code, "OK") << q.status;
  EXPECT_EQ(mixed.requests[0].tokens, reference(kPromptA, 6));
  EXPECT_EQ(mixed.requests[1].tokens, reference(kPromptB, 6));
  EXPECT_EQ(mixed.requests[2].tokens, mixed.requests[0].tokens);
}

TEST_F(SimPipelineTest, ConcurrentSessionsOverlapAcrossStages) {
  SimPipelineOptions seq = options(2);
  seq.requests = 4;
  SimPipelineReport one_by_one = run(seq);
  SimPipelineOptions par = options(2);
  par.concurrency = 4;
  SimPipelineReport together = run(par);
  ASSERT_EQ(together.requests.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_EQ(together.requests[i].code, "OK") << together.requests[i].status;
    EXPECT_EQ(together.requests[i].tokens, one_by_one.requests[0].tokens);
  }
  // Virtual time: while stage 1 works on one session, stage 0 works on another, so four
  // sessions at once finish well before four in a row (the saving is pipeline parallelism).
  double seq_work = one_by_one.virtual_ms - one_by_one.setup_ms;
  double par_work = together.virtual_ms - together.setup_ms;
  EXPECT_LT(par_work, 0.75 * seq_work) << par_work << " vs " << seq_work;
}

TEST_F(SimPipelineTest, SessionsBeyondTheLimitGetResourceExhausted) {
  SimPipelineOptions o = options(2);
  o.session_limit = 3;
  o.concurrency = 5;
  SimPipelineReport r = run(o);
  int ok = 0, refused = 0;
  for (const auto& q : r.requests) {
    if (q.code == "OK") ++ok;
    if (q.code == "RESOURCE_EXHAUSTED") ++refused;
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(refused, 2);
}

TEST_F(SimPipelineTest, KilledStageIsDetectedRestartedReattestedAndTheRequestCompletes) {
  SimPipelineOptions o = options(3);
  o.kill_stage = 1;
  o.kill_after_forwards = 3;  // mid-generation: prefill and two decode steps done
  o.restart_after_ms = 400;
  SimPipelineReport r = run(o);
  ASSERT_EQ(r.requests[0].code, "OK") << r.requests[0].status;
  EXPECT_EQ(r.requests[0].tokens, reference(kPromptA, 6));
  EXPECT_GE(r.requests[0].attempts, 2);
  EXPECT_GE(r.pipelines_built, 2u);  // the restarted stage went through set-up (attestation) again
  EXPECT_GE(r.detect_ms, 0);
  EXPECT_LE(r.detect_ms, 400 + 1);  // connection loss: at once; bound: health interval + timeout
}

TEST_F(SimPipelineTest, StageThatNeverComesBackGivesAnExplicitError) {
  SimPipelineOptions o = options(2);
  o.kill_stage = 0;
  o.restart_after_ms = -1;
  o.recovery_timeout_ms = 1500;
  SimPipelineReport r = run(o);
  EXPECT_EQ(r.requests[0].code, "UNAVAILABLE") << r.requests[0].status;
  EXPECT_TRUE(r.requests[0].tokens.empty());
}

TEST_F(SimPipelineTest, CutOffStageIsCaughtByHealthChecksAndRecoversAfterHealing) {
  SimPipelineOptions o = options(2);
  o.partition_stage = 1;
  o.kill_after_forwards = 2;
  o.partition_ms = 800;
  SimPipelineReport r = run(o);
  ASSERT_EQ(r.requests[0].code, "OK") << r.requests[0].status;
  EXPECT_EQ(r.requests[0].tokens, reference(kPromptA, 6));
  // No reset reaches anyone: only the health check (200 ms interval + 200 ms timeout) can tell.
  EXPECT_GT(r.detect_ms, 0);
  EXPECT_LE(r.detect_ms, 400 + 1);
}

TEST_F(SimPipelineTest, TamperingHostMakesTheRequestFailClosed) {
  SimPipelineOptions o = options(2);
  o.tamper_stage1_data = true;
  o.recovery_timeout_ms = 2000;
  SimPipelineReport r = run(o);
  EXPECT_NE(r.requests[0].code, "OK");
  EXPECT_TRUE(r.requests[0].code == "PIPELINE_STAGE_FAILED" || r.requests[0].code == "UNAVAILABLE")
      << r.requests[0].status;
  EXPECT_TRUE(r.requests[0].tokens.empty());
  EXPECT_FALSE(r.host_saw_plaintext);
  // The stage that caught it says so on its control channel: the client's error names the
  // stage and the record layer's verdict, not merely a lost result channel.
  EXPECT_NE(r.requests[0].status.find("stage 1 reported data_in: CHANNEL_BAD_TAG"), std::string::npos)
      << r.requests[0].status;
}

TEST_F(SimPipelineTest, RogueEnclaveImageIsRefusedAtSetUp) {
  SimPipelineOptions o = options(2);
  o.rogue_stage = 1;
  o.recovery_timeout_ms = 1000;
  SimPipelineReport r = run(o);
  EXPECT_NE(r.requests[0].code, "OK");
  EXPECT_NE(r.requests[0].status.find("ATTEST_MEASUREMENT_MISMATCH"), std::string::npos)
      << r.requests[0].status;
  EXPECT_EQ(r.pipelines_built, 0u);
}

TEST_F(SimPipelineTest, PinnedWeightsAreEnforced) {
  SimPipelineOptions o = options(2);
  o.pin_weights = true;
  SimPipelineReport good = run(o);
  EXPECT_EQ(good.requests[0].code, "OK") << good.requests[0].status;
  o.wrong_weight_pin = true;
  SimPipelineReport bad = run(o);
  EXPECT_NE(bad.requests[0].status.find("PIPELINE_WEIGHT_HASH_MISMATCH"), std::string::npos)
      << bad.requests[0].status;
}

TEST_F(SimPipelineTest, HostSeesNoPlaintextAndRunsReplayBySeed) {
  SimPipelineOptions o = options(2);
  SimPipelineReport a = run(o), b = run(o);
  EXPECT_FALSE(a.host_saw_plaintext);
  EXPECT_GT(a.relayed_bytes, 0u);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.unseed, b.unseed);
  o.seed = 2;
  SimPipelineReport c = run(o);
  EXPECT_NE(c.trace_hash, a.trace_hash);
  EXPECT_EQ(c.requests[0].tokens, a.requests[0].tokens);  // the seed changes timing, not answers
}

}  // namespace
}  // namespace cpipe::cli

// The pipeline as real processes over loopback TCP: `cpipe stage` children (the synthesized tiny
// GPT-2, mock-dev attestation) driven by the orchestrator in this process. Outputs must equal the
// simulator's bit for bit; a stage SIGKILLed mid-generation and restarted must lead to the
// correct output or an explicit error code, never a hang; the stage process refuses a manifest
// that does not fit the model; `cpipe up --latency-out` writes the latency fields.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/cpipe/local_pipeline.h"
#include "apps/cpipe/model_source.h"
#include "apps/cpipe/scenario.h"
#include "apps/cpipe/sim_pipeline_session.h"

namespace cpipe::cli {
namespace {

const std::vector<int32_t> kPrompt = {464, 2068, 7586, 21831};

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/cpipe-mp-" + std::to_string(::getpid()) + "-" + name;
}

struct LocalPipeline {
  explicit LocalPipeline(int stages) {
    auto dir = resolve_model_dir("", "tiny");
    EXPECT_TRUE(dir.ok()) << dir.status().to_string();
    model_dir = *dir;
    LocalManifestOptions mo;
    mo.model_dir = model_dir;
    mo.stages = stages;
    auto m = make_local_manifest(mo);
    EXPECT_TRUE(m.ok()) << m.status().to_string();
    manifest = *m;
    manifest_path = temp_path("manifest-" + std::to_string(stages) + ".json");
    EXPECT_TRUE(write_text_file(manifest_path, manifest.to_json()).ok());
    options.program = CPIPE_BINARY;
    options.manifest_path = manifest_path;
    options.model_dir = model_dir;
    options.threads = 1;
  }
  ~LocalPipeline() {
    stop_stages(children, 3000);
    std::remove(manifest_path.c_str());
  }
  // All stages; `extra[i]` are additional arguments for stage i.
  void start(std::map<int, std::vector<std::string>> extra = {}) {
    for (size_t i = 0; i < manifest.stages.size(); ++i) {
      StageProcessOptions o = options;
      o.extra_args = extra[int(i)];
      auto child = spawn_stage(o, int(i));
      ASSERT_TRUE(child.ok()) << child.status().to_string();
      children.push_back(std::move(*child));
    }
    for (auto& c : children) {
      auto ready = c->wait_for_line("ready ", 15000);
      ASSERT_TRUE(ready.ok()) << ready.status().to_string();
      EXPECT_NE(ready->find("control=tcp:127.0.0.1:"), std::string::npos) << *ready;
    }
  }
  LocalRunOptions run_options(int max_tokens) const {
    LocalRunOptions ro;
    ro.manifest = manifest;
    ro.prompt = kPrompt;
    ro.max_new_tokens = max_tokens;
    ro.keep_logits = true;
    ro.setup_timeout = std::chrono::seconds(5);
    ro.step_timeout = std::chrono::seconds(3);
    ro.health_interval = std::chrono::milliseconds(100);
    ro.health_timeout = std::chrono::milliseconds(500);
    ro.recovery_timeout = std::chrono::seconds(8);
    return ro;
  }

  std::string model_dir, manifest_path;
  pipeline::Manifest manifest;
  StageProcessOptions options;
  std::vector<std::unique_ptr<ChildProcess>> children;
};

std::unique_ptr<posix::PosixEnv> quiet_env() {
  posix::PosixEnvOptions po;
  po.compute_threads = 1;
  po.event_sink = &NullEventSink::instance();
  return posix::make_posix_env(po);
}

SimPipelineRequest simulated(const std::string& model_dir, int max_tokens) {
  SimPipelineOptions so;
  so.stages = 2;
  so.model_dir = model_dir;
  so.prompt = kPrompt;
  so.max_new_tokens = max_tokens;
  so.keep_logits = true;
  auto sim = run_sim_pipeline(so);
  EXPECT_TRUE(sim.ok()) << sim.status().to_string();
  EXPECT_EQ(sim->requests.size(), 1u);
  EXPECT_EQ(sim->requests[0].code, "OK");
  return sim->requests[0];
}

TEST(MultiProcessPipeline, TwoStageProcessesGiveTheSimulatorsTokensAndBitIdenticalLogits) {
  LocalPipeline p(2);
  ASSERT_NO_FATAL_FAILURE(p.start());
  SimPipelineRequest want = simulated(p.model_dir, 8);
  auto posix = quiet_env();
  {
    LocalClient client(*posix);
    // Two requests one after another: the second must not see the first's KV state.
    LocalRunOptions ro = p.run_options(8);
    ro.requests = 2;
    LocalRunReport r = client.run(ro);
    ASSERT_TRUE(r.setup.ok()) << r.setup.to_string();
    EXPECT_EQ(r.stage_platform, "mock-dev");
    ASSERT_EQ(r.requests.size(), 2u);
    for (const auto& q : r.requests) {
      ASSERT_TRUE(q.status.ok()) << q.status.to_string();
      EXPECT_EQ(q.result.tokens, want.tokens);
      ASSERT_EQ(q.result.logits.size(), want.logits.size());
      for (size_t i = 0; i < want.logits.size(); ++i) EXPECT_TRUE(q.result.logits[i] == want.logits[i]) << "step " << i;
      EXPECT_EQ(q.result.token_ms.size(), want.tokens.size());
    }
    // The stages' own account of the two requests (probed before and after them): every stage
    // ran one step per generated token and forwarded each release, spent measurable
    // time in its forward passes, and holds no KV cache afterwards.
    ASSERT_EQ(r.stage_work.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(r.stage_work[i].frames_processed, 2u * (want.tokens.size() + 1)) << "stage " << i;
      EXPECT_GT(r.stage_work[i].compute_us, 0u) << "stage " << i;
      EXPECT_EQ(r.stage_work[i].active_requests, 0u) << "stage " << i;
    }
  }
  // SIGTERM: every stage exits 0.
  EXPECT_TRUE(stop_stages(p.children, 3000));
  for (auto& c : p.children) EXPECT_EQ(c->exit_code(), 0);
}

TEST(MultiProcessPipeline, StageSigkilledMidGenerationAndRestartedGivesCorrectOutputOrAnExplicitError) {
  LocalPipeline p(2);
  // Stage 1 SIGKILLs itself at its 4th forward pass (prefill + 2 decode steps done).
  ASSERT_NO_FATAL_FAILURE(p.start({{1, {"--fault-kill-after", "4"}}}));
  SimPipelineRequest want = simulated(p.model_dir, 10);
  auto posix = quiet_env();
  bool restarted = false;
  std::optional<int> killed_status;
  LocalRunOptions ro = p.run_options(10);
  // The operator (here: this hook) restarts the dead stage on the same ports.
  ro.poll = [&] {
    if (restarted || p.children[1]->alive()) return;
    killed_status = p.children[1]->exit_code();
    auto child = spawn_stage(p.options, 1);
    ASSERT_TRUE(child.ok());
    p.children[1] = std::move(*child);
    restarted = true;
  };
  LocalClient client(*posix);
  LocalRunReport r = client.run(ro);  // returns: no hang
  ASSERT_TRUE(r.setup.ok()) << r.setup.to_string();
  ASSERT_TRUE(restarted) << "the stage was never killed";
  EXPECT_EQ(killed_status, 128 + SIGKILL);
  EXPECT_GE(r.stats.pipeline_failures, 1u);
  const LocalRequestOutcome& q = r.requests.at(0);
  std::cout << "outcome: " << q.status.to_string() << ", attempts " << q.result.attempts << ", pipelines built "
            << r.stats.pipelines_built << "\n";
  if (q.status.ok()) {
    EXPECT_EQ(q.result.tokens, want.tokens);
    EXPECT_GE(q.result.attempts, 2);
    EXPECT_GE(r.stats.pipelines_built, 2u);
  } else {
    // Explicit, stable codes only.
    EXPECT_TRUE(q.status.code() == ErrorCode::PIPELINE_STAGE_FAILED || q.status.code() == ErrorCode::UNAVAILABLE)
        << q.status.to_string();
  }
}

TEST(MultiProcessPipeline, StageSigkilledAndNeverRestartedFailsWithAnExplicitCodeInBoundedTime) {
  LocalPipeline p(2);
  ASSERT_NO_FATAL_FAILURE(p.start({{0, {"--fault-kill-after", "3"}}}));
  auto posix = quiet_env();
  LocalRunOptions ro = p.run_options(10);
  ro.recovery_timeout = std::chrono::seconds(2);
  LocalClient client(*posix);
  LocalRunReport r = client.run(ro);  // returns (the recovery timeout ends the wait): no hang
  ASSERT_TRUE(r.setup.ok()) << r.setup.to_string();
  const LocalRequestOutcome& q = r.requests.at(0);
  ASSERT_FALSE(q.status.ok()) << "a dead stage cannot have produced the tokens";
  EXPECT_TRUE(q.status.code() == ErrorCode::UNAVAILABLE || q.status.code() == ErrorCode::PIPELINE_STAGE_FAILED)
      << q.status.to_string();
  EXPECT_EQ(p.children[0]->wait(1000), 128 + SIGKILL);
}

TEST(MultiProcessPipeline, StageProcessRefusesAManifestThatDoesNotFitTheModel) {
  LocalPipeline p(2);
  auto j = nlohmann::json::parse(p.manifest.to_json());
  j["activation_spec"]["hidden_dim"] = 4096;
  std::string bad = temp_path("bad-manifest.json");
  ASSERT_TRUE(write_text_file(bad, j.dump()).ok());
  std::string err = temp_path("stage-stderr.txt");
  StageProcessOptions o = p.options;
  o.manifest_path = bad;
  o.stderr_path = err;
  auto child = spawn_stage(o, 0);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ((*child)->wait(10000), 1);
  std::ifstream in(err);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("PIPELINE_MODEL_MISMATCH"), std::string::npos) << text;
  std::remove(bad.c_str());
  std::remove(err.c_str());
}

TEST(MultiProcessPipeline, UpWritesLatencyJsonWithTheRustPipelinesFields) {
  std::string out = temp_path("latency.json");
  auto up = ChildProcess::spawn({CPIPE_BINARY, "up", "--stages", "2", "--max-tokens", "6", "--latency-out", out, "--json"},
                                "/dev/null");
  ASSERT_TRUE(up.ok());
  ASSERT_EQ((*up)->wait(20000), 0);
  std::ifstream in(out);
  ASSERT_TRUE(in.good());
  auto j = nlohmann::json::parse(in);
  for (const char* key : {"ttft_ms", "token_latencies_ms", "p50_ms", "p95_ms", "p99_ms", "tokens_per_s",
                          "generation_tokens", "latencies_ms", "prompt_ms"})
    EXPECT_TRUE(j.contains(key)) << key;
  ASSERT_EQ(j["latencies_ms"].size(), 6u);  // one per generated token, the first = prompt
  EXPECT_EQ(j["generation_tokens"], 5);
  EXPECT_EQ(j["prompt_ms"], j["latencies_ms"][0]);
  EXPECT_EQ(j["ttft_ms"], j["prompt_ms"]);
  EXPECT_EQ(j["token_latencies_ms"].size(), 5u);
  EXPECT_GT(j["tokens_per_s"].get<double>(), 0.0);
  EXPECT_LE(j["p50_ms"].get<double>(), j["p99_ms"].get<double>());
  std::remove(out.c_str());
}

// `cpipe run --record-costs` on real stage processes writes measured costs that a scenario
// reads back as its costs: section.
TEST(MultiProcessPipeline, RunRecordsCostsInTheScenarioFormat) {
  LocalPipeline p(2);
  p.start();
  std::string out = temp_path("costs.yaml");
  auto run = ChildProcess::spawn({CPIPE_BINARY, "run", "--manifest", p.manifest_path, "--model", p.model_dir,
                                  "--prompt-ids", "464,2068,7586,21831", "--max-tokens", "6", "--record-costs", out},
                                 "/dev/null");
  ASSERT_TRUE(run.ok());
  ASSERT_EQ((*run)->wait(20000), 0);
  auto s = load_scenario(out);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_GT(s->compute_ms_per_layer_token, 0.0);
  EXPECT_GT(s->nsm_ms.p50, 0.0);
  EXPECT_LE(s->nsm_ms.p0, s->nsm_ms.p100);
  EXPECT_GT(s->link_rtt_ms, 0.0);
  EXPECT_LT(s->link_rtt_ms, 100.0);  // loopback: far below the enclave-to-enclave defaults' scale
  EXPECT_EQ(s->kms_ms, Scenario{}.kms_ms);  // not measured locally: the defaults stay
  std::remove(out.c_str());
}

TEST(LatencyJson, PercentilesAreNearestRank) {
  EXPECT_EQ(percentile({}, 50), 0);
  EXPECT_EQ(percentile({5, 1, 3, 2, 4}, 50), 3);
  EXPECT_EQ(percentile({5, 1, 3, 2, 4}, 99), 5);
  EXPECT_EQ(percentile({5, 1, 3, 2, 4}, 0), 1);
}

}  // namespace
}  // namespace cpipe::cli

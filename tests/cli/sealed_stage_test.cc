// Sealed-model cold start in real `cpipe stage` processes (`--sealed FILE --dev-key FILE`): a
// sealed 2-stage pipeline gives the same tokens as the plaintext one and reports its cold-start
// phases on the ready line; a sealed file with one flipped byte makes the stage refuse every
// init with KEYS_CHUNK_AUTH_FAILED, and `cpipe run` fails with that code — no hang.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/cpipe/local_pipeline.h"
#include "apps/cpipe/local_sealed_stage.h"
#include "apps/cpipe/model_source.h"

namespace cpipe::cli {
namespace {

const std::vector<int32_t> kPrompt = {464, 2068, 7586, 21831};

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/cpipe-sealed-" + std::to_string(::getpid()) + "-" + name;
}

std::unique_ptr<posix::PosixEnv> quiet_env() {
  posix::PosixEnvOptions po;
  po.compute_threads = 1;
  po.event_sink = &NullEventSink::instance();
  return posix::make_posix_env(po);
}

nlohmann::json cold_start_json(const std::string& ready_line) {
  auto at = ready_line.find(" cold_start=");
  if (at == std::string::npos) return nullptr;
  return nlohmann::json::parse(ready_line.substr(at + 12), nullptr, false);
}

// The tiny model, its 2-stage manifest and the model sealed under a fresh dev key (once).
class SealedStage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dir = resolve_model_dir("", "tiny");
    ASSERT_TRUE(dir.ok()) << dir.status().to_string();
    model_dir_ = *dir;
    LocalManifestOptions mo;
    mo.model_dir = model_dir_;
    mo.stages = 2;
    auto m = make_local_manifest(mo);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    manifest_ = *m;
    manifest_path_ = temp_path("manifest.json");
    ASSERT_TRUE(write_text_file(manifest_path_, manifest_.to_json()).ok());
    sealed_dir_ = temp_path("sealed.d");
    auto sealed = seal_model_dir_with_fresh_dev_key(model_dir_, sealed_dir_, "gpt2-tiny-test", CPIPE_BINARY);
    ASSERT_TRUE(sealed.ok()) << sealed.status().to_string();
    sealed_path_ = *sealed;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(sealed_dir_, ec);
    std::remove(manifest_path_.c_str());
  }

  StageProcessOptions options(const std::string& sealed) const {
    StageProcessOptions o;
    o.program = CPIPE_BINARY;
    o.manifest_path = manifest_path_;
    o.model_dir = model_dir_;
    o.sealed_path = sealed;
    if (!sealed.empty()) o.dev_key_path = sealed_dir_ + "/dev.key";
    return o;
  }
  LocalRunOptions run_options(int max_tokens) const {
    LocalRunOptions ro;
    ro.manifest = manifest_;
    ro.prompt = kPrompt;
    ro.max_new_tokens = max_tokens;
    ro.setup_timeout = std::chrono::seconds(5);
    ro.step_timeout = std::chrono::seconds(3);
    ro.recovery_timeout = std::chrono::seconds(3);
    return ro;
  }
  std::vector<int32_t> run_tokens(int max_tokens) {
    auto posix = quiet_env();
    LocalClient client(*posix);
    LocalRunReport r = client.run(run_options(max_tokens));
    EXPECT_TRUE(r.setup.ok()) << r.setup.to_string();
    if (r.requests.empty() || !r.requests[0].status.ok()) {
      ADD_FAILURE() << (r.requests.empty() ? "no request" : r.requests[0].status.to_string());
      return {};
    }
    return r.requests[0].result.tokens;
  }

  static std::string model_dir_, manifest_path_, sealed_dir_, sealed_path_;
  static pipeline::Manifest manifest_;
};
std::string SealedStage::model_dir_, SealedStage::manifest_path_, SealedStage::sealed_dir_, SealedStage::sealed_path_;
pipeline::Manifest SealedStage::manifest_;

TEST_F(SealedStage, SealedTwoStagePipelineGivesThePlaintextTokensAndReportsItsColdStart) {
  std::vector<int32_t> plain;
  {
    auto stages = spawn_stages(options(""), 2, 15000);
    ASSERT_TRUE(stages.ok()) << stages.status().to_string();
    plain = run_tokens(8);
    EXPECT_TRUE(stop_stages(*stages, 3000));
  }
  ASSERT_EQ(plain.size(), 8u);
  std::vector<std::string> ready;
  auto stages = spawn_stages(options(sealed_path_), 2, 15000, &ready);
  ASSERT_TRUE(stages.ok()) << stages.status().to_string();
  ASSERT_EQ(ready.size(), 2u);
  for (const std::string& line : ready) {
    EXPECT_NE(line.find("key=dev-key (DEVELOPMENT ONLY)"), std::string::npos) << line;
    nlohmann::json j = cold_start_json(line);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_EQ(j["ok"], true) << line;
    EXPECT_EQ(j["model_id"], "gpt2-tiny-test");
    EXPECT_EQ(j["sealed"], sealed_path_);
    EXPECT_EQ(j["key_release"], "DEVELOPMENT-ONLY dev key");
    for (const char* k : {"attestation_ms", "kms_key_release_ms", "model_fetch_ms", "model_decrypt_ms",
                          "model_load_ms", "cold_start_total_ms"})
      EXPECT_TRUE(j["stages"].contains(k)) << k;
    EXPECT_GT(j["stages"]["cold_start_total_ms"].get<double>(), 0.0);
    EXPECT_GE(j["stages"]["cold_start_total_ms"].get<double>(), j["stages"]["model_decrypt_ms"].get<double>());
  }
  EXPECT_EQ(run_tokens(8), plain);
  EXPECT_TRUE(stop_stages(*stages, 3000));
  for (auto& c : *stages) EXPECT_EQ(c->exit_code(), 0);
}

TEST_F(SealedStage, FlippedByteMakesTheStageRefuseAndRunFailWithChunkAuthFailed) {
  // One byte flipped near the end: inside the last chunk's ciphertext or tag.
  const std::string bad = temp_path("tampered.sealed");
  std::filesystem::copy_file(sealed_path_, bad, std::filesystem::copy_options::overwrite_existing);
  const auto size = std::filesystem::file_size(bad);
  {
    std::fstream f(bad, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(std::streamoff(size - 40));
    char c = 0;
    f.read(&c, 1);
    c = char(c ^ 0x01);
    f.seekp(std::streamoff(size - 40));
    f.write(&c, 1);
  }
  std::vector<std::unique_ptr<ChildProcess>> stages;
  std::string err = temp_path("stage0-stderr.txt");
  StageProcessOptions o0 = options(bad);
  o0.stderr_path = err;
  auto s0 = spawn_stage(o0, 0);
  ASSERT_TRUE(s0.ok());
  stages.push_back(std::move(*s0));
  auto s1 = spawn_stage(options(sealed_path_), 1);
  ASSERT_TRUE(s1.ok());
  stages.push_back(std::move(*s1));
  auto ready0 = stages[0]->wait_for_line("ready ", 15000);
  ASSERT_TRUE(ready0.ok()) << ready0.status().to_string();
  nlohmann::json j = cold_start_json(*ready0);
  ASSERT_TRUE(j.is_object()) << *ready0;
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["code_name"], "KEYS_CHUNK_AUTH_FAILED") << *ready0;
  ASSERT_TRUE(stages[1]->wait_for_line("ready ", 15000).ok());
  EXPECT_TRUE(stages[0]->alive()) << "a failed cold start keeps the stage up, refusing";

  // The orchestrator in this process: the stage's refusal carries the code.
  {
    auto posix = quiet_env();
    LocalClient client(*posix);
    LocalRunReport r = client.run(run_options(4));
    EXPECT_EQ(r.setup.code(), ErrorCode::KEYS_CHUNK_AUTH_FAILED) << r.setup.to_string();
  }
  // `cpipe run` as an operator runs it: exit 1 with the code, in bounded time.
  std::string run_err = temp_path("run-stderr.txt");
  auto run = ChildProcess::spawn({CPIPE_BINARY, "run", "--manifest", manifest_path_, "--model", model_dir_,
                                  "--prompt-ids", "464,2068,7586,21831", "--max-tokens", "4"},
                                 run_err);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ((*run)->wait(20000), 1);
  std::ifstream in(run_err);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("KEYS_CHUNK_AUTH_FAILED"), std::string::npos) << text;
  EXPECT_TRUE(stop_stages(stages, 3000));
  std::ifstream e(err);
  std::string stage_err((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>());
  EXPECT_NE(stage_err.find("cold start failed"), std::string::npos) << stage_err;
  EXPECT_NE(stage_err.find("DEVELOPMENT-ONLY"), std::string::npos) << stage_err;
  std::remove(bad.c_str());
  std::remove(err.c_str());
  std::remove(run_err.c_str());
}

}  // namespace
}  // namespace cpipe::cli

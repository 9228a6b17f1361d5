// Correctness against an independent implementation: tests/model/oracle_gpt2.py (plain PyTorch
// ops, its own safetensors parser, no KV cache) computes logits for several prompts after the
// prompt and after each of 20 greedy steps; cpipe must match them (max |diff| <= 1e-4 x the
// logit range) and produce the identical greedy sequence. Runs on a synthesized model and on
// the real HF tiny-gpt2 file. Also measures bf16/int8 against fp32 on the same prompts.
//
// Needs /usr/bin/python3 with torch (Debian python3-torch; ci/install-deps.sh installs it).
// Override the interpreter with CPIPE_TORCH_PYTHON; force kernels with CPIPE_MODEL_ISA.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/gpt2.h"
#include "model/sampling.h"
#include "model/synth.h"
#include "tests/model/test_util.h"

namespace cpipe::model {
namespace {

constexpr int kSteps = 20;

std::vector<std::vector<int32_t>> prompts() {
  std::vector<std::vector<int32_t>> p = {
      {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13},  // "The quick brown fox ..."
      {50256},                                                     // <|endoftext|> alone
      {15496, 11, 995, 0},                                         // "Hello, world!"
  };
  std::vector<int32_t> long_prompt;
  SplitMix64 g(2024);
  for (int i = 0; i < 60; ++i) long_prompt.push_back(int32_t(g.next() % 50257));
  p.push_back(long_prompt);
  return p;
}

struct OracleRun {
  std::vector<std::vector<int32_t>> tokens;        // per prompt: kSteps + 1 greedy tokens
  std::vector<std::vector<std::vector<float>>> logits;  // [prompt][step][vocab]
};

std::string python() {
  const char* p = std::getenv("CPIPE_TORCH_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

Result<OracleRun> run_oracle(const std::string& model_dir, int64_t vocab, const std::string& work) {
  nlohmann::json pj = prompts();
  const std::string out = work + "/oracle_logits.bin";
  const std::string cmd = python() + " " + CPIPE_SOURCE_DIR + "/tests/model/oracle_gpt2.py --model '" + model_dir +
                          "' --steps " + std::to_string(kSteps) + " --out '" + out + "' --prompts '" + pj.dump() +
                          "'";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return make_error(ErrorCode::IO_ERROR, "popen failed");
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int rc = pclose(p);
  if (rc != 0)
    return make_error(ErrorCode::INTERNAL, "oracle failed (exit " + std::to_string(rc) + "): " + cmd +
                                               "\n(is torch importable from " + python() + "?)");
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return make_error(ErrorCode::PARSE_ERROR, "oracle printed: " + text);
  OracleRun r;
  r.tokens = j["tokens"].get<std::vector<std::vector<int32_t>>>();
  std::ifstream in(out, std::ios::binary);
  for (size_t pi = 0; pi < r.tokens.size(); ++pi) {
    r.logits.emplace_back();
    for (int s = 0; s <= kSteps; ++s) {
      std::vector<float> l(static_cast<size_t>(vocab));
      in.read(reinterpret_cast<char*>(l.data()), std::streamsize(l.size() * 4));
      if (!in) return make_error(ErrorCode::IO_ERROR, "short oracle output");
      r.logits.back().push_back(std::move(l));
    }
  }
  return r;
}

// cpipe's run of the same protocol: prefill, then greedy decode one token at a time. With
// `forced`, feeds those tokens instead of its own choices (to compare formats on equal inputs).
OracleRun run_cpipe(Gpt2Model& m, const std::vector<std::vector<int32_t>>* forced = nullptr) {
  OracleRun r;
  auto seq = m.new_sequence();
  const auto ps = prompts();
  for (size_t pi = 0; pi < ps.size(); ++pi) {
    seq->reset();
    r.tokens.emplace_back();
    r.logits.emplace_back();
    std::vector<int32_t> input = ps[pi];
    for (int s = 0; s <= kSteps; ++s) {
      auto out = m.forward(*seq, input);
      EXPECT_TRUE(out.ok()) << out.status().to_string();
      if (!out.ok()) return r;
      r.logits.back().emplace_back(out->begin(), out->end());
      int32_t tok = greedy_token(*out);
      r.tokens.back().push_back(tok);
      input = {forced ? (*forced)[pi][size_t(s)] : tok};
    }
  }
  return r;
}

void compare_with_oracle(const std::string& model_dir, const char* label) {
  // CPIPE_MODEL_ISA=portable|avx2|avx512|avx512bf16 runs the comparison on other kernels.
  if (const char* isa = std::getenv("CPIPE_MODEL_ISA"); isa && *isa) {
    ASSERT_TRUE(set_kernel_isa(isa)) << "this CPU cannot run " << isa;
  }
  auto model = Gpt2Model::load(model_dir, Gpt2Options{});
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  testing::TempDir work;
  auto oracle = run_oracle(model_dir, (*model)->config().vocab_size, work.path());
  ASSERT_TRUE(oracle.ok()) << oracle.status().to_string();
  OracleRun mine = run_cpipe(**model);
  ASSERT_EQ(mine.tokens.size(), oracle->tokens.size());
  double worst = 0;
  for (size_t p = 0; p < mine.tokens.size(); ++p) {
    EXPECT_EQ(mine.tokens[p], oracle->tokens[p]) << label << " prompt " << p;
    for (int s = 0; s <= kSteps; ++s) {
      const auto& a = mine.logits[p][size_t(s)];
      const auto& b = oracle->logits[p][size_t(s)];
      float lo = b[0], hi = b[0];
      for (float v : b) lo = std::min(lo, v), hi = std::max(hi, v);
      double maxdiff = 0;
      for (size_t i = 0; i < a.size(); ++i) maxdiff = std::max(maxdiff, double(std::fabs(a[i] - b[i])));
      const double rel = maxdiff / double(hi - lo);
      worst = std::max(worst, rel);
      EXPECT_LE(rel, 1e-4) << label << " prompt " << p << " step " << s << " max diff " << maxdiff
                           << " range " << (hi - lo);
    }
  }
  std::printf("[oracle] %s: worst max|diff|/range = %.3g over %zu prompts x %d steps (isa %s)\n", label, worst,
              mine.tokens.size(), kSteps + 1, kernels().isa);
}

TEST(Gpt2OracleTest, SynthesizedTinyModelMatchesPyTorch) {
  testing::TempDir dir;
  auto c = gpt2_preset("tiny");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(synthesize_gpt2(*c, 7, dir.path()).ok());
  compare_with_oracle(dir.path(), "synth tiny seed 7");
}

TEST(Gpt2OracleTest, RealHfTinyGpt2MatchesPyTorch) {
  compare_with_oracle(testing::tiny_gpt2_dir(), "HF sshleifer/tiny-gpt2");
}

// bf16 and int8 against fp32 on the oracle prompts, fed the same (fp32 greedy) tokens. Runs on
// the synthesized tiny model, or on CPIPE_MODEL_QUALITY_DIR (e.g. a synthesized 124M) if set.
TEST(Gpt2OracleTest, ReducedPrecisionFormatsStayCloseToFp32) {
  testing::TempDir dir;
  std::string model_dir;
  if (const char* d = std::getenv("CPIPE_MODEL_QUALITY_DIR"); d && *d) {
    model_dir = d;
  } else {
    auto c = gpt2_preset("tiny");
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(synthesize_gpt2(*c, 7, dir.path()).ok());
    model_dir = dir.path();
  }
  auto fp32 = Gpt2Model::load(model_dir, Gpt2Options{});
  ASSERT_TRUE(fp32.ok());
  OracleRun ref = run_cpipe(**fp32);
  for (auto [fmt, min_cos] : {std::pair{WeightFormat::kBF16, 0.999}, std::pair{WeightFormat::kInt8, 0.99}}) {
    Gpt2Options o;
    o.format = fmt;
    auto m = Gpt2Model::load(model_dir, o);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    OracleRun got = run_cpipe(**m, &ref.tokens);
    double worst_cos = 1;
    int agree = 0, total = 0;
    for (size_t p = 0; p < ref.logits.size(); ++p) {
      for (size_t s = 0; s < ref.logits[p].size(); ++s) {
        const auto& a = ref.logits[p][s];
        const auto& b = got.logits[p][s];
        double dot = 0, na = 0, nb = 0;
        for (size_t i = 0; i < a.size(); ++i) dot += double(a[i]) * b[i], na += double(a[i]) * a[i], nb += double(b[i]) * b[i];
        worst_cos = std::min(worst_cos, dot / std::sqrt(na * nb));
        agree += greedy_token(a) == greedy_token(b);
        ++total;
      }
    }
    std::printf("[quality] %s vs fp32 on %s: min cosine %.6f, top-1 agreement %d/%d (%.1f%%)\n",
                std::string(weight_format_name(fmt)).c_str(), model_dir.c_str(), worst_cos, agree, total,
                100.0 * agree / total);
    EXPECT_GE(worst_cos, min_cos) << weight_format_name(fmt);
  }
}

}  // namespace
}  // namespace cpipe::model

// The GPT-2 engine: layer ranges compose bit-identically, prefill equals step-by-step decode,
// KV caches reset, context limits hold, and HF name variants load the same weights.
#include "model/gpt2.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "model/sampling.h"
#include "model/synth.h"
#include "tests/model/test_util.h"

namespace cpipe::model {
namespace {

const std::vector<int32_t> kPrompt = {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13};

class Gpt2Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    auto c = gpt2_preset("tiny");
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(synthesize_gpt2(*c, 5, dir_->path()).ok());
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::unique_ptr<Gpt2Model> load(int64_t b, int64_t e, int threads = 0,
                                         WeightFormat f = WeightFormat::kF32) {
    Gpt2Options o;
    o.layer_begin = b;
    o.layer_end = e;
    o.threads = threads;
    o.format = f;
    auto m = Gpt2Model::load(dir_->path(), o);
    EXPECT_TRUE(m.ok()) << m.status().to_string();
    return m.ok() ? std::move(*m) : nullptr;
  }

  // Runs a chain of stages: prompt, then `steps` greedy steps; returns every step's logits.
  static std::vector<std::vector<float>> run_chain(const std::vector<Gpt2Model*>& stages, int steps) {
    std::vector<std::unique_ptr<Gpt2Sequence>> seqs;
    for (auto* s : stages) seqs.push_back(s->new_sequence());
    std::vector<std::vector<float>> out;
    std::vector<int32_t> input = kPrompt;
    for (int step = 0; step <= steps; ++step) {
      auto r = stages[0]->forward(*seqs[0], input);
      EXPECT_TRUE(r.ok()) << r.status().to_string();
      std::span<const float> act = *r;
      for (size_t i = 1; i < stages.size(); ++i) {
        std::vector<float> copy(act.begin(), act.end());  // as if it crossed a channel
        auto n = stages[i]->forward_hidden(*seqs[i], copy);
        EXPECT_TRUE(n.ok()) << n.status().to_string();
        act = *n;
      }
      out.emplace_back(act.begin(), act.end());
      input = {greedy_token(act)};
    }
    return out;
  }

  static testing::TempDir* dir_;
};
testing::TempDir* Gpt2Test::dir_ = nullptr;

void expect_bit_identical(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].size(), b[i].size());
    EXPECT_EQ(std::memcmp(a[i].data(), b[i].data(), a[i].size() * 4), 0) << "step " << i;
  }
}

TEST_F(Gpt2Test, LayerRangesComposeBitIdentically) {
  auto whole = load(0, 4);
  auto a = load(0, 2), b = load(2, 4);
  auto p = load(0, 1), q = load(1, 3), r = load(3, 4);
  auto ref = run_chain({whole.get()}, 8);
  EXPECT_EQ(ref[0].size(), 50257u);
  expect_bit_identical(ref, run_chain({a.get(), b.get()}, 8));
  expect_bit_identical(ref, run_chain({p.get(), q.get(), r.get()}, 8));
}

TEST_F(Gpt2Test, ThreadCountDoesNotChangeResults) {
  auto one = load(0, 4, 1), two = load(0, 4, 2), three = load(0, 4, 3);
  auto ref = run_chain({one.get()}, 5);
  expect_bit_identical(ref, run_chain({two.get()}, 5));
  expect_bit_identical(ref, run_chain({three.get()}, 5));
}

TEST_F(Gpt2Test, LmHeadInPlaceOrCopiedGivesTheSameBits) {
  auto copied = load(0, 4);
  Gpt2Options o;
  o.lm_head_in_place = true;
  auto in_place = Gpt2Model::load(dir_->path(), o);
  ASSERT_TRUE(in_place.ok());
  expect_bit_identical(run_chain({copied.get()}, 3), run_chain({in_place->get()}, 3));
}

TEST_F(Gpt2Test, StageRolesAndShapes) {
  auto first = load(0, 2), last = load(2, 4);
  EXPECT_TRUE(first->is_first());
  EXPECT_FALSE(first->is_last());
  EXPECT_TRUE(last->is_last());
  auto s = first->new_sequence();
  auto h = first->forward(*s, kPrompt);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->size(), kPrompt.size() * 64);  // activations [T, n_embd]
  auto s2 = last->new_sequence();
  EXPECT_EQ(last->forward(*s2, kPrompt).code(), ErrorCode::FAILED_PRECONDITION);
  EXPECT_EQ(first->forward_hidden(*s, *h).code(), ErrorCode::FAILED_PRECONDITION);
  std::vector<float> ragged(65);
  EXPECT_EQ(last->forward_hidden(*s2, ragged).code(), ErrorCode::INVALID_ARGUMENT);
  EXPECT_EQ(s2->position(), 0);
  EXPECT_EQ(first->decode_weight_bytes(), size_t(2 * 12 * 64 * 64 * 4));
}

TEST_F(Gpt2Test, PrefillMatchesTokenByTokenDecode) {
  auto m = load(0, 4);
  auto a = m->new_sequence(), b = m->new_sequence();
  auto pre = m->forward(*a, kPrompt);
  ASSERT_TRUE(pre.ok());
  std::vector<float> prefill(pre->begin(), pre->end());
  std::span<const float> last;
  for (int32_t t : kPrompt) {
    auto r = m->forward(*b, std::vector<int32_t>{t});
    ASSERT_TRUE(r.ok());
    last = *r;
  }
  EXPECT_EQ(b->position(), int64_t(kPrompt.size()));
  float lo = prefill[0], hi = prefill[0];
  for (float v : prefill) lo = std::min(lo, v), hi = std::max(hi, v);
  for (size_t i = 0; i < prefill.size(); ++i) ASSERT_NEAR(prefill[i], last[i], 1e-5 * (hi - lo)) << i;
  EXPECT_EQ(greedy_token(prefill), greedy_token(last));
}

TEST_F(Gpt2Test, ResetGivesTheSameResultsAsAFreshSequence) {
  auto m = load(0, 4);
  auto s = m->new_sequence();
  ASSERT_TRUE(m->forward(*s, std::vector<int32_t>{1, 2, 3, 4, 5}).ok());
  s->reset();
  EXPECT_EQ(s->position(), 0);
  auto r1 = m->forward(*s, kPrompt);
  ASSERT_TRUE(r1.ok());
  std::vector<float> again(r1->begin(), r1->end());
  auto fresh = m->new_sequence();
  auto r2 = m->forward(*fresh, kPrompt);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(std::memcmp(again.data(), r2->data(), again.size() * 4), 0);
}

TEST_F(Gpt2Test, ContextOverflowIsRejectedWithoutSideEffects) {
  auto m = load(0, 4);  // tiny preset: n_positions 256
  auto s = m->new_sequence();
  EXPECT_EQ(s->capacity(), 256);
  std::vector<int32_t> too_long(257, 11);
  EXPECT_EQ(m->forward(*s, too_long).code(), ErrorCode::MODEL_CONTEXT_OVERFLOW);
  EXPECT_EQ(s->position(), 0);
  std::vector<int32_t> fill(250, 11);
  ASSERT_TRUE(m->forward(*s, fill).ok());
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(m->forward(*s, std::vector<int32_t>{12}).ok());
  EXPECT_EQ(s->position(), 256);
  EXPECT_EQ(m->forward(*s, std::vector<int32_t>{12}).code(), ErrorCode::MODEL_CONTEXT_OVERFLOW);
  EXPECT_EQ(s->position(), 256);
  auto small = m->new_sequence(8);
  EXPECT_EQ(small->capacity(), 8);
  EXPECT_EQ(m->forward(*small, std::vector<int32_t>(9, 1)).code(), ErrorCode::MODEL_CONTEXT_OVERFLOW);
}

TEST_F(Gpt2Test, RejectsBadTokensAndRanges) {
  auto m = load(0, 4);
  auto s = m->new_sequence();
  EXPECT_EQ(m->forward(*s, std::vector<int32_t>{50257}).code(), ErrorCode::INVALID_ARGUMENT);
  EXPECT_EQ(m->forward(*s, std::vector<int32_t>{-1}).code(), ErrorCode::INVALID_ARGUMENT);
  EXPECT_EQ(m->forward(*s, std::vector<int32_t>{}).code(), ErrorCode::INVALID_ARGUMENT);
  Gpt2Options o;
  o.layer_begin = 3;
  o.layer_end = 3;
  EXPECT_EQ(Gpt2Model::load(dir_->path(), o).code(), ErrorCode::INVALID_ARGUMENT);
  o.layer_begin = 0;
  o.layer_end = 5;
  EXPECT_EQ(Gpt2Model::load(dir_->path(), o).code(), ErrorCode::INVALID_ARGUMENT);
}

// Rewrites the file with names mapped by `rename` (and extra tensors), then loads it.
Result<std::unique_ptr<Gpt2Model>> load_renamed(const std::string& src, const std::string& dst,
                                                std::string (*rename)(const std::string&),
                                                std::vector<TensorToWrite> extra = {}) {
  auto f = SafetensorsFile::open(src + "/model.safetensors");
  if (!f.ok()) return f.status();
  std::vector<TensorToWrite> out = std::move(extra);
  for (const auto& t : (*f)->tensors()) {
    std::string n = rename(t.name);
    if (!n.empty()) out.push_back({n, t.dtype, t.shape, t.data});
  }
  CPIPE_RETURN_IF_ERROR(write_safetensors(dst + "/model.safetensors", out, {{"format", "pt"}}));
  auto c = load_gpt2_config(src + "/config.json");
  if (!c.ok()) return c.status();
  auto nf = SafetensorsFile::open(dst + "/model.safetensors");
  if (!nf.ok()) return nf.status();
  return Gpt2Model::from_file(*nf, *c, Gpt2Options{});
}

std::vector<float> prompt_logits(Gpt2Model& m) {
  auto s = m.new_sequence();
  auto r = m.forward(*s, kPrompt);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? std::vector<float>(r->begin(), r->end()) : std::vector<float>{};
}

TEST(Gpt2LoadTest, RealHfFileLoadsWithAndWithoutTransformerPrefix) {
  auto m = Gpt2Model::load(testing::tiny_gpt2_dir(), Gpt2Options{});
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  auto ref = prompt_logits(**m);
  ASSERT_EQ(ref.size(), 50257u);
  testing::TempDir dir;
  auto stripped = load_renamed(testing::tiny_gpt2_dir(), dir.path(), [](const std::string& n) {
    return n.rfind("transformer.", 0) == 0 ? n.substr(12) : n;
  });
  ASSERT_TRUE(stripped.ok()) << stripped.status().to_string();
  auto got = prompt_logits(**stripped);
  EXPECT_EQ(std::memcmp(ref.data(), got.data(), ref.size() * 4), 0);
}

TEST(Gpt2LoadTest, ExplicitLmHeadIsUsedWhenPresent) {
  testing::TempDir dir;
  std::vector<float> zeros(50257 * 2, 0.0f);
  auto m = load_renamed(testing::tiny_gpt2_dir(), dir.path(), [](const std::string& n) { return n; },
                        {{"lm_head.weight", DType::F32, {50257, 2},
                          {reinterpret_cast<const uint8_t*>(zeros.data()), zeros.size() * 4}}});
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  for (float v : prompt_logits(**m)) ASSERT_EQ(v, 0.0f);
}

TEST(Gpt2LoadTest, MissingAndMisshapenTensorsAreReported) {
  testing::TempDir a, b;
  auto missing = load_renamed(testing::tiny_gpt2_dir(), a.path(), [](const std::string& n) {
    return n == "transformer.h.1.mlp.c_fc.bias" ? std::string() : n;
  });
  EXPECT_EQ(missing.code(), ErrorCode::MODEL_MISSING_TENSOR);
  EXPECT_NE(missing.status().message().find("h.1.mlp.c_fc.bias"), std::string::npos);
  std::vector<float> wrong(3, 0.0f);
  auto misshapen = load_renamed(testing::tiny_gpt2_dir(), b.path(),
                                [](const std::string& n) {
                                  return n == "transformer.ln_f.bias" ? std::string() : n;
                                },
                                {{"transformer.ln_f.bias", DType::F32, {3},
                                  {reinterpret_cast<const uint8_t*>(wrong.data()), 12}}});
  EXPECT_EQ(misshapen.code(), ErrorCode::MODEL_SHAPE_MISMATCH);
  EXPECT_EQ(Gpt2Model::load("/nonexistent", Gpt2Options{}).code(), ErrorCode::NOT_FOUND);
}

TEST_F(Gpt2Test, Bf16SourceWeightsLoadAndAgree) {
  // A file saved in BF16 (as some checkpoints are) loads through the same path.
  auto f = SafetensorsFile::open(dir_->path() + "/model.safetensors");
  ASSERT_TRUE(f.ok());
  std::vector<std::vector<uint16_t>> store;
  std::vector<TensorToWrite> out;
  for (const auto& t : (*f)->tensors()) {
    std::vector<uint16_t> h(size_t(t.numel()));
    for (size_t i = 0; i < h.size(); ++i) {
      float v;
      std::memcpy(&v, t.data.data() + 4 * i, 4);
      h[i] = f32_to_bf16(v);
    }
    store.push_back(std::move(h));
    out.push_back({t.name, DType::BF16, t.shape,
                   {reinterpret_cast<const uint8_t*>(store.back().data()), store.back().size() * 2}});
  }
  testing::TempDir d;
  ASSERT_TRUE(write_safetensors(d.path() + "/model.safetensors", out, {}).ok());
  auto c = load_gpt2_config(dir_->path() + "/config.json");
  auto nf = SafetensorsFile::open(d.path() + "/model.safetensors");
  ASSERT_TRUE(c.ok() && nf.ok());
  auto m = Gpt2Model::from_file(*nf, *c, Gpt2Options{});
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  auto ref = load(0, 4);
  auto a = prompt_logits(**m), b = prompt_logits(*ref);
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) dot += double(a[i]) * b[i], na += double(a[i]) * a[i], nb += double(b[i]) * b[i];
  EXPECT_GT(dot / std::sqrt(na * nb), 0.999);
}

}  // namespace
}  // namespace cpipe::model

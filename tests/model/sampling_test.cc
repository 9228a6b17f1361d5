// Token choice: greedy tie rule, and sampling that is reproducible from the seed, respects
// top-k / top-p, and follows the softmax distribution.
#include "model/sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/model/test_util.h"

namespace cpipe::model {
namespace {

TEST(SamplingTest, GreedyTiesGoToTheLowestId) {
  std::vector<float> l = {0.1f, 3.0f, -1.0f, 3.0f, 3.0f};
  EXPECT_EQ(greedy_token(l), 1);
  l[1] = NAN;
  EXPECT_EQ(greedy_token(l), 3);
  std::vector<float> all_nan = {NAN, NAN};
  EXPECT_EQ(greedy_token(all_nan), 0);
}

TEST(SamplingTest, ZeroTemperatureAndTopK1AreGreedy) {
  std::vector<float> l = {0.1f, 2.0f, 2.0f, 1.0f};
  Sampler s(4);
  testing::SeededRandom rng(1);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(s.sample(l, {0.0f, 0, 1.0f}, rng), 1);
    EXPECT_EQ(s.sample(l, {1.0f, 1, 1.0f}, rng), 1);   // top-1 under the tie rule
    EXPECT_EQ(s.sample(l, {1.0f, 0, 1e-6f}, rng), 1);  // nucleus of one
  }
}

TEST(SamplingTest, SameSeedSameSamples) {
  std::vector<float> l(100);
  for (int i = 0; i < 100; ++i) l[size_t(i)] = std::sin(float(i));
  Sampler s(100);
  testing::SeededRandom a(7), b(7);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.sample(l, {0.8f, 20, 0.9f}, a), s.sample(l, {0.8f, 20, 0.9f}, b));
}

TEST(SamplingTest, FollowsSoftmaxAndRespectsCuts) {
  std::vector<float> l = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  Sampler s(4);
  testing::SeededRandom rng(11);
  int counts[4] = {0, 0, 0, 0};
  const int N = 20000;
  for (int i = 0; i < N; ++i) counts[s.sample(l, {1.0f, 0, 1.0f}, rng)]++;
  EXPECT_NEAR(counts[0] / double(N), 0.5, 0.02);
  EXPECT_NEAR(counts[1] / double(N), 0.3, 0.02);
  EXPECT_NEAR(counts[3] / double(N), 0.05, 0.01);
  int k2[4] = {0, 0, 0, 0};
  for (int i = 0; i < N; ++i) k2[s.sample(l, {1.0f, 2, 1.0f}, rng)]++;
  EXPECT_EQ(k2[2] + k2[3], 0);
  EXPECT_NEAR(k2[0] / double(N), 0.5 / 0.8, 0.02);
  int p[4] = {0, 0, 0, 0};
  for (int i = 0; i < N; ++i) p[s.sample(l, {1.0f, 0, 0.79f}, rng)]++;  // {0.5, 0.3} reach 0.79
  EXPECT_EQ(p[2] + p[3], 0);
  EXPECT_GT(p[1], 0);
  // Low temperature sharpens towards the top token.
  int cold = 0;
  for (int i = 0; i < 2000; ++i) cold += s.sample(l, {0.05f, 0, 1.0f}, rng) == 0;
  EXPECT_GT(cold, 1990);
}

}  // namespace
}  // namespace cpipe::model

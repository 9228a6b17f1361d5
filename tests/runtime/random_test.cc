// The portable integer helpers of Random, driven by a counter so results are exact.
#include "core/runtime/random.h"

#include <gtest/gtest.h>

#include <map>

namespace cpipe::runtime {
namespace {

// Deterministic test source: bytes of an incrementing little-endian counter.
class CounterRandom : public Random {
 public:
  void fill(MutableByteSpan out) override {
    for (auto& b : out) b = uint8_t(counter_++ * 0x9e + 0x37);
  }

 private:
  uint64_t counter_ = 0;
};

TEST(RandomTest, UniformStaysInRange) {
  CounterRandom r;
  for (uint64_t n : {1ull, 2ull, 3ull, 7ull, 1000ull, 1ull << 40}) {
    for (int i = 0; i < 200; ++i) EXPECT_LT(r.uniform(n), n);
  }
  for (int i = 0; i < 200; ++i) {
    int64_t v = r.uniform_range(-5, 5);
    EXPECT_GE(v, -5);
    EXPECT_LE(v, 5);
  }
  EXPECT_EQ(r.uniform_range(3, 3), 3);
}

TEST(RandomTest, UniformCoversAllValues) {
  CounterRandom r;
  std::map<uint64_t, int> seen;
  for (int i = 0; i < 2000; ++i) seen[r.uniform(6)]++;
  EXPECT_EQ(seen.size(), 6u);
}

TEST(RandomTest, ChanceExtremes) {
  CounterRandom r;
  for (int i = 0; i < 50; ++i) {
    EXPECT_FALSE(r.chance(0, 10));
    EXPECT_TRUE(r.chance(10, 10));
  }
}

}  // namespace
}  // namespace cpipe::runtime

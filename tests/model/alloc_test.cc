// Decode allocates nothing: a counting global operator new around steady-state decode steps.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "model/gpt2.h"
#include "model/sampling.h"
#include "model/synth.h"
#include "tests/model/test_util.h"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace cpipe::model {
namespace {

TEST(Gpt2AllocTest, DecodeStepsAllocateNothing) {
  testing::TempDir dir;
  auto c = gpt2_preset("tiny");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(synthesize_gpt2(*c, 3, dir.path()).ok());
  for (WeightFormat f : {WeightFormat::kF32, WeightFormat::kBF16, WeightFormat::kInt8}) {
    Gpt2Options o;
    o.format = f;
    auto m = Gpt2Model::load(dir.path(), o);
    ASSERT_TRUE(m.ok());
    auto seq = (*m)->new_sequence();
    Sampler sampler(c->vocab_size);
    testing::SeededRandom rng(1);
    int32_t prompt[] = {1, 2, 3, 4};
    auto r = (*m)->forward(*seq, prompt);
    ASSERT_TRUE(r.ok());
    int32_t tok = greedy_token(*r);
    const long before = g_allocations.load();
    for (int i = 0; i < 10; ++i) {
      auto s = (*m)->forward(*seq, std::span<const int32_t>(&tok, 1));
      ASSERT_TRUE(s.ok());
      tok = sampler.sample(*s, {0.9f, 40, 0.95f}, rng);
    }
    EXPECT_EQ(g_allocations.load() - before, 0) << weight_format_name(f);
  }
}

}  // namespace
}  // namespace cpipe::model

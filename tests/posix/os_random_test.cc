// OsRandom: draws differ, cover every byte value, and large fills are complete.
#include "backends/posix/os_random.h"

#include <gtest/gtest.h>

#include <array>

namespace cpipe::posix {
namespace {

TEST(OsRandomTest, ConsecutiveDrawsDiffer) {
  OsRandom random;
  Bytes a = random.bytes(32);
  Bytes b = random.bytes(32);
  EXPECT_NE(a, b);
  EXPECT_NE(a, Bytes(32, 0));
  OsRandom other;
  EXPECT_NE(other.bytes(32), a);
}

TEST(OsRandomTest, LargeFillLooksUniform) {
  OsRandom random;
  Bytes big = random.bytes(1 << 20);
  std::array<size_t, 256> counts{};
  for (uint8_t v : big) ++counts[v];
  // Expected 4096 per value; a real generator stays far inside these bounds (p < 1e-30).
  for (size_t c : counts) {
    EXPECT_GT(c, 3400u);
    EXPECT_LT(c, 4800u);
  }
  // The last bytes were written too (a short getrandom read would leave zeros).
  EXPECT_NE(Bytes(big.end() - 64, big.end()), Bytes(64, 0));
}

TEST(OsRandomTest, HelpersWorkOnTop) {
  OsRandom random;
  for (int i = 0; i < 1000; ++i) {
    uint64_t v = random.uniform(10);
    EXPECT_LT(v, 10u);
  }
}

}  // namespace
}  // namespace cpipe::posix

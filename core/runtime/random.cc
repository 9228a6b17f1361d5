// Portable integer helpers over Random::fill.
#include "core/runtime/random.h"

#include <cassert>

namespace cpipe::runtime {

uint64_t Random::next_u64() {
  uint8_t b[8];
  fill(b);
  return load_u64_le(b);
}

uint64_t Random::uniform(uint64_t n) {
  assert(n > 0);
  // Lemire, "Fast Random Integer Generation in an Interval" (2019), with rejection.
  unsigned __int128 m = (unsigned __int128)next_u64() * n;
  uint64_t low = uint64_t(m);
  if (low < n) {
    uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = (unsigned __int128)next_u64() * n;
      low = uint64_t(m);
    }
  }
  return uint64_t(m >> 64);
}

int64_t Random::uniform_range(int64_t lo, int64_t hi) {
  assert(lo <= hi);
  uint64_t span = uint64_t(hi) - uint64_t(lo);
  if (span == UINT64_MAX) return int64_t(next_u64());
  return int64_t(uint64_t(lo) + uniform(span + 1));
}

bool Random::chance(uint64_t num, uint64_t den) {
  assert(den > 0);
  if (num >= den) return true;
  return uniform(den) < num;
}

Bytes Random::bytes(size_t n) {
  Bytes out(n);
  fill(out);
  return out;
}

}  // namespace cpipe::runtime

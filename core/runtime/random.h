// Random: the only source of randomness in core/, cryptographic randomness included. The
// simulator provides a seeded, portable generator (identical streams on every compiler and
// standard library); hardware backends provide the OS generator. The helpers below are defined
// here, in integer arithmetic, so the same draws give the same results everywhere.
#pragma once

#include <cstdint>
#include <span>

#include "core/base/bytes.h"

namespace cpipe::runtime {

class Random {
 public:
  virtual ~Random() = default;
  virtual void fill(MutableByteSpan out) = 0;

  uint64_t next_u64();
  // Uniform in [0, n) without modulo bias (Lemire's method). n must be > 0.
  uint64_t uniform(uint64_t n);
  // Uniform in [lo, hi], inclusive.
  int64_t uniform_range(int64_t lo, int64_t hi);
  // True with probability num/den.
  bool chance(uint64_t num, uint64_t den);
  Bytes bytes(size_t n);
};

}  // namespace cpipe::runtime

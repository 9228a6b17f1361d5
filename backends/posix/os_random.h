// OsRandom: runtime::Random from the kernel CSPRNG (getrandom(2)). Used on hardware and in local
// multi-process runs; the simulator has its own seeded generator instead. Thread-safe.
#pragma once

#include "core/runtime/random.h"

namespace cpipe::posix {

class OsRandom final : public runtime::Random {
 public:
  // Aborts if the kernel cannot supply randomness: there is no safe fallback for key material,
  // and fill() has no error channel.
  void fill(MutableByteSpan out) override;
};

}  // namespace cpipe::posix

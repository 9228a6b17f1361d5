// Memory for converted weights: 64-byte aligned, and for large blocks backed by transparent huge
// pages where the kernel allows it (decode streams every weight once per token; 2 MiB pages cut
// TLB misses and let hardware prefetchers run across what would be 4 KiB page boundaries).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace cpipe::model {

struct WeightMemoryDeleter {
  size_t bytes = 0;
  void operator()(void* p) const;
};
using WeightMemory = std::unique_ptr<uint8_t[], WeightMemoryDeleter>;

// Never fails silently: aborts on out-of-memory like operator new.
WeightMemory allocate_weight_memory(size_t bytes);

}  // namespace cpipe::model

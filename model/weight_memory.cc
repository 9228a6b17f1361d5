// Anonymous mmap + MADV_HUGEPAGE for large weight blocks, aligned_alloc for small ones.
#include "model/weight_memory.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <new>

namespace cpipe::model {
namespace {
constexpr size_t kHuge = size_t(2) << 20;
}

void WeightMemoryDeleter::operator()(void* p) const {
  if (!p) return;
  if (bytes >= kHuge) munmap(p, (bytes + kHuge - 1) / kHuge * kHuge);
  else std::free(p);
}

WeightMemory allocate_weight_memory(size_t bytes) {
  if (bytes >= kHuge) {
    const size_t len = (bytes + kHuge - 1) / kHuge * kHuge;
    // Over-map by one huge page so the block can start on a 2 MiB boundary.
    void* raw = mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    uintptr_t a = (reinterpret_cast<uintptr_t>(raw) + kHuge - 1) & ~(kHuge - 1);
    const size_t head = a - reinterpret_cast<uintptr_t>(raw);
    if (head) munmap(raw, head);
    const size_t tail = kHuge - head;
    if (tail) munmap(reinterpret_cast<void*>(a + len), tail);
    // Huge pages for the whole 2 MiB pages of the block only: a huge page over the partial tail
    // would make up to 2 MiB beyond `bytes` resident per block (about 46 MB over GPT-2 124M's
    // 48 matrices: what kept a sealed model's cold start above 1.15x its size).
    madvise(reinterpret_cast<void*>(a), bytes / kHuge * kHuge, MADV_HUGEPAGE);
    return WeightMemory(reinterpret_cast<uint8_t*>(a), WeightMemoryDeleter{bytes});
  }
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + (bytes == 0 ? 64 : 0));
  if (!p) throw std::bad_alloc();
  return WeightMemory(static_cast<uint8_t*>(p), WeightMemoryDeleter{bytes});
}

}  // namespace cpipe::model

// The compute kernels of the model engine and their runtime CPU dispatch. Each instruction set
// (portable C++, AVX2+FMA, AVX-512) provides the same table; the best one this CPU supports is
// chosen once, at first use (never from how the binary was compiled: the build machine is not
// the run machine).
//
// Weights are matrices [rows = out features, cols = in features] with rows contiguous, in one of
// three formats; activations are always fp32. Every output element is computed by exactly one
// thread in a fixed order, so results never depend on the thread count or on how a layer range
// was split into stages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cpipe::model {

enum class WeightFormat : uint8_t {
  kF32,   // exact
  kBF16,  // bfloat16 weights (round-to-nearest-even at load), fp32 accumulate
  kInt8,  // int8 weights, one symmetric scale per output row (max|w| / 127), fp32 activations
};
std::string_view weight_format_name(WeightFormat f);  // "fp32", "bf16", "int8"
bool weight_format_from_name(std::string_view name, WeightFormat* out);
size_t weight_format_bytes(WeightFormat f);  // bytes per weight

struct WeightMatrix {
  WeightFormat format = WeightFormat::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;      // rows * cols elements, row-major
  const float* scales = nullptr;   // int8 only: one per row
  size_t bytes() const { return size_t(rows) * size_t(cols) * weight_format_bytes(format); }
};

// Flags for matmul.
inline constexpr int kMatmulAccumulate = 1;  // y += result instead of y = result

struct KernelTable {
  const char* isa;
  // For t in [0, T) and r in [r0, r1):
  //   y[t*ldy + r] (+)= (sum_i w[r, i] * x[t*cols + i]) * scale[r] + bias[r]
  // bias may be null. Summation order depends only on cols (not on T, r0, r1 or threads).
  void (*matmul)(const WeightMatrix& w, const float* bias, const float* x, int64_t T, float* y,
                 int64_t ldy, int64_t r0, int64_t r1, int flags);
  float (*dot)(const float* a, const float* b, int64_t n);
  void (*axpy)(float a, const float* x, float* y, int64_t n);  // y += a * x
  // In place, y[i] = GPT-2's tanh GELU of y[i] (elementwise: independent of how y is split).
  void (*gelu)(float* y, int64_t n);
  // One attention query against n cached positions (k, v: [n][d], rows contiguous):
  //   out[0, d) = softmax_j(scale * q·k_j) weighted sum of v_j. scores: n floats of scratch.
  void (*attend)(const float* q, const float* k, const float* v, int64_t n, int64_t d, float scale,
                 float* scores, float* out);
  // Reads [p, p + bytes) once (the memory-bandwidth floor of the bench); returns a checksum so
  // the reads cannot be optimised away. p is 64-byte aligned, bytes a multiple of 64.
  uint64_t (*stream_read)(const void* p, size_t bytes);
};

// The best table for this CPU.
const KernelTable& kernels();
// A named table ("portable", "avx2", "avx512", "avx512bf16") if this CPU can run it, else nullptr.
const KernelTable* kernels_for(std::string_view isa);
// Makes kernels() return `isa` from now on (tests and benches compare ISAs). False if the CPU
// cannot run it.
bool set_kernel_isa(std::string_view isa);

// Per-ISA tables (defined in kernels_*.cc).
const KernelTable& portable_kernels();
const KernelTable& avx2_kernels();
const KernelTable& avx512_kernels();
// Portable GELU and attention, shared by the tables that have no vector version of their own.
void gelu_portable(float* y, int64_t n);
void attend_portable(const float* q, const float* k, const float* v, int64_t n, int64_t d, float scale,
                     float* scores, float* out);
void avx512_bf16_matmul(const WeightMatrix& w, const float* bias, const float* x, int64_t T, float* y,
                        int64_t ldy, int64_t r0, int64_t r1, int flags);
// int8 weights with VNNI (needs avx512vnni); false if x is not finite (then nothing was written).
bool avx512_vnni_matmul_int8(const WeightMatrix& w, const float* bias, const float* x, int64_t T, float* y,
                             int64_t ldy, int64_t r0, int64_t r1, int flags);
// Per-thread scratch that only grows (steady-state decode never allocates).
uint16_t* bf16_split_scratch(size_t elements);
float* f32_scratch(size_t elements);

// Conversions used at load time.
uint16_t f32_to_bf16(float f);  // round to nearest even; NaN stays NaN
float bf16_to_f32(uint16_t b);
// Quantizes one row: returns its scale (0 for an all-zero row) and writes q.
float quantize_row_int8(const float* w, int64_t n, int8_t* q);

}  // namespace cpipe::model

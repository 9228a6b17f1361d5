// Portable kernels, format conversions and the runtime ISA dispatch.
#include "model/kernels.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

namespace cpipe::model {
namespace {

template <typename W>
inline float load_weight(const W* p, int64_t i);
template <>
inline float load_weight<float>(const float* p, int64_t i) { return p[i]; }
template <>
inline float load_weight<uint16_t>(const uint16_t* p, int64_t i) { return bf16_to_f32(p[i]); }
template <>
inline float load_weight<int8_t>(const int8_t* p, int64_t i) { return float(p[i]); }

// Eight interleaved partial sums (like an 8-lane vector) so the compiler can keep them in
// registers; the order is fixed, so results are deterministic.
template <typename W>
float row_dot(const W* w, const float* x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += load_weight(w, i + k) * x[i + k];
  for (int k = 0; i + k < n; ++k) acc[k] += load_weight(w, i + k) * x[i + k];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

template <typename W>
void matmul_t(const WeightMatrix& m, const float* bias, const float* x, int64_t T, float* y,
              int64_t ldy, int64_t r0, int64_t r1, int flags) {
  const W* w = static_cast<const W*>(m.data);
  for (int64_t t = 0; t < T; ++t) {
    const float* xt = x + t * m.cols;
    for (int64_t r = r0; r < r1; ++r) {
      float v = row_dot(w + r * m.cols, xt, m.cols);
      if (m.scales) v *= m.scales[r];
      if (bias) v += bias[r];
      float& out = y[t * ldy + r];
      out = (flags & kMatmulAccumulate) ? out + v : v;
    }
  }
}

void matmul_portable(const WeightMatrix& m, const float* bias, const float* x, int64_t T, float* y,
                     int64_t ldy, int64_t r0, int64_t r1, int flags) {
  switch (m.format) {
    case WeightFormat::kF32: return matmul_t<float>(m, bias, x, T, y, ldy, r0, r1, flags);
    case WeightFormat::kBF16: return matmul_t<uint16_t>(m, bias, x, T, y, ldy, r0, r1, flags);
    case WeightFormat::kInt8: return matmul_t<int8_t>(m, bias, x, T, y, ldy, r0, r1, flags);
  }
}

float dot_portable(const float* a, const float* b, int64_t n) { return row_dot(a, b, n); }

void axpy_portable(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

uint64_t stream_read_portable(const void* p, size_t bytes) {
  const uint64_t* q = static_cast<const uint64_t*>(p);
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i + 4 <= bytes / 8; i += 4) {
    s0 ^= q[i];
    s1 ^= q[i + 1];
    s2 ^= q[i + 2];
    s3 ^= q[i + 3];
  }
  return s0 ^ s1 ^ s2 ^ s3;
}

const KernelTable kPortable = {"portable",   matmul_portable, dot_portable, axpy_portable,
                               gelu_portable, attend_portable, stream_read_portable};

bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("fma");
}

bool cpu_has_avx512_bf16();
const KernelTable& avx512bf16_table();

const KernelTable* best_table() {
  if (cpu_has_avx512_bf16()) return &avx512bf16_table();
  if (cpu_has_avx512()) return &avx512_kernels();
  if (cpu_has_avx2()) return &avx2_kernels();
  return &kPortable;
}

std::atomic<const KernelTable*> g_active{nullptr};

// Every CPU with AVX512-BF16 so far (Cooper Lake, Sapphire Rapids, Zen 4) also has VNNI; the
// table uses both.
bool cpu_has_avx512_bf16() {
  return cpu_has_avx512() && __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vnni");
}

// AVX-512 with the vdpbf16ps matmul for bf16 weights (kernels_avx512_bf16.cc).
void matmul_avx512bf16(const WeightMatrix& m, const float* bias, const float* x, int64_t T, float* y,
                       int64_t ldy, int64_t r0, int64_t r1, int flags) {
  if (m.format == WeightFormat::kBF16) return avx512_bf16_matmul(m, bias, x, T, y, ldy, r0, r1, flags);
  if (m.format == WeightFormat::kInt8 && avx512_vnni_matmul_int8(m, bias, x, T, y, ldy, r0, r1, flags)) return;
  avx512_kernels().matmul(m, bias, x, T, y, ldy, r0, r1, flags);
}

const KernelTable& avx512bf16_table() {
  const KernelTable& b = avx512_kernels();
  static const KernelTable t = {"avx512bf16", matmul_avx512bf16, b.dot,       b.axpy,
                                b.gelu,       b.attend,          b.stream_read};
  return t;
}

}  // namespace

void gelu_portable(float* y, int64_t n) {
  // GPT-2's "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  const float k = 0.7978845608028654f;
  for (int64_t i = 0; i < n; ++i) {
    const float x = y[i];
    y[i] = 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
  }
}

void attend_portable(const float* q, const float* k, const float* v, int64_t n, int64_t d, float scale,
                     float* scores, float* out) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < n; ++j) {
    scores[j] = row_dot(q, k + j * d, d) * scale;
    mx = std::max(mx, scores[j]);
  }
  float sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    scores[j] = std::exp(scores[j] - mx);
    sum += scores[j];
  }
  const float inv = 1.0f / sum;
  std::memset(out, 0, size_t(d) * 4);
  for (int64_t j = 0; j < n; ++j) axpy_portable(scores[j] * inv, v + j * d, out, d);
}

uint16_t* bf16_split_scratch(size_t elements) {
  thread_local std::vector<uint16_t> buf;
  if (buf.size() < elements) buf.resize(elements);
  return buf.data();
}

float* f32_scratch(size_t elements) {
  thread_local std::vector<float> buf;
  if (buf.size() < elements) buf.resize(elements);
  return buf.data();
}

const KernelTable& portable_kernels() { return kPortable; }

const KernelTable* kernels_for(std::string_view isa) {
  if (isa == "portable") return &kPortable;
  if (isa == "avx2") return cpu_has_avx2() ? &avx2_kernels() : nullptr;
  if (isa == "avx512") return cpu_has_avx512() ? &avx512_kernels() : nullptr;
  if (isa == "avx512bf16") return cpu_has_avx512_bf16() ? &avx512bf16_table() : nullptr;
  return nullptr;
}

const KernelTable& kernels() {
  const KernelTable* t = g_active.load(std::memory_order_acquire);
  if (!t) {
    t = best_table();
    g_active.store(t, std::memory_order_release);
  }
  return *t;
}

bool set_kernel_isa(std::string_view isa) {
  const KernelTable* t = kernels_for(isa);
  if (!t) return false;
  g_active.store(t, std::memory_order_release);
  return true;
}

std::string_view weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::kF32: return "fp32";
    case WeightFormat::kBF16: return "bf16";
    case WeightFormat::kInt8: return "int8";
  }
  return "?";
}

bool weight_format_from_name(std::string_view name, WeightFormat* out) {
  if (name == "fp32" || name == "f32") *out = WeightFormat::kF32;
  else if (name == "bf16") *out = WeightFormat::kBF16;
  else if (name == "int8") *out = WeightFormat::kInt8;
  else return false;
  return true;
}

size_t weight_format_bytes(WeightFormat f) {
  switch (f) {
    case WeightFormat::kF32: return 4;
    case WeightFormat::kBF16: return 2;
    case WeightFormat::kInt8: return 1;
  }
  return 0;
}

uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

float bf16_to_f32(uint16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float quantize_row_int8(const float* w, int64_t n, int8_t* q) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(w[i]));
  if (amax == 0) {
    std::memset(q, 0, size_t(n));
    return 0;
  }
  const float scale = amax / 127.0f;
  const float inv = 127.0f / amax;
  for (int64_t i = 0; i < n; ++i) {
    float v = std::nearbyint(w[i] * inv);
    v = std::fmin(127.0f, std::fmax(-127.0f, v));
    q[i] = int8_t(v);
  }
  return scale;
}

}  // namespace cpipe::model

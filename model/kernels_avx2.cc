// AVX2 + FMA kernels. Everything after the target pragma has internal linkage and calls no
// inline library code, so no AVX2 instruction can leak into code the portable path shares.
// GCC 12 reports its own _mm512_undefined_*() helpers as uninitialised once inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "model/kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi2")

namespace cpipe::model {
namespace {

// Weight rows are short streams (0.75-12 KiB) that hardware prefetchers barely train on, but the
// matrix is one sequential region: prefetch each row pointer whole groups of 4 rows ahead, about
// 8 KiB (tuned on a 2-vCPU EPYC: 8 KiB beat 4, 16 and 32 KiB; prefetches never fault past the end).
constexpr int64_t kPrefetchBytes = 8192;
inline int64_t prefetch_ahead(int64_t cols, int64_t elem_bytes) {
  const int64_t group = 4 * cols * elem_bytes;  // bytes of one group of 4 rows
  const int64_t groups = group >= kPrefetchBytes ? 1 : kPrefetchBytes / group;
  return groups * 4 * cols;  // in elements: whole groups ahead, at least one
}


inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) {
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
inline __m256 load8(const int8_t* p) {
  __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
}

// Copies a tail of fewer than 8 elements into a zero-padded block.
template <typename T>
inline void pad8(const T* src, int64_t k, T* dst) {
  for (int j = 0; j < 8; ++j) dst[j] = j < k ? src[j] : T(0);
}

inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <typename W, int R, int TT>
inline void tile(const W* w, int64_t ldw, int64_t pf, const float* x, int64_t ldx, int64_t n, float out[R][TT]) {
  __m256 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = _mm256_loadu_ps(x + t * ldx + i);
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(w + r * ldw + pf + i), _MM_HINT_T0);
      __m256 wv = load8(w + r * ldw + i);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  if (i < n) {
    const int64_t k = n - i;
    __m256 xv[TT];
    for (int t = 0; t < TT; ++t) {
      alignas(32) float xb[8];
      pad8(x + t * ldx + i, k, xb);
      xv[t] = _mm256_load_ps(xb);
    }
    for (int r = 0; r < R; ++r) {
      alignas(32) W wb[8];
      pad8(w + r * ldw + i, k, wb);
      __m256 wv = load8(wb);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) out[r][t] = hsum(acc[r][t]);
}

template <int R, int TT>
inline void store(const float out[R][TT], int64_t r, int64_t t, const float* scales, const float* bias,
                  float* y, int64_t ldy, int flags) {
  for (int a = 0; a < R; ++a) {
    for (int b = 0; b < TT; ++b) {
      float v = out[a][b];
      if (scales) v *= scales[r + a];
      if (bias) v += bias[r + a];
      float& o = y[(t + b) * ldy + r + a];
      o = (flags & kMatmulAccumulate) ? o + v : v;
    }
  }
}

template <typename W, int R>
inline void rows_block(const W* w, const WeightMatrix& m, const float* bias, const float* x, int64_t T,
                       float* y, int64_t ldy, int64_t r, int flags) {
  const int64_t n = m.cols;
  const W* wr = w + r * n;
  const int64_t pf = prefetch_ahead(n, sizeof(W));
  int64_t t = 0;
  for (; t + 2 <= T; t += 2) {
    float out[R][2];
    tile<W, R, 2>(wr, n, pf, x + t * n, n, n, out);
    store<R, 2>(out, r, t, m.scales, bias, y, ldy, flags);
  }
  for (; t < T; ++t) {
    float out[R][1];
    tile<W, R, 1>(wr, n, pf, x + t * n, n, n, out);
    store<R, 1>(out, r, t, m.scales, bias, y, ldy, flags);
  }
}

template <typename W>
void matmul_t(const WeightMatrix& m, const float* bias, const float* x, int64_t T, float* y,
              int64_t ldy, int64_t r0, int64_t r1, int flags) {
  const W* w = static_cast<const W*>(m.data);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) rows_block<W, 4>(w, m, bias, x, T, y, ldy, r, flags);
  for (; r < r1; ++r) rows_block<W, 1>(w, m, bias, x, T, y, ldy, r, flags);
}

void matmul(const WeightMatrix& m, const float* bias, const float* x, int64_t T, float* y,
            int64_t ldy, int64_t r0, int64_t r1, int flags) {
  switch (m.format) {
    case WeightFormat::kF32: return matmul_t<float>(m, bias, x, T, y, ldy, r0, r1, flags);
    case WeightFormat::kBF16: return matmul_t<uint16_t>(m, bias, x, T, y, ldy, r0, r1, flags);
    case WeightFormat::kInt8: return matmul_t<int8_t>(m, bias, x, T, y, ldy, r0, r1, flags);
  }
}

float dot(const float* a, const float* b, int64_t n) {
  float out[1][1];
  tile<float, 1, 1>(a, n, 0, b, n, n, out);
  return out[0][0];
}

void axpy(float a, const float* x, float* y, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = __builtin_fmaf(a, x[i], y[i]);
}

uint64_t stream_read(const void* p, size_t bytes) {
  const __m256i* q = static_cast<const __m256i*>(p);
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  size_t n = bytes / 32, i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 = _mm256_xor_si256(s0, _mm256_load_si256(q + i));
    s1 = _mm256_xor_si256(s1, _mm256_load_si256(q + i + 1));
    s2 = _mm256_xor_si256(s2, _mm256_load_si256(q + i + 2));
    s3 = _mm256_xor_si256(s3, _mm256_load_si256(q + i + 3));
  }
  for (; i < n; ++i) s0 = _mm256_xor_si256(s0, _mm256_load_si256(q + i));
  __m256i s = _mm256_xor_si256(_mm256_xor_si256(s0, s1), _mm256_xor_si256(s2, s3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
}

const KernelTable kTable = {"avx2", matmul, dot, axpy, gelu_portable, attend_portable, stream_read};

}  // namespace

const KernelTable& avx2_kernels() { return kTable; }

}  // namespace cpipe::model

#pragma GCC pop_options

// AVX-512 BF16 matmul for bf16 weights (vdpbf16ps: 32 multiply-adds per instruction, fp32
// accumulate). Activations stay effectively fp32: each x is split into x_hi = bf16(x) and
// x_lo = bf16(x - x_hi), and w·x is computed as w·x_hi + w·x_lo (x kept to ~16 mantissa bits,
// products exact). Other formats use the plain AVX-512 kernels. Same isolation rules as
// kernels_avx512.cc: internal linkage after the target pragma, no inline library code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "model/kernels.h"

namespace cpipe::model {
// Per-thread scratch for the split activations (kernels.cc; grows only, so steady-state decode
// does not allocate).
}  // namespace cpipe::model

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma,avx2,bmi2")

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


inline __m512bh as_bh(__m512i v) { return (__m512bh)v; }

template <int R, int TT>
inline void tile(const uint16_t* w, int64_t ldw, int64_t pf, const uint16_t* xh, const uint16_t* xl, int64_t ldx,
                 int64_t n, float out[R][TT]) {
  __m512 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i < n; i += 32) {
    const __mmask32 m = n - i >= 32 ? ~__mmask32(0) : __mmask32((1u << (n - i)) - 1);
    __m512i hv[TT], lv[TT];
    for (int t = 0; t < TT; ++t) {
      hv[t] = _mm512_maskz_loadu_epi16(m, xh + t * ldx + i);
      lv[t] = _mm512_maskz_loadu_epi16(m, xl + t * ldx + i);
    }
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(w + r * ldw + pf + i), _MM_HINT_T0);
      const __m512i wv = _mm512_maskz_loadu_epi16(m, w + r * ldw + i);
      for (int t = 0; t < TT; ++t) {
        acc[r][t] = _mm512_dpbf16_ps(acc[r][t], as_bh(wv), as_bh(hv[t]));
        acc[r][t] = _mm512_dpbf16_ps(acc[r][t], as_bh(wv), as_bh(lv[t]));
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) out[r][t] = _mm512_reduce_add_ps(acc[r][t]);
}

template <int R, int TT>
inline void store(const float out[R][TT], int64_t r, int64_t t, const float* bias, float* y, int64_t ldy,
                  int flags) {
  for (int a = 0; a < R; ++a) {
    for (int b = 0; b < TT; ++b) {
      float v = out[a][b];
      if (bias) v += bias[r + a];
      float& o = y[(t + b) * ldy + r + a];
      o = (flags & kMatmulAccumulate) ? o + v : v;
    }
  }
}

template <int R>
inline void rows_block(const uint16_t* w, int64_t n, const float* bias, const uint16_t* xh, const uint16_t* xl,
                       int64_t T, float* y, int64_t ldy, int64_t r, int flags) {
  const uint16_t* wr = w + r * n;
  const int64_t pf = prefetch_ahead(n, 2);
  int64_t t = 0;
  for (; t + 4 <= T; t += 4) {
    float out[R][4];
    tile<R, 4>(wr, n, pf, xh + t * n, xl + t * n, n, n, out);
    store<R, 4>(out, r, t, bias, y, ldy, flags);
  }
  for (; t < T; ++t) {
    float out[R][1];
    tile<R, 1>(wr, n, pf, xh + t * n, xl + t * n, n, n, out);
    store<R, 1>(out, r, t, bias, y, ldy, flags);
  }
}

void matmul_bf16(const WeightMatrix& m, const float* bias, const float* x, int64_t T, float* y, int64_t ldy,
                 int64_t r0, int64_t r1, int flags) {
  const int64_t n = m.cols, total = T * n;
  // Decode (one row of x) splits on the stack; only large prefill batches use the per-thread
  // heap scratch, so no decode step allocates, on any thread.
  alignas(64) uint16_t stack_buf[2 * 8192];
  uint16_t* xh = 2 * total <= int64_t(sizeof(stack_buf) / 2) ? stack_buf : bf16_split_scratch(size_t(2 * total));
  uint16_t* xl = xh + total;
  int64_t k = 0;
  for (; k + 16 <= total; k += 16) {
    const __m512 v = _mm512_loadu_ps(x + k);
    const __m256bh h = _mm512_cvtneps_pbh(v);
    const __m512 hf = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)h), 16));
    const __m256bh l = _mm512_cvtneps_pbh(_mm512_sub_ps(v, hf));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(xh + k), (__m256i)h);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(xl + k), (__m256i)l);
  }
  if (k < total) {
    const __mmask16 mk = __mmask16((1u << (total - k)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(mk, x + k);
    const __m256bh h = _mm512_cvtneps_pbh(v);
    const __m512 hf = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)h), 16));
    const __m256bh l = _mm512_cvtneps_pbh(_mm512_sub_ps(v, hf));
    _mm256_mask_storeu_epi16(xh + k, mk, (__m256i)h);
    _mm256_mask_storeu_epi16(xl + k, mk, (__m256i)l);
  }
  const uint16_t* w = static_cast<const uint16_t*>(m.data);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) rows_block<4>(w, n, bias, xh, xl, T, y, ldy, r, flags);
  for (; r < r1; ++r) rows_block<1>(w, n, bias, xh, xl, T, y, ldy, r, flags);
}

}  // namespace

// Defined here (inside the pragma) only to be reached through the table below.
void avx512_bf16_matmul(const WeightMatrix& m, const float* bias, const float* x, int64_t T, float* y,
                        int64_t ldy, int64_t r0, int64_t r1, int flags) {
  matmul_bf16(m, bias, x, T, y, ldy, r0, r1, flags);
}

}  // namespace cpipe::model

#pragma GCC pop_options

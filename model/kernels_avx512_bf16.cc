// AVX-512 BF16 + VNNI matmuls: bf16 weights with vdpbf16ps (32 multiply-adds per instruction, fp32
// accumulate). Activations stay effectively fp32: each x is split into x_hi = bf16(x) and
// x_lo = bf16(x - x_hi), and w·x is computed as w·x_hi + w·x_lo (x kept to ~16 mantissa bits,
// products exact). int8 weights use VNNI's vpdpwssd (32 int16 multiply-adds per instruction, int32
// accumulate) against activations split the same way into two int16 digits per token (x / s =
// hi + lo / 2^15 with s = max|x| / 32766: ~30 bits, so x stays effectively fp32), which replaces
// two int8->fp32 conversions per 16 weights by one int8->int16 widening per 32. fp32 weights use
// the plain AVX-512 kernels. Same isolation rules as
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
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx512vnni,fma,avx2,bmi2")

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

// The hi and lo products go to separate accumulators: two dependent vdpbf16ps per step on one
// accumulator made the loop latency-bound (8 independent chains instead of 4 for 4 rows).
template <int R, int TT>
inline void tile(const uint16_t* w, int64_t ldw, int64_t pf, const uint16_t* xh, const uint16_t* xl, int64_t ldx,
                 int64_t n, float out[R][TT]) {
  __m512 acc[R][TT], acl[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = acl[r][t] = _mm512_setzero_ps();
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
        acl[r][t] = _mm512_dpbf16_ps(acl[r][t], as_bh(wv), as_bh(lv[t]));
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) out[r][t] = _mm512_reduce_add_ps(_mm512_add_ps(acc[r][t], acl[r][t]));
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
  for (; t + 2 <= T; t += 2) {  // 2 tokens: 16 accumulators + 4 activation vectors fit the registers
    float out[R][2];
    tile<R, 2>(wr, n, pf, xh + t * n, xl + t * n, n, n, out);
    store<R, 2>(out, r, t, bias, y, ldy, flags);
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
  // Decode (T = 1) walks one row at a time: one sequential stream per thread, which the hardware
  // prefetcher follows better than 4 interleaved rows; batches share each weight load over 4 rows.
  if (T > 1)
    for (; r + 4 <= r1; r += 4) rows_block<4>(w, n, bias, xh, xl, T, y, ldy, r, flags);
  for (; r < r1; ++r) rows_block<1>(w, n, bias, xh, xl, T, y, ldy, r, flags);
}

// int32 lanes accumulate at most 2 * 127 * 32767 per 32 columns, so they are flushed to fp32
// every 4096 columns (2^31 would be reached after ~8256).
constexpr int64_t kVnniBlock = 4096;

// q holds, per token, hi[np] then lo[np] (np = cols rounded up to 32, zero padded).
template <int R, int TT>
inline void tile_i8(const int8_t* w, int64_t ldw, int64_t pf, const int16_t* q, int64_t ldq, int64_t np,
                    int64_t n, float out[R][TT]) {
  __m512 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();
  const __m512 lo_unit = _mm512_set1_ps(1.0f / 32768.0f);
  for (int64_t b = 0; b < n; b += kVnniBlock) {
    const int64_t e = n - b < kVnniBlock ? n : b + kVnniBlock;
    __m512i hi[R][TT], lo[R][TT];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < TT; ++t) hi[r][t] = lo[r][t] = _mm512_setzero_si512();
    for (int64_t i = b; i < e; i += 32) {
      const __mmask32 m = e - i >= 32 ? ~__mmask32(0) : __mmask32((1u << (e - i)) - 1);
      __m512i hv[TT], lv[TT];
      for (int t = 0; t < TT; ++t) {
        hv[t] = _mm512_loadu_si512(q + t * ldq + i);
        lv[t] = _mm512_loadu_si512(q + t * ldq + np + i);
      }
      for (int r = 0; r < R; ++r) {
        if ((i & 63) == 0) _mm_prefetch(reinterpret_cast<const char*>(w + r * ldw + pf + i), _MM_HINT_T0);
        const __m512i wv = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, w + r * ldw + i));
        for (int t = 0; t < TT; ++t) {
          hi[r][t] = _mm512_dpwssd_epi32(hi[r][t], wv, hv[t]);
          lo[r][t] = _mm512_dpwssd_epi32(lo[r][t], wv, lv[t]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < TT; ++t)
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo[r][t]), lo_unit,
                                    _mm512_add_ps(acc[r][t], _mm512_cvtepi32_ps(hi[r][t])));
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) out[r][t] = _mm512_reduce_add_ps(acc[r][t]);
}

// Decode's single row and token: two sets of accumulators (even and odd 32-column steps) so
// consecutive vpdpwssd do not wait on each other. Integer sums are exact, so the result is bit
// for bit tile_i8's.
inline float row_i8(const int8_t* w, int64_t pf, const int16_t* q, int64_t np, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  const __m512 lo_unit = _mm512_set1_ps(1.0f / 32768.0f);
  for (int64_t b = 0; b < n; b += kVnniBlock) {
    const int64_t e = n - b < kVnniBlock ? n : b + kVnniBlock;
    __m512i h0 = _mm512_setzero_si512(), h1 = h0, l0 = h0, l1 = h0;
    int64_t i = b;
    for (; i + 64 <= e; i += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(w + pf + i), _MM_HINT_T0);
      const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i)));
      const __m512i w1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 32)));
      h0 = _mm512_dpwssd_epi32(h0, w0, _mm512_loadu_si512(q + i));
      l0 = _mm512_dpwssd_epi32(l0, w0, _mm512_loadu_si512(q + np + i));
      h1 = _mm512_dpwssd_epi32(h1, w1, _mm512_loadu_si512(q + i + 32));
      l1 = _mm512_dpwssd_epi32(l1, w1, _mm512_loadu_si512(q + np + i + 32));
    }
    for (; i < e; i += 32) {
      const __mmask32 m = e - i >= 32 ? ~__mmask32(0) : __mmask32((1u << (e - i)) - 1);
      const __m512i wv = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, w + i));
      h0 = _mm512_dpwssd_epi32(h0, wv, _mm512_loadu_si512(q + i));
      l0 = _mm512_dpwssd_epi32(l0, wv, _mm512_loadu_si512(q + np + i));
    }
    const __m512i h = _mm512_add_epi32(h0, h1), l = _mm512_add_epi32(l0, l1);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(l), lo_unit, _mm512_add_ps(acc, _mm512_cvtepi32_ps(h)));
  }
  return _mm512_reduce_add_ps(acc);
}

template <int R, int TT>
inline void store_i8(const float out[R][TT], int64_t r, int64_t t, const float* xs, const float* scales,
                     const float* bias, float* y, int64_t ldy, int flags) {
  for (int a = 0; a < R; ++a) {
    for (int b = 0; b < TT; ++b) {
      float v = out[a][b] * xs[t + b] * scales[r + a];
      if (bias) v += bias[r + a];
      float& o = y[(t + b) * ldy + r + a];
      o = (flags & kMatmulAccumulate) ? o + v : v;
    }
  }
}

template <int R>
inline void rows_block_i8(const int8_t* w, const WeightMatrix& m, const float* bias, const int16_t* q, int64_t np,
                          const float* xs, int64_t T, float* y, int64_t ldy, int64_t r, int flags) {
  const int64_t n = m.cols;
  const int8_t* wr = w + r * n;
  const int64_t pf = prefetch_ahead(n, 1);
  int64_t t = 0;
  for (; t + 2 <= T; t += 2) {  // 2 tokens: 16 int32 accumulators + 4 digit vectors fit the registers
    float out[R][2];
    tile_i8<R, 2>(wr, n, pf, q + t * 2 * np, 2 * np, np, n, out);
    store_i8<R, 2>(out, r, t, xs, m.scales, bias, y, ldy, flags);
  }
  for (; t < T; ++t) {
    float out[R][1];
    if constexpr (R == 1) out[0][0] = row_i8(wr, pf, q + t * 2 * np, np, n);
    else tile_i8<R, 1>(wr, n, pf, q + t * 2 * np, 2 * np, np, n, out);
    store_i8<R, 1>(out, r, t, xs, m.scales, bias, y, ldy, flags);
  }
}

// Returns false (nothing written) if x holds a NaN or an infinity: the fp32 kernel then
// propagates it exactly as the other formats do.
bool matmul_int8(const WeightMatrix& m, const float* bias, const float* x, int64_t T, float* y, int64_t ldy,
                 int64_t r0, int64_t r1, int flags) {
  const int64_t n = m.cols, np = (n + 31) / 32 * 32, total = 2 * T * np;
  alignas(64) int16_t stack_q[2 * 8192];
  alignas(64) float stack_s[64];
  int16_t* q = total <= int64_t(sizeof(stack_q) / 2) ? stack_q
                                                     : reinterpret_cast<int16_t*>(bf16_split_scratch(size_t(total)));
  float* xs = T <= 64 ? stack_s : f32_scratch(size_t(T));
  for (int64_t t = 0; t < T; ++t) {
    const float* xt = x + t * n;
    __m512 amax = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(xt + i)));
    if (i < n) amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_maskz_loadu_ps(__mmask16((1u << (n - i)) - 1), xt + i)));
    const float mx = _mm512_reduce_max_ps(amax);
    if (!(mx <= 3.40282347e38f)) return false;  // NaN or inf
    xs[t] = mx / 32766.0f;
    const __m512 inv = _mm512_set1_ps(mx > 0 ? 32766.0f / mx : 0.0f);
    int16_t* hi = q + t * 2 * np;
    int16_t* lo = hi + np;
    for (i = 0; i < np; i += 16) {
      const __mmask16 mk = n - i >= 16 ? __mmask16(0xffff) : n - i <= 0 ? __mmask16(0) : __mmask16((1u << (n - i)) - 1);
      const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, xt + i), inv);
      const __m512i h = _mm512_cvtps_epi32(v);  // round to nearest even, |h| <= 32766
      const __m512i l = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_sub_ps(v, _mm512_cvtepi32_ps(h)),
                                                         _mm512_set1_ps(32768.0f)));  // |l| <= 16384
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(hi + i), _mm512_cvtepi32_epi16(h));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo + i), _mm512_cvtepi32_epi16(l));
    }
  }
  const int8_t* w = static_cast<const int8_t*>(m.data);
  int64_t r = r0;
  if (T > 1)  // decode walks one row at a time (see matmul_bf16)
    for (; r + 4 <= r1; r += 4) rows_block_i8<4>(w, m, bias, q, np, xs, T, y, ldy, r, flags);
  for (; r < r1; ++r) rows_block_i8<1>(w, m, bias, q, np, xs, T, y, ldy, r, flags);
  return true;
}

}  // namespace

bool avx512_vnni_matmul_int8(const WeightMatrix& m, const float* bias, const float* x, int64_t T, float* y,
                             int64_t ldy, int64_t r0, int64_t r1, int flags) {
  return matmul_int8(m, bias, x, T, y, ldy, r0, r1, flags);
}

// Defined here (inside the pragma) only to be reached through the table below.
void avx512_bf16_matmul(const WeightMatrix& m, const float* bias, const float* x, int64_t T, float* y,
                        int64_t ldy, int64_t r0, int64_t r1, int flags) {
  matmul_bf16(m, bias, x, T, y, ldy, r0, r1, flags);
}

}  // namespace cpipe::model

#pragma GCC pop_options

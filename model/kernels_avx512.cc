// AVX-512 kernels (F, BW, VL, DQ + FMA). Everything after the target pragma has internal linkage
// and calls no inline library code, so no AVX-512 instruction can leak into a function the
// portable path shares (the ODR hazard of per-file ISA flags).
// GCC 12 reports its own _mm512_undefined_*() helpers as uninitialised once inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "model/kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx2,bmi2")

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


inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load16(const uint16_t* p) {
  __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline __m512 load16(const int8_t* p) {
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b));
}
inline __m512 load16m(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load16m(const uint16_t* p, __mmask16 m) {
  __m256i h = _mm256_maskz_loadu_epi16(m, p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline __m512 load16m(const int8_t* p, __mmask16 m) {
  __m128i b = _mm_maskz_loadu_epi8(m, p);
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b));
}

// R weight rows x TT tokens; one accumulator per (row, token), so each output's summation order
// is the same whatever tile it is computed in.
template <typename W, int R, int TT>
inline void tile(const W* w, int64_t ldw, int64_t pf, const float* x, int64_t ldx, int64_t n, float out[R][TT]) {
  __m512 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = _mm512_loadu_ps(x + t * ldx + i);
    for (int r = 0; r < R; ++r) {
      // One prefetch per cache line of the row (int8 advances 16 bytes per step).
      if (((i * int64_t(sizeof(W))) & 63) == 0)
        _mm_prefetch(reinterpret_cast<const char*>(w + r * ldw + pf + i), _MM_HINT_T0);
      __m512 wv = load16(w + r * ldw + i);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    __m512 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = _mm512_maskz_loadu_ps(m, x + t * ldx + i);
    for (int r = 0; r < R; ++r) {
      __m512 wv = load16m(w + r * ldw + i, m);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) out[r][t] = _mm512_reduce_add_ps(acc[r][t]);
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
  for (; t + 4 <= T; t += 4) {
    float out[R][4];
    tile<W, R, 4>(wr, n, pf, x + t * n, n, n, out);
    store<R, 4>(out, r, t, m.scales, bias, y, ldy, flags);
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
  // Decode (T = 1) walks one row at a time: one sequential stream per thread, which the hardware
  // prefetcher follows better than 4 interleaved rows; batches share each weight load over 4 rows.
  if (T > 1)
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
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m,
                          _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

// e^x, 1-2 ulp (Cephes' expf: x = n ln2 + r with ln2 in two parts, |r| <= ln2/2, degree-6
// polynomial, 2^n applied by vscalefps, which saturates to 0 / inf without integer overflow).
inline __m512 exp16(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));  // e^-104 is already 0 in fp32
  x = _mm512_min_ps(x, _mm512_set1_ps(89.0f));     // e^89 is already inf
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// 0.5 x (1 + tanh(u)) = x / (1 + e^(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3): one exp and one
// division, no cancellation near 0 (max error a few ulp against the libm tanh form).
inline __m512 gelu16(__m512 x) {
  const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
  const __m512 u = _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, x);
  const __m512 e = exp16(_mm512_mul_ps(u, _mm512_set1_ps(-2.0f * 0.7978845608028654f)));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

void gelu(float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, gelu16(_mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, gelu16(_mm512_maskz_loadu_ps(m, y + i)));
  }
}

// Scores with the dot-product tile, softmax 16 positions at a time, then the weighted sum of v
// with the output held in registers 16 lanes at a time (no load/store of out per position).
void attend(const float* q, const float* k, const float* v, int64_t n, int64_t d, float scale, float* scores,
            float* out) {
  // Four positions at a time (independent accumulator chains), prefetching the matching rows
  // of v, which the weighted sum reads next (the KV cache is not in cache after a token's weights).
  int64_t j = 0;
  for (; j < n; j += 4) {
    const int P = n - j >= 4 ? 4 : int(n - j);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t i = 0; i < d; i += 16) {
      const __mmask16 m = d - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (d - i)) - 1);
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
      for (int c = 0; c < P; ++c) {
        _mm_prefetch(reinterpret_cast<const char*>(v + (j + c) * d + i), _MM_HINT_T0);
        acc[c] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + (j + c) * d + i), acc[c]);
      }
    }
    for (int c = 0; c < P; ++c) scores[j + c] = _mm512_reduce_add_ps(acc[c]) * scale;
  }
  __m512 mx = _mm512_set1_ps(-INFINITY);
  j = 0;
  for (; j + 16 <= n; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(scores + j));
  const __mmask16 tail = __mmask16((1u << (n - j)) - 1);
  if (j < n) mx = _mm512_mask_max_ps(mx, tail, mx, _mm512_maskz_loadu_ps(tail, scores + j));
  const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  for (j = 0; j + 16 <= n; j += 16) {
    const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(scores + j), m));
    _mm512_storeu_ps(scores + j, e);
    sum = _mm512_add_ps(sum, e);
  }
  if (j < n) {
    const __m512 e = _mm512_maskz_mov_ps(tail, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, scores + j), m)));
    _mm512_mask_storeu_ps(scores + j, tail, e);
    sum = _mm512_add_ps(sum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (int64_t i = 0; i < d; i += 64) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    __mmask16 lm[4];
    for (int c = 0; c < 4; ++c) {
      const int64_t left = d - i - 16 * c;
      lm[c] = left >= 16 ? __mmask16(0xffff) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
    }
    for (j = 0; j < n; ++j) {
      const __m512 p = _mm512_set1_ps(scores[j]);
      const float* vj = v + j * d + i;
      for (int c = 0; c < 4; ++c) acc[c] = _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(lm[c], vj + 16 * c), acc[c]);
    }
    for (int c = 0; c < 4; ++c) _mm512_mask_storeu_ps(out + i + 16 * c, lm[c], _mm512_mul_ps(acc[c], inv));
  }
}

uint64_t stream_read(const void* p, size_t bytes) {
  const __m512i* q = static_cast<const __m512i*>(p);
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  size_t n = bytes / 64, i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 = _mm512_xor_si512(s0, _mm512_load_si512(q + i));
    s1 = _mm512_xor_si512(s1, _mm512_load_si512(q + i + 1));
    s2 = _mm512_xor_si512(s2, _mm512_load_si512(q + i + 2));
    s3 = _mm512_xor_si512(s3, _mm512_load_si512(q + i + 3));
  }
  for (; i < n; ++i) s0 = _mm512_xor_si512(s0, _mm512_load_si512(q + i));
  __m512i s = _mm512_xor_si512(_mm512_xor_si512(s0, s1), _mm512_xor_si512(s2, s3));
  return uint64_t(_mm512_reduce_or_epi64(s));
}

const KernelTable kTable = {"avx512", matmul, dot, axpy, gelu, attend, stream_read};

}  // namespace

const KernelTable& avx512_kernels() { return kTable; }

}  // namespace cpipe::model

#pragma GCC pop_options

// Kernels: every ISA this CPU runs agrees with a double-precision reference in all weight
// formats, for awkward sizes (tails), and gives the same bits whatever row split is used.
#include "model/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <vector>

#include "model/synth.h"

namespace cpipe::model {
namespace {

struct Mat {
  WeightMatrix w;
  std::vector<float> f32;
  std::vector<uint16_t> bf16;
  std::vector<int8_t> i8;
  std::vector<float> scales;
  std::vector<double> dequant;  // what the weights mean after conversion
};

Mat make_mat(WeightFormat fmt, int64_t rows, int64_t cols, uint64_t seed) {
  Mat m;
  SplitMix64 g(seed);
  m.f32.resize(size_t(rows * cols));
  for (auto& v : m.f32) v = float(g.normal());
  m.dequant.resize(m.f32.size());
  m.w.format = fmt;
  m.w.rows = rows;
  m.w.cols = cols;
  if (fmt == WeightFormat::kF32) {
    m.w.data = m.f32.data();
    for (size_t i = 0; i < m.f32.size(); ++i) m.dequant[i] = m.f32[i];
  } else if (fmt == WeightFormat::kBF16) {
    for (float v : m.f32) m.bf16.push_back(f32_to_bf16(v));
    m.w.data = m.bf16.data();
    for (size_t i = 0; i < m.f32.size(); ++i) m.dequant[i] = bf16_to_f32(m.bf16[i]);
  } else {
    m.i8.resize(m.f32.size());
    m.scales.resize(size_t(rows));
    for (int64_t r = 0; r < rows; ++r)
      m.scales[size_t(r)] = quantize_row_int8(&m.f32[size_t(r * cols)], cols, &m.i8[size_t(r * cols)]);
    m.w.data = m.i8.data();
    m.w.scales = m.scales.data();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        m.dequant[size_t(r * cols + c)] = double(m.i8[size_t(r * cols + c)]) * m.scales[size_t(r)];
  }
  return m;
}

std::vector<const KernelTable*> tables() {
  std::vector<const KernelTable*> out;
  for (const char* isa : {"portable", "avx2", "avx512", "avx512bf16"})
    if (const KernelTable* t = kernels_for(isa)) out.push_back(t);
  return out;
}

TEST(KernelsTest, PortableIsAlwaysAvailableAndBestIsChosen) {
  EXPECT_NE(kernels_for("portable"), nullptr);
  EXPECT_EQ(kernels_for("sse9"), nullptr);
  EXPECT_NE(kernels().isa, nullptr);
}

TEST(KernelsTest, MatmulMatchesReferenceInAllFormatsAndIsas) {
  const WeightFormat formats[] = {WeightFormat::kF32, WeightFormat::kBF16, WeightFormat::kInt8};
  const int64_t shapes[][3] = {{1, 1, 1}, {5, 3, 1}, {7, 17, 2}, {9, 33, 5}, {16, 64, 4}, {37, 70, 6}, {8, 130, 9}};
  for (const KernelTable* k : tables()) {
    for (WeightFormat fmt : formats) {
      for (const auto& s : shapes) {
        const int64_t rows = s[0], cols = s[1], T = s[2];
        Mat m = make_mat(fmt, rows, cols, uint64_t(rows * 1000 + cols));
        SplitMix64 g(99);
        std::vector<float> x(size_t(T * cols)), bias(static_cast<size_t>(rows)), y(size_t(T * rows), 0.5f);
        for (auto& v : x) v = float(g.normal());
        for (auto& v : bias) v = float(g.normal());
        const std::vector<float> y0 = y;
        k->matmul(m.w, bias.data(), x.data(), T, y.data(), rows, 0, rows, kMatmulAccumulate);
        for (int64_t t = 0; t < T; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            double ref = 0, mag = 0;
            for (int64_t c = 0; c < cols; ++c) {
              ref += m.dequant[size_t(r * cols + c)] * x[size_t(t * cols + c)];
              mag += std::fabs(m.dequant[size_t(r * cols + c)] * x[size_t(t * cols + c)]);
            }
            ref += bias[size_t(r)] + y0[size_t(t * rows + r)];
            EXPECT_NEAR(y[size_t(t * rows + r)], ref, 1e-5 * (mag + 2))
                << k->isa << " " << weight_format_name(fmt) << " " << rows << "x" << cols << " t=" << t << " r=" << r;
          }
        }
      }
    }
  }
}

TEST(KernelsTest, ResultBitsDoNotDependOnRowSplitOrTokenTiling) {
  for (const KernelTable* k : tables()) {
    for (WeightFormat fmt : {WeightFormat::kF32, WeightFormat::kBF16, WeightFormat::kInt8}) {
      const int64_t rows = 45, cols = 83, T = 7;
      Mat m = make_mat(fmt, rows, cols, 5);
      SplitMix64 g(3);
      std::vector<float> x(size_t(T * cols));
      for (auto& v : x) v = float(g.normal());
      std::vector<float> whole(size_t(T * rows)), split(size_t(T * rows)), single(size_t(T * rows));
      k->matmul(m.w, nullptr, x.data(), T, whole.data(), rows, 0, rows, 0);
      for (int64_t r0 : {int64_t(0), int64_t(3), int64_t(16), int64_t(30)}) {
        const int64_t r1 = r0 == 30 ? rows : (r0 == 0 ? 3 : (r0 == 3 ? 16 : 30));
        k->matmul(m.w, nullptr, x.data(), T, split.data(), rows, r0, r1, 0);
      }
      for (int64_t t = 0; t < T; ++t)  // one token at a time (the decode path)
        k->matmul(m.w, nullptr, x.data() + t * cols, 1, single.data() + t * rows, rows, 0, rows, 0);
      EXPECT_EQ(std::memcmp(whole.data(), split.data(), whole.size() * 4), 0) << k->isa;
      EXPECT_EQ(std::memcmp(whole.data(), single.data(), whole.size() * 4), 0) << k->isa;
    }
  }
}

TEST(KernelsTest, DotAxpyAndStreamRead) {
  for (const KernelTable* k : tables()) {
    for (int64_t n : {1, 7, 16, 31, 64, 100}) {
      std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n)), y(size_t(n), 1.0f);
      double ref = 0;
      for (int64_t i = 0; i < n; ++i) {
        a[size_t(i)] = float(i % 7) - 3;
        b[size_t(i)] = float(i % 5) * 0.5f;
        ref += double(a[size_t(i)]) * b[size_t(i)];
      }
      EXPECT_FLOAT_EQ(k->dot(a.data(), b.data(), n), float(ref)) << k->isa << " n=" << n;
      k->axpy(2.0f, a.data(), y.data(), n);
      for (int64_t i = 0; i < n; ++i) EXPECT_FLOAT_EQ(y[size_t(i)], 1.0f + 2.0f * a[size_t(i)]);
    }
    alignas(64) uint64_t buf[64] = {};
    buf[17] = 0x1234;
    buf[40] = 0x10000;
    EXPECT_NE(k->stream_read(buf, sizeof(buf)), 0u) << k->isa;
  }
}

TEST(KernelsTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  uint32_t u = 0x3f808000;  // exactly halfway between 0x3f80 and 0x3f81: to even (0x3f80)
  float f;
  std::memcpy(&f, &u, 4);
  EXPECT_EQ(f32_to_bf16(f), 0x3f80);
  u = 0x3f818000;  // halfway between 0x3f81 and 0x3f82: to even (0x3f82)
  std::memcpy(&f, &u, 4);
  EXPECT_EQ(f32_to_bf16(f), 0x3f82);
  u = 0x3f808001;  // just above halfway: up
  std::memcpy(&f, &u, 4);
  EXPECT_EQ(f32_to_bf16(f), 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(KernelsTest, Int8QuantizationIsSymmetricPerRow) {
  const float w[] = {0.5f, -1.0f, 0.25f, 0.0f};
  int8_t q[4];
  float s = quantize_row_int8(w, 4, q);
  EXPECT_FLOAT_EQ(s, 1.0f / 127.0f);
  EXPECT_EQ(q[1], -127);
  EXPECT_EQ(q[0], 64);  // 63.5 rounds to even
  EXPECT_EQ(q[3], 0);
  const float z[] = {0, 0};
  int8_t qz[2] = {1, 1};
  EXPECT_EQ(quantize_row_int8(z, 2, qz), 0.0f);
  EXPECT_EQ(qz[0], 0);
}


double gelu_reference(double x) {
  const double kSqrt2OverPi = 0.79788456080286535588;
  return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
}

TEST(KernelsTest, GeluMatchesTheTanhFormInEveryIsa) {
  std::vector<float> x;
  for (int i = -4000; i <= 4000; ++i) x.push_back(float(i) / 200.0f);  // [-20, 20]
  for (float e : {0.0f, -0.0f, 1e-20f, -1e-20f, 88.0f, -88.0f, 1000.0f, -1000.0f}) x.push_back(e);
  for (const KernelTable* k : tables()) {
    // Odd lengths exercise the vector tails.
    for (size_t n : {x.size(), size_t(1), size_t(15), size_t(17)}) {
      std::vector<float> y(x.begin(), x.begin() + std::ptrdiff_t(n));
      k->gelu(y.data(), int64_t(n));
      for (size_t i = 0; i < n; ++i) {
        double want = gelu_reference(x[i]);
        EXPECT_NEAR(y[i], want, 2e-6 + 2e-6 * std::fabs(want)) << k->isa << " x=" << x[i];
      }
    }
  }
}

TEST(KernelsTest, AttendMatchesASoftmaxReferenceInEveryIsa) {
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return float(int64_t(state >> 40) % 2001 - 1000) / 250.0f;  // [-4, 4]
  };
  for (int64_t d : {int64_t(1), int64_t(7), int64_t(64), int64_t(65)}) {
    for (int64_t n : {int64_t(1), int64_t(3), int64_t(4), int64_t(5), int64_t(33)}) {
      std::vector<float> q(static_cast<size_t>(d)), kk(static_cast<size_t>(n * d)), v(static_cast<size_t>(n * d));
      for (auto* vec : {&q, &kk, &v})
        for (float& f : *vec) f = next();
      const float scale = 1.0f / std::sqrt(float(d));
      std::vector<double> s(static_cast<size_t>(n)), want(static_cast<size_t>(d), 0.0);
      double mx = -1e300, sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        double dotp = 0;
        for (int64_t c = 0; c < d; ++c) dotp += double(q[size_t(c)]) * kk[size_t(j * d + c)];
        s[size_t(j)] = dotp * scale;
        mx = std::max(mx, s[size_t(j)]);
      }
      for (double& e : s) sum += (e = std::exp(e - mx));
      for (int64_t j = 0; j < n; ++j)
        for (int64_t c = 0; c < d; ++c) want[size_t(c)] += s[size_t(j)] / sum * v[size_t(j * d + c)];
      for (const KernelTable* k : tables()) {
        std::vector<float> scores(static_cast<size_t>(n)), out(static_cast<size_t>(d));
        k->attend(q.data(), kk.data(), v.data(), n, d, scale, scores.data(), out.data());
        for (int64_t c = 0; c < d; ++c) {
          EXPECT_NEAR(out[size_t(c)], want[size_t(c)], 1e-5 + 1e-5 * std::fabs(want[size_t(c)]))
              << k->isa << " n=" << n << " d=" << d << " c=" << c;
        }
      }
    }
  }
}

}  // namespace
}  // namespace cpipe::model

// HKDF-SHA256: RFC 5869 Appendix A test cases 1-3 (the SHA-256 ones), extract and expand apart.
#include "core/crypto/hkdf.h"

#include <gtest/gtest.h>

#include "core/crypto/hash.h"
#include "tests/crypto/test_vectors.h"

namespace cpipe::crypto {
namespace {

using testing::unhex;

Bytes range(int from, int to_inclusive) {
  Bytes b;
  for (int i = from; i <= to_inclusive; ++i) b.push_back(uint8_t(i));
  return b;
}

struct HkdfCase {
  const char* name;
  Bytes ikm, salt, info;
  size_t length;
  const char* prk_hex;
  const char* okm_hex;
};

TEST(HkdfSha256Test, Rfc5869TestCases1To3) {
  const HkdfCase cases[] = {
      {"A.1 basic", Bytes(22, 0x0b), range(0x00, 0x0c), range(0xf0, 0xf9), 42,
       "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
       "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
       "34007208d5b887185865"},
      {"A.2 longer inputs and outputs", range(0x00, 0x4f), range(0x60, 0xaf), range(0xb0, 0xff),
       82, "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
       "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
       "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
       "cc30c58179ec3e87c14c01d5c1f3434f1d87"},
      {"A.3 zero-length salt and info", Bytes(22, 0x0b), Bytes{}, Bytes{}, 42,
       "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
       "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
       "9d201395faa4b61a96c8"},
  };
  for (const auto& c : cases) {
    Bytes prk = hkdf_extract(c.salt, c.ikm);
    EXPECT_EQ(hex_encode(prk), c.prk_hex) << c.name;
    auto okm = hkdf_expand(prk, c.info, c.length);
    ASSERT_TRUE(okm.ok()) << c.name;
    EXPECT_EQ(hex_encode(*okm), c.okm_hex) << c.name;
  }
}

TEST(HkdfSha256Test, EmptySaltMeansHashLenZeros) {
  EXPECT_EQ(hkdf_extract(ByteSpan(), as_bytes("ikm")), hkdf_extract(Bytes(32, 0), as_bytes("ikm")));
}

TEST(HkdfSha256Test, ExpandLengthLimits) {
  Bytes prk(32, 1);
  auto max = hkdf_expand(prk, as_bytes("info"), 255 * kSha256Size);
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->size(), 255 * kSha256Size);
  EXPECT_EQ(hkdf_expand(prk, as_bytes("info"), 255 * kSha256Size + 1).code(),
            ErrorCode::INVALID_ARGUMENT);
  auto zero = hkdf_expand(prk, as_bytes("info"), 0);
  ASSERT_TRUE(zero.ok());
  EXPECT_TRUE(zero->empty());
  // A shorter output is a prefix of a longer one (same T(1), T(2), ...).
  auto short_okm = hkdf_expand(prk, as_bytes("info"), 40);
  ASSERT_TRUE(short_okm.ok());
  EXPECT_TRUE(std::equal(short_okm->begin(), short_okm->end(), max->begin()));
}

}  // namespace
}  // namespace cpipe::crypto

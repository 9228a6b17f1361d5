// X25519: RFC 7748 §6.1 and every Wycheproof case of x25519_test.json.
#include "core/crypto/x25519.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "tests/crypto/test_vectors.h"

namespace cpipe::crypto {
namespace {

using testing::for_each_wycheproof_case;
using testing::load_vectors;
using testing::unhex;

// Replays fixed bytes, so x25519_generate can be pinned to a published private key.
class FixedRandom : public runtime::Random {
 public:
  explicit FixedRandom(Bytes bytes) : bytes_(std::move(bytes)) {}
  void fill(MutableByteSpan out) override {
    for (auto& b : out) b = bytes_[pos_++ % bytes_.size()];
  }

 private:
  Bytes bytes_;
  size_t pos_ = 0;
};

TEST(X25519Test, Rfc7748Section6_1) {
  FixedRandom alice_rng(unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  FixedRandom bob_rng(unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  X25519KeyPair alice = x25519_generate(alice_rng);
  X25519KeyPair bob = x25519_generate(bob_rng);
  EXPECT_EQ(hex_encode(alice.public_key),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(hex_encode(bob.public_key),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  auto k1 = x25519_shared(alice.private_key, bob.public_key);
  auto k2 = x25519_shared(bob.private_key, alice.public_key);
  ASSERT_TRUE(k1.ok());
  ASSERT_TRUE(k2.ok());
  EXPECT_EQ(hex_encode(*k1), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(*k1, *k2);
}

TEST(X25519Test, WrongSizesAreBadKey) {
  Bytes k(32, 9);
  EXPECT_EQ(x25519_shared(Bytes(31, 1), k).code(), ErrorCode::CRYPTO_BAD_KEY);
  EXPECT_EQ(x25519_shared(k, Bytes(33, 1)).code(), ErrorCode::CRYPTO_BAD_KEY);
  EXPECT_EQ(x25519_shared(k, Bytes{}).code(), ErrorCode::CRYPTO_BAD_KEY);
}

TEST(X25519Test, ZeroAndOnePublicKeysAreWeak) {
  Bytes priv(32, 0x42), zero(32, 0), one(32, 0);
  one[0] = 1;
  EXPECT_EQ(x25519_shared(priv, zero).code(), ErrorCode::CRYPTO_WEAK_KEY);
  EXPECT_EQ(x25519_shared(priv, one).code(), ErrorCode::CRYPTO_WEAK_KEY);
}

// Policy for wycheproof/x25519_test.json (264 valid, 254 acceptable, no invalid cases):
// X25519 is computed exactly as RFC 7748 says (the top bit of u masked, non-canonical u reduced,
// twist points allowed), so every valid or acceptable case must give the file's shared secret,
// EXCEPT those whose shared secret is all zero: there we return CRYPTO_WEAK_KEY instead (RFC
// 7748 §6.1 "check for the all-zero value"). Those are exactly the cases flagged
// "ZeroSharedSecret" (31 cases; in this file they are also exactly the "LowOrderPublic" ones).
// The test asserts that correspondence, and that no other case is rejected.
TEST(X25519Test, WycheproofAllCases) {
  auto file = load_vectors("wycheproof/x25519_test.json");
  int zero_cases = 0;
  int seen = for_each_wycheproof_case(file, [&](const auto& group, const auto& t) {
    ASSERT_EQ(group.at("curve").template get<std::string>(), "curve25519");
    std::string result = t.at("result").template get<std::string>();
    ASSERT_TRUE(result == "valid" || result == "acceptable") << result;
    Bytes pub = unhex(t.at("public").template get<std::string>());
    Bytes priv = unhex(t.at("private").template get<std::string>());
    Bytes shared = unhex(t.at("shared").template get<std::string>());
    const auto& flags = t.at("flags");
    bool zero_flag = std::find(flags.begin(), flags.end(), "ZeroSharedSecret") != flags.end();
    bool low_order = std::find(flags.begin(), flags.end(), "LowOrderPublic") != flags.end();
    EXPECT_EQ(zero_flag, low_order);
    bool all_zero = std::all_of(shared.begin(), shared.end(), [](uint8_t b) { return b == 0; });
    EXPECT_EQ(zero_flag, all_zero) << "flag and expected value disagree";
    auto got = x25519_shared(priv, pub);
    if (all_zero) {
      ++zero_cases;
      EXPECT_EQ(got.code(), ErrorCode::CRYPTO_WEAK_KEY);
    } else {
      ASSERT_TRUE(got.ok()) << got.status().to_string();
      EXPECT_EQ(hex_encode(*got), hex_encode(shared));
    }
  });
  EXPECT_EQ(seen, file.at("numberOfTests").get<int>());
  EXPECT_EQ(seen, 518);
  EXPECT_EQ(zero_cases, 31);
}

TEST(X25519Test, GenerateUsesRandomAndPublicMatches) {
  FixedRandom rng(Bytes{1, 2, 3});
  X25519KeyPair kp = x25519_generate(rng);
  EXPECT_EQ(kp.private_key[0], 1);
  EXPECT_EQ(kp.private_key[31], 2);  // 31 % 3 == 1
  EXPECT_EQ(kp.public_key, x25519_public(kp.private_key));
}

}  // namespace
}  // namespace cpipe::crypto

// Ed25519: RFC 8032 §7.1 test 1 through the key-pair API, and every Wycheproof case of
// ed25519_test.json.
#include "core/crypto/ed25519.h"

#include <gtest/gtest.h>

#include "tests/crypto/test_vectors.h"

namespace cpipe::crypto {
namespace {

using testing::for_each_wycheproof_case;
using testing::load_vectors;
using testing::unhex;

class CountingRandom : public runtime::Random {
 public:
  void fill(MutableByteSpan out) override {
    for (auto& b : out) b = next_++;
  }

 private:
  uint8_t next_ = 0;
};

TEST(Ed25519Test, Rfc8032Test1) {
  auto kp = Ed25519KeyPair::from_seed(
      unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  ASSERT_TRUE(kp.ok());
  EXPECT_EQ(hex_encode(kp->public_key()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto sig = kp->sign(ByteSpan());
  EXPECT_EQ(hex_encode(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
            "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(ed25519_verify(kp->public_key(), ByteSpan(), sig).ok());
}

TEST(Ed25519Test, SeedSizeIsChecked) {
  EXPECT_EQ(Ed25519KeyPair::from_seed(Bytes(31, 1)).code(), ErrorCode::CRYPTO_BAD_KEY);
  EXPECT_EQ(Ed25519KeyPair::from_seed(Bytes(64, 1)).code(), ErrorCode::CRYPTO_BAD_KEY);
}

TEST(Ed25519Test, GeneratedKeySignsAndTamperingFails) {
  CountingRandom rng;
  Ed25519KeyPair kp = Ed25519KeyPair::generate(rng);
  // generate() draws the seed from Random: the same draws give the same key.
  Bytes seed(32);
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = uint8_t(i);
  EXPECT_EQ(kp.public_key(), Ed25519KeyPair::from_seed(seed)->public_key());

  Bytes msg = to_bytes("receipt body");
  auto sig = kp.sign(msg);
  EXPECT_TRUE(ed25519_verify(kp.public_key(), msg, sig).ok());
  Bytes bad_msg = msg;
  bad_msg[0] ^= 1;
  EXPECT_EQ(ed25519_verify(kp.public_key(), bad_msg, sig).code(), ErrorCode::CRYPTO_BAD_SIGNATURE);
  auto bad_sig = sig;
  bad_sig[10] ^= 1;
  EXPECT_EQ(ed25519_verify(kp.public_key(), msg, bad_sig).code(), ErrorCode::CRYPTO_BAD_SIGNATURE);
  EXPECT_EQ(ed25519_verify(kp.public_key(), msg, ByteSpan(sig).first(63)).code(),
            ErrorCode::CRYPTO_BAD_SIGNATURE);
  EXPECT_EQ(ed25519_verify(ByteSpan(kp.public_key()).first(31), msg, sig).code(),
            ErrorCode::CRYPTO_BAD_SIGNATURE);
}

// wycheproof/ed25519_test.json has only "valid" and "invalid" cases (no "acceptable"): valid
// must verify, invalid (malleable S, non-canonical encodings, truncated or padded signatures,
// ...) must give CRYPTO_BAD_SIGNATURE.
TEST(Ed25519Test, WycheproofAllCases) {
  auto file = load_vectors("wycheproof/ed25519_test.json");
  int valid = 0;
  int seen = for_each_wycheproof_case(file, [&](const auto& group, const auto& t) {
    Bytes pk = unhex(group.at("publicKey").at("pk").template get<std::string>());
    Bytes msg = unhex(t.at("msg").template get<std::string>());
    Bytes sig = unhex(t.at("sig").template get<std::string>());
    std::string result = t.at("result").template get<std::string>();
    Status s = ed25519_verify(pk, msg, sig);
    if (result == "valid") {
      ++valid;
      EXPECT_TRUE(s.ok()) << s.to_string();
    } else {
      ASSERT_EQ(result, "invalid");
      EXPECT_EQ(s.code(), ErrorCode::CRYPTO_BAD_SIGNATURE);
    }
  });
  EXPECT_EQ(seen, file.at("numberOfTests").get<int>());
  EXPECT_EQ(seen, 151);
  EXPECT_EQ(valid, 88);
}

}  // namespace
}  // namespace cpipe::crypto

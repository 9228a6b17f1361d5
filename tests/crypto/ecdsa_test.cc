// ECDSA: every Wycheproof case of the P-384/SHA-384 DER and P1363 files, the COSE ES384/ES256
// examples (cose-wg/Examples), key validation, and the simulated-NSM P-384 signer.
#include "core/crypto/ecdsa.h"

#include <gtest/gtest.h>

#include <string>

#include "core/crypto/hash.h"
#include "tests/crypto/test_vectors.h"

namespace cpipe::crypto {
namespace {

using testing::for_each_wycheproof_case;
using testing::load_vectors;
using testing::unhex;

Bytes base64url_decode(std::string_view s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  Bytes out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int v = value(c);
    EXPECT_GE(v, 0) << "bad base64url";
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(uint8_t(acc >> bits));
    }
  }
  return out;
}

// Runs every case of a Wycheproof ECDSA P-384 file. Neither file has "acceptable" cases:
// valid must verify; invalid must fail with CRYPTO_BAD_SIGNATURE (all their public keys are
// valid, so CRYPTO_BAD_KEY would be a bug). use_spki picks the key form handed to us.
void run_wycheproof_p384(const std::string& name, SigFormat format, bool use_spki,
                         int expected_count) {
  auto file = load_vectors("wycheproof/" + name);
  int valid = 0, invalid = 0;
  int seen = for_each_wycheproof_case(file, [&](const auto& group, const auto& t) {
    ASSERT_EQ(group.at("sha").template get<std::string>(), "SHA-384");
    ASSERT_EQ(group.at("publicKey").at("curve").template get<std::string>(), "secp384r1");
    const auto& key_json =
        use_spki ? group.at("publicKeyDer") : group.at("publicKey").at("uncompressed");
    Bytes key = unhex(key_json.template get<std::string>());
    Bytes msg = unhex(t.at("msg").template get<std::string>());
    Bytes sig = unhex(t.at("sig").template get<std::string>());
    std::string result = t.at("result").template get<std::string>();
    Status s = ecdsa_verify(EcCurve::kP384, key, msg, sig, format);
    if (result == "valid") {
      ++valid;
      EXPECT_TRUE(s.ok()) << s.to_string();
    } else {
      ASSERT_EQ(result, "invalid");
      ++invalid;
      EXPECT_EQ(s.code(), ErrorCode::CRYPTO_BAD_SIGNATURE) << s.to_string();
    }
  });
  EXPECT_EQ(seen, file.at("numberOfTests").get<int>());
  EXPECT_EQ(seen, expected_count);
  EXPECT_EQ(valid + invalid, seen);
}

TEST(EcdsaP384Test, WycheproofDerAllCasesWithUncompressedPointKeys) {
  run_wycheproof_p384("ecdsa_secp384r1_sha384_test.json", SigFormat::kDer, false, 504);
}

TEST(EcdsaP384Test, WycheproofDerAllCasesWithSpkiKeys) {
  run_wycheproof_p384("ecdsa_secp384r1_sha384_test.json", SigFormat::kDer, true, 504);
}

TEST(EcdsaP384Test, WycheproofP1363AllCasesWithSpkiKeys) {
  run_wycheproof_p384("ecdsa_secp384r1_sha384_p1363_test.json", SigFormat::kP1363, true, 280);
}

TEST(EcdsaP384Test, WycheproofP1363AllCasesWithUncompressedPointKeys) {
  run_wycheproof_p384("ecdsa_secp384r1_sha384_p1363_test.json", SigFormat::kP1363, false, 280);
}

struct CoseExample {
  Bytes point;  // 0x04||x||y
  Bytes d;
  Bytes to_be_signed;
  Bytes signature;  // r||s, the last bytes of the COSE_Sign1
};

CoseExample load_cose(const std::string& file_name, size_t scalar_size) {
  auto file = load_vectors("cose/ecdsa-examples/" + file_name);
  const auto& key = file.at("input").at("sign0").at("key");
  CoseExample ex;
  ex.point = {0x04};
  Bytes x = base64url_decode(key.at("x").get<std::string>());
  Bytes y = base64url_decode(key.at("y").get<std::string>());
  ex.point.insert(ex.point.end(), x.begin(), x.end());
  ex.point.insert(ex.point.end(), y.begin(), y.end());
  ex.d = base64url_decode(key.at("d").get<std::string>());
  ex.to_be_signed = unhex(file.at("intermediates").at("ToBeSign_hex").get<std::string>());
  Bytes cbor = unhex(file.at("output").at("cbor").get<std::string>());
  ex.signature.assign(cbor.end() - 2 * scalar_size, cbor.end());
  return ex;
}

TEST(EcdsaCoseTest, Es384ExampleVerifiesAndTamperingFails) {
  CoseExample ex = load_cose("ecdsa-sig-02.json", 48);
  ASSERT_EQ(ex.point.size(), 97u);
  EXPECT_TRUE(ecdsa_verify(EcCurve::kP384, ex.point, ex.to_be_signed, ex.signature,
                           SigFormat::kP1363).ok());
  EXPECT_TRUE(ecdsa_verify_digest(EcCurve::kP384, ex.point, sha384(ex.to_be_signed),
                                  ex.signature, SigFormat::kP1363).ok());
  Bytes msg = ex.to_be_signed;
  msg.back() ^= 1;
  EXPECT_EQ(ecdsa_verify(EcCurve::kP384, ex.point, msg, ex.signature, SigFormat::kP1363).code(),
            ErrorCode::CRYPTO_BAD_SIGNATURE);
  // The P1363 size is exact: one byte more or less is rejected, not reinterpreted.
  Bytes longer = ex.signature;
  longer.insert(longer.begin(), 0);
  EXPECT_EQ(ecdsa_verify(EcCurve::kP384, ex.point, ex.to_be_signed, longer, SigFormat::kP1363)
                .code(),
            ErrorCode::CRYPTO_BAD_SIGNATURE);
  EXPECT_EQ(ecdsa_verify(EcCurve::kP384, ex.point, ex.to_be_signed,
                         ByteSpan(ex.signature).first(95), SigFormat::kP1363)
                .code(),
            ErrorCode::CRYPTO_BAD_SIGNATURE);
  // The public key derived from the example's d is the example's (x, y).
  auto pub = ecdsa_p384_public_key(ex.d);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(*pub, ex.point);
}

TEST(EcdsaCoseTest, Es256ExampleVerifies) {
  CoseExample ex = load_cose("ecdsa-sig-01.json", 32);
  ASSERT_EQ(ex.point.size(), 65u);
  EXPECT_TRUE(ecdsa_verify(EcCurve::kP256, ex.point, ex.to_be_signed, ex.signature,
                           SigFormat::kP1363).ok());
  // A P-256 key is not a P-384 key.
  EXPECT_EQ(ecdsa_verify(EcCurve::kP384, ex.point, ex.to_be_signed, ex.signature,
                         SigFormat::kP1363).code(),
            ErrorCode::CRYPTO_BAD_KEY);
}

TEST(EcdsaKeyTest, InvalidKeysAreBadKey) {
  CoseExample ex = load_cose("ecdsa-sig-02.json", 48);
  auto verify_with = [&](const Bytes& key) {
    return ecdsa_verify(EcCurve::kP384, key, ex.to_be_signed, ex.signature, SigFormat::kP1363)
        .code();
  };
  Bytes off_curve = ex.point;
  off_curve.back() ^= 1;
  EXPECT_EQ(verify_with(off_curve), ErrorCode::CRYPTO_BAD_KEY);
  EXPECT_EQ(verify_with(Bytes(ex.point.begin(), ex.point.end() - 1)), ErrorCode::CRYPTO_BAD_KEY);
  EXPECT_EQ(verify_with(Bytes{}), ErrorCode::CRYPTO_BAD_KEY);
  Bytes all_zero(97, 0);
  all_zero[0] = 0x04;
  EXPECT_EQ(verify_with(all_zero), ErrorCode::CRYPTO_BAD_KEY);
  Bytes garbage_der = {0x30, 0x03, 0x02, 0x01, 0x01};
  EXPECT_EQ(verify_with(garbage_der), ErrorCode::CRYPTO_BAD_KEY);
  // Compressed form is neither of the accepted encodings.
  Bytes compressed(ex.point.begin(), ex.point.begin() + 49);
  compressed[0] = 0x02 | (ex.point.back() & 1);
  EXPECT_EQ(verify_with(compressed), ErrorCode::CRYPTO_BAD_KEY);
}

TEST(EcdsaKeyTest, SpkiWithTrailingBytesIsBadKey) {
  auto file = load_vectors("wycheproof/ecdsa_secp384r1_sha384_p1363_test.json");
  const auto& group = file.at("testGroups").at(0);
  Bytes spki = unhex(group.at("publicKeyDer").get<std::string>());
  const auto& t = group.at("tests").at(0);
  ASSERT_EQ(t.at("result").get<std::string>(), "valid");
  Bytes msg = unhex(t.at("msg").get<std::string>()), sig = unhex(t.at("sig").get<std::string>());
  EXPECT_TRUE(ecdsa_verify(EcCurve::kP384, spki, msg, sig, SigFormat::kP1363).ok());
  spki.push_back(0);
  EXPECT_EQ(ecdsa_verify(EcCurve::kP384, spki, msg, sig, SigFormat::kP1363).code(),
            ErrorCode::CRYPTO_BAD_KEY);
}

TEST(EcdsaDigestTest, DigestSizeMustMatchTheCurve) {
  CoseExample ex = load_cose("ecdsa-sig-02.json", 48);
  EXPECT_EQ(ecdsa_verify_digest(EcCurve::kP384, ex.point, sha256(ex.to_be_signed), ex.signature,
                                SigFormat::kP1363)
                .code(),
            ErrorCode::INVALID_ARGUMENT);
}

class SeqRandom : public runtime::Random {
 public:
  void fill(MutableByteSpan out) override {
    for (auto& b : out) {
      state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;  // PCG's LCG step
      b = uint8_t(state_ >> 40);
    }
  }

 private:
  uint64_t state_ = 1;
};

TEST(EcdsaP384SignTest, SignaturesVerifyAndAreReproducibleFromTheRandomStream) {
  CoseExample ex = load_cose("ecdsa-sig-02.json", 48);
  Bytes msg = to_bytes("attestation document payload");
  SeqRandom r1, r2;
  auto s1 = ecdsa_p384_sign(ex.d, msg, r1);
  auto s2 = ecdsa_p384_sign(ex.d, msg, r2);
  ASSERT_TRUE(s1.ok()) << s1.status().to_string();
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(s1->size(), 96u);
  EXPECT_EQ(*s1, *s2);  // same random stream, same signature: simulated runs replay
  EXPECT_TRUE(ecdsa_verify(EcCurve::kP384, ex.point, msg, *s1, SigFormat::kP1363).ok());
  auto s3 = ecdsa_p384_sign(ex.d, msg, r1);  // next draws: a different nonce
  ASSERT_TRUE(s3.ok());
  EXPECT_NE(*s1, *s3);
  EXPECT_TRUE(ecdsa_verify(EcCurve::kP384, ex.point, msg, *s3, SigFormat::kP1363).ok());
  Bytes other = msg;
  other[0] ^= 1;
  EXPECT_EQ(ecdsa_verify(EcCurve::kP384, ex.point, other, *s1, SigFormat::kP1363).code(),
            ErrorCode::CRYPTO_BAD_SIGNATURE);
}

TEST(EcdsaP384SignTest, PrivateKeyRangeIsChecked) {
  SeqRandom r;
  EXPECT_EQ(ecdsa_p384_sign(Bytes(48, 0), as_bytes("m"), r).code(), ErrorCode::CRYPTO_BAD_KEY);
  EXPECT_EQ(ecdsa_p384_sign(Bytes(48, 0xff), as_bytes("m"), r).code(), ErrorCode::CRYPTO_BAD_KEY);
  EXPECT_EQ(ecdsa_p384_sign(Bytes(47, 1), as_bytes("m"), r).code(), ErrorCode::CRYPTO_BAD_KEY);
  EXPECT_EQ(ecdsa_p384_public_key(Bytes(48, 0)).code(), ErrorCode::CRYPTO_BAD_KEY);
}

}  // namespace
}  // namespace cpipe::crypto

// ChaCha20-Poly1305: RFC 8439 §2.8.2 and A.5, every Wycheproof case, cross-checks against
// libsodium, and the in-place contract (tamper anywhere -> CRYPTO_AUTH_FAILED, data zeroed).
#include "core/crypto/aead.h"

#include <gtest/gtest.h>
#include <openssl/crypto.h>

#include <cstdlib>

#include "tests/crypto/test_vectors.h"

namespace cpipe::crypto {
namespace {

using testing::for_each_wycheproof_case;
using testing::load_vectors;
using testing::unhex;

// Counts OpenSSL's allocations. Installed by a static initializer, before anything in this
// process calls OpenSSL (CRYPTO_set_mem_functions refuses once OpenSSL has allocated).
long g_openssl_allocations = 0;
void* counting_malloc(size_t n, const char*, int) {
  ++g_openssl_allocations;
  return std::malloc(n);
}
void* counting_realloc(void* p, size_t n, const char*, int) {
  ++g_openssl_allocations;
  return std::realloc(p, n);
}
void counting_free(void* p, const char*, int) { std::free(p); }
const bool g_counting_installed =
    CRYPTO_set_mem_functions(counting_malloc, counting_realloc, counting_free) == 1;

Bytes concat(ByteSpan a, ByteSpan b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

TEST(ChaCha20Poly1305Test, Rfc8439Vectors) {
  auto file = load_vectors("rfc8439/rfc8439_aead_vectors.json");
  int seen = 0;
  for (const auto& v : file.at("vectors")) {
    ++seen;
    SCOPED_TRACE(v.at("source").get<std::string>());
    auto field = [&](const char* name) { return unhex(v.at(name).get<std::string>()); };
    Bytes key = field("key"), nonce = field("nonce"), aad = field("aad"), pt = field("pt"),
          ct = field("ct"), tag = field("tag");
    auto aead = ChaCha20Poly1305::create(key);
    ASSERT_TRUE(aead.ok());
    auto sealed = aead->seal(nonce, aad, pt);
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ(*sealed, concat(ct, tag));
    auto opened = aead->open(nonce, aad, concat(ct, tag));
    ASSERT_TRUE(opened.ok());
    EXPECT_EQ(*opened, pt);
  }
  EXPECT_EQ(seen, 2);
}

// Every case of wycheproof/chacha20_poly1305_test.json. The file has no "acceptable" cases.
// Invalid cases are either a wrong nonce size (seal and open must refuse: INVALID_ARGUMENT) or
// a modified ciphertext/tag (open must fail with CRYPTO_AUTH_FAILED).
TEST(ChaCha20Poly1305Test, WycheproofAllCases) {
  auto file = load_vectors("wycheproof/chacha20_poly1305_test.json");
  int valid = 0, invalid = 0;
  int seen = for_each_wycheproof_case(file, [&](const auto& group, const auto& t) {
    Bytes key = unhex(t.at("key").template get<std::string>());
    Bytes iv = unhex(t.at("iv").template get<std::string>());
    Bytes aad = unhex(t.at("aad").template get<std::string>());
    Bytes msg = unhex(t.at("msg").template get<std::string>());
    Bytes ct = unhex(t.at("ct").template get<std::string>());
    Bytes tag = unhex(t.at("tag").template get<std::string>());
    std::string result = t.at("result").template get<std::string>();
    ASSERT_EQ(group.at("keySize").template get<int>(), 256);
    auto aead = ChaCha20Poly1305::create(key);
    ASSERT_TRUE(aead.ok());
    if (result == "valid") {
      ++valid;
      auto sealed = aead->seal(iv, aad, msg);
      ASSERT_TRUE(sealed.ok()) << sealed.status().to_string();
      EXPECT_EQ(hex_encode(*sealed), hex_encode(concat(ct, tag)));
      auto opened = aead->open(iv, aad, concat(ct, tag));
      ASSERT_TRUE(opened.ok()) << opened.status().to_string();
      EXPECT_EQ(*opened, msg);
      // libsodium agrees (an independent implementation of the same RFC).
      Bytes data = msg, sodium_tag(kAeadTagSize);
      ASSERT_TRUE(sodium_chacha20poly1305_seal_in_place(key, iv, aad, data, sodium_tag).ok());
      EXPECT_EQ(data, ct);
      EXPECT_EQ(sodium_tag, tag);
      return;
    }
    ASSERT_EQ(result, "invalid");
    ++invalid;
    auto opened = aead->open(iv, aad, concat(ct, tag));
    EXPECT_FALSE(opened.ok());
    if (iv.size() != kAeadNonceSize) {
      EXPECT_EQ(opened.code(), ErrorCode::INVALID_ARGUMENT);
      EXPECT_EQ(aead->seal(iv, aad, msg).code(), ErrorCode::INVALID_ARGUMENT);
    } else {
      EXPECT_EQ(opened.code(), ErrorCode::CRYPTO_AUTH_FAILED);
    }
  });
  EXPECT_EQ(seen, file.at("numberOfTests").get<int>());
  EXPECT_EQ(seen, 325);
  EXPECT_EQ(valid + invalid, seen);
}

class AeadInPlaceTest : public ::testing::Test {
 protected:
  Bytes key_ = unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  Bytes nonce_ = unhex("070000004041424344454647");
  Bytes aad_ = unhex("50515253c0c1c2c3c4c5c6c7");
};

TEST_F(AeadInPlaceTest, FlippingAnyByteOfCiphertextTagOrAadFailsAndZeroesData) {
  auto aead = ChaCha20Poly1305::create(key_);
  ASSERT_TRUE(aead.ok());
  Bytes pt(67);
  for (size_t i = 0; i < pt.size(); ++i) pt[i] = uint8_t(i + 1);  // no zero bytes
  Bytes ct = pt, tag(kAeadTagSize);
  ASSERT_TRUE(aead->seal_in_place(nonce_, aad_, ct, tag).ok());
  EXPECT_NE(ct, pt);

  auto expect_rejected = [&](Bytes data, const Bytes& t, const Bytes& a, const std::string& what) {
    Status s = aead->open_in_place(nonce_, a, data, t);
    EXPECT_EQ(s.code(), ErrorCode::CRYPTO_AUTH_FAILED) << what;
    EXPECT_EQ(data, Bytes(data.size(), 0)) << what << ": unauthenticated plaintext left behind";
  };
  for (size_t i = 0; i < ct.size(); ++i) {
    Bytes bad = ct;
    bad[i] ^= 0x01;
    expect_rejected(bad, tag, aad_, "ciphertext byte " + std::to_string(i));
  }
  for (size_t i = 0; i < tag.size(); ++i) {
    Bytes bad = tag;
    bad[i] ^= 0x80;
    expect_rejected(ct, bad, aad_, "tag byte " + std::to_string(i));
  }
  for (size_t i = 0; i < aad_.size(); ++i) {
    Bytes bad = aad_;
    bad[i] ^= 0x10;
    expect_rejected(ct, tag, bad, "aad byte " + std::to_string(i));
  }
  expect_rejected(ct, tag, Bytes{}, "aad removed");
  Bytes other_nonce = nonce_;
  other_nonce[0] ^= 1;
  Bytes data = ct;
  EXPECT_EQ(aead->open_in_place(other_nonce, aad_, data, tag).code(),
            ErrorCode::CRYPTO_AUTH_FAILED);
  EXPECT_EQ(data, Bytes(data.size(), 0));

  // The object is still good after failures: the genuine record opens.
  data = ct;
  ASSERT_TRUE(aead->open_in_place(nonce_, aad_, data, tag).ok());
  EXPECT_EQ(data, pt);
}

TEST_F(AeadInPlaceTest, ShortTagIsAnAuthFailure) {
  auto aead = ChaCha20Poly1305::create(key_);
  ASSERT_TRUE(aead.ok());
  Bytes data(10, 7), tag(kAeadTagSize);
  ASSERT_TRUE(aead->seal_in_place(nonce_, aad_, data, tag).ok());
  Bytes short_tag(tag.begin(), tag.begin() + 15);
  EXPECT_EQ(aead->open_in_place(nonce_, aad_, data, short_tag).code(),
            ErrorCode::CRYPTO_AUTH_FAILED);
  EXPECT_EQ(data, Bytes(10, 0));
  EXPECT_EQ(aead->open(nonce_, aad_, Bytes(15, 0)).code(), ErrorCode::CRYPTO_AUTH_FAILED);
  Bytes bad_tag_out(15);
  EXPECT_EQ(aead->seal_in_place(nonce_, aad_, data, bad_tag_out).code(),
            ErrorCode::INVALID_ARGUMENT);
}

TEST_F(AeadInPlaceTest, WrongKeySizesAreRejected) {
  for (size_t n : {0, 16, 31, 33, 64}) {
    EXPECT_EQ(ChaCha20Poly1305::create(Bytes(n, 1)).code(), ErrorCode::CRYPTO_BAD_KEY) << n;
    Bytes data(4), tag(kAeadTagSize);
    EXPECT_EQ(sodium_chacha20poly1305_seal_in_place(Bytes(n, 1), nonce_, aad_, data, tag).code(),
              ErrorCode::CRYPTO_BAD_KEY);
  }
}

TEST_F(AeadInPlaceTest, ManyRecordsOnOneObjectMatchFreshObjectsAndLibsodium) {
  auto aead = ChaCha20Poly1305::create(key_);
  ASSERT_TRUE(aead.ok());
  for (uint32_t seq = 0; seq < 50; ++seq) {
    Bytes nonce(kAeadNonceSize, 0);
    store_u32_be(nonce.data() + 8, seq);
    Bytes pt(seq * 37 % 300);
    for (size_t i = 0; i < pt.size(); ++i) pt[i] = uint8_t(i ^ seq);
    Bytes data = pt, tag(kAeadTagSize);
    ASSERT_TRUE(aead->seal_in_place(nonce, aad_, data, tag).ok());
    Bytes sodium_data = pt, sodium_tag(kAeadTagSize);
    ASSERT_TRUE(
        sodium_chacha20poly1305_seal_in_place(key_, nonce, aad_, sodium_data, sodium_tag).ok());
    EXPECT_EQ(data, sodium_data) << seq;
    EXPECT_EQ(tag, sodium_tag) << seq;
    ASSERT_TRUE(aead->open_in_place(nonce, aad_, data, tag).ok()) << seq;
    EXPECT_EQ(data, pt) << seq;
    ASSERT_TRUE(sodium_chacha20poly1305_open_in_place(key_, nonce, aad_, sodium_data, sodium_tag)
                    .ok());
    EXPECT_EQ(sodium_data, pt);
  }
}

// The record layer's hot path: after create(), sealing and opening in place never allocate.
TEST_F(AeadInPlaceTest, InPlacePathDoesNotAllocate) {
  if (!g_counting_installed) GTEST_SKIP() << "OpenSSL allocated before the counter was installed";
  auto aead = ChaCha20Poly1305::create(key_);
  ASSERT_TRUE(aead.ok());
  Bytes data(3072, 0x5a), tag(kAeadTagSize), bad_tag(kAeadTagSize, 0);
  ASSERT_TRUE(aead->seal_in_place(nonce_, aad_, data, tag).ok());  // warm-up
  long before = g_openssl_allocations;
  EXPECT_GT(before, 0) << "the counter sees create()'s allocations";
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(aead->seal_in_place(nonce_, aad_, data, tag).ok());
    ASSERT_TRUE(aead->open_in_place(nonce_, aad_, data, tag).ok());
  }
  EXPECT_EQ(aead->open_in_place(nonce_, aad_, data, bad_tag).code(),
            ErrorCode::CRYPTO_AUTH_FAILED);
  EXPECT_EQ(g_openssl_allocations, before);
}

TEST_F(AeadInPlaceTest, EmptyPlaintextAndMoves) {
  auto created = ChaCha20Poly1305::create(key_);
  ASSERT_TRUE(created.ok());
  ChaCha20Poly1305 aead = std::move(*created);
  auto sealed = aead.seal(nonce_, aad_, ByteSpan());
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), kAeadTagSize);
  ChaCha20Poly1305 moved = std::move(aead);
  auto opened = moved.open(nonce_, aad_, *sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(opened->empty());
  // A moved-from object refuses work instead of crashing.
  EXPECT_EQ(aead.seal(nonce_, aad_, ByteSpan()).code(),  // NOLINT(bugprone-use-after-move)
            ErrorCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace cpipe::crypto

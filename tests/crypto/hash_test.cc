// SHA-2 known answers (FIPS 180-4 examples) and HMAC-SHA256 (RFC 4231 §4.2-4.8).
#include "core/crypto/hash.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/crypto/test_vectors.h"

namespace cpipe::crypto {
namespace {

using testing::unhex;

TEST(Sha2Test, KnownAnswers) {
  EXPECT_EQ(hex_encode(sha256(as_bytes(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_encode(sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char* two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(hex_encode(sha256(as_bytes(two_blocks))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex_encode(sha384(as_bytes(""))),
            "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da"
            "274edebfe76f65fbd51ad2f14898b95b");
  EXPECT_EQ(hex_encode(sha384(as_bytes("abc"))),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
            "8086072ba1e7cc2358baeca134c825a7");
  EXPECT_EQ(hex_encode(sha512(as_bytes("abc"))),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(sha256(as_bytes("x")).size(), kSha256Size);
  EXPECT_EQ(sha384(as_bytes("x")).size(), kSha384Size);
}

TEST(Sha256IncrementalTest, MillionAInChunksMatchesKnownAnswer) {
  Sha256 h;
  std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(as_bytes(chunk));
  EXPECT_EQ(hex_encode(h.finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256IncrementalTest, EqualsOneShotAtEverySplitAndPeekKeepsState) {
  Bytes data(300);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7 + 3);
  Bytes expected = sha256(data);
  for (size_t split = 0; split <= data.size(); split += 13) {
    Sha256 h;
    h.update(ByteSpan(data).first(split));
    EXPECT_EQ(h.peek(), sha256(ByteSpan(data).first(split))) << "split " << split;
    h.update(ByteSpan(data).subspan(split));
    EXPECT_EQ(h.peek(), expected) << "split " << split;
    EXPECT_EQ(h.finish(), expected) << "split " << split;
  }
}

TEST(Sha256IncrementalTest, FinishResetsToEmpty) {
  Sha256 h;
  h.update(as_bytes("abc"));
  EXPECT_EQ(h.finish(), sha256(as_bytes("abc")));
  EXPECT_EQ(h.finish(), sha256(ByteSpan()));
  h.update(as_bytes("abc"));
  EXPECT_EQ(h.finish(), sha256(as_bytes("abc")));
}

struct HmacCase {
  const char* name;
  Bytes key;
  Bytes data;
  const char* mac_hex;  // full HMAC-SHA-256, or its 128-bit prefix for test case 5
};

TEST(HmacSha256Test, Rfc4231) {
  const std::string large_key_data =
      "This is a test using a larger than block-size key and a larger than block-size data. The "
      "key needs to be hashed before being used by the HMAC algorithm.";
  const HmacCase cases[] = {
      {"4.2 case 1", Bytes(20, 0x0b), to_bytes("Hi There"),
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"4.3 case 2", to_bytes("Jefe"), to_bytes("what do ya want for nothing?"),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"4.4 case 3", Bytes(20, 0xaa), Bytes(50, 0xdd),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"4.5 case 4", unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), Bytes(50, 0xcd),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {"4.6 case 5 (truncated to 128 bits)", Bytes(20, 0x0c), to_bytes("Test With Truncation"),
       "a3b6167473100ee06e0c796c2955552b"},
      {"4.7 case 6", Bytes(131, 0xaa),
       to_bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"4.8 case 7", Bytes(131, 0xaa), to_bytes(large_key_data),
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const auto& c : cases) {
    std::string mac = hex_encode(hmac_sha256(c.key, c.data));
    EXPECT_EQ(mac.substr(0, std::string(c.mac_hex).size()), c.mac_hex) << c.name;
    EXPECT_EQ(mac.size(), 2 * kSha256Size) << c.name;
  }
}

TEST(HmacSha256Test, EmptyKeyIsAllowed) {
  // HMAC with an empty key equals HMAC with a block of zeros (the key is zero-padded).
  EXPECT_EQ(hmac_sha256(ByteSpan(), as_bytes("m")), hmac_sha256(Bytes(64, 0), as_bytes("m")));
}

}  // namespace
}  // namespace cpipe::crypto

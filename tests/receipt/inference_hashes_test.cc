// cpipe's request_hash / response_hash: the exact bytes hashed (docs/receipts.md) and the
// properties a client relies on (every input field changes the hash; request and response
// domains never collide).
#include <gtest/gtest.h>

#include "core/crypto/hash.h"
#include "core/receipt/inference_hashes.h"

namespace cpipe::receipt {
namespace {

TEST(InferenceHashes, RequestInputIsDomainTagThenDeterministicCbor) {
  InferenceRequestDigest r;
  r.prompt_tokens = {15496, 11, 616};  // "Hello, my" in GPT-2's vocabulary
  r.max_new_tokens = 20;
  // "cpipe-air-v1/request" 00 | 83 | 83 19 3c88 0b 19 0268 | 14 | 66 "greedy"
  EXPECT_EQ(hex_encode(request_hash_input(r)),
            hex_encode(to_bytes("cpipe-air-v1/request")) + "00" + "83" + "83193c880b190268" + "14" +
                "66677265656479");
  EXPECT_EQ(request_hash(r), crypto::sha256(request_hash_input(r)));
  EXPECT_EQ(hex_encode(request_hash(r)), "fd6249fb1a853f5565881c6eadd6e8b95701f93d9bac840af02831fd9b2094e0");
}

TEST(InferenceHashes, ResponseInputIsDomainTagThenTokenArray) {
  std::vector<uint32_t> out = {257, 0, 50256};
  EXPECT_EQ(hex_encode(response_hash_input(out)),
            hex_encode(to_bytes("cpipe-air-v1/response")) + "00" + "83" + "190101" + "00" + "19c450");
  EXPECT_EQ(hex_encode(response_hash(out)), "c510955b01c1f03f81d474af2166c2b84fd6dc25396363e2c98b70a337529949");
  EXPECT_EQ(response_hash({}), crypto::sha256(to_bytes(std::string("cpipe-air-v1/response") + '\0' + "\x80")));
}

TEST(InferenceHashes, EveryFieldChangesTheHash) {
  InferenceRequestDigest a;
  a.prompt_tokens = {1, 2, 3};
  a.max_new_tokens = 8;
  InferenceRequestDigest b = a;
  b.prompt_tokens = {1, 2, 4};
  InferenceRequestDigest c = a;
  c.max_new_tokens = 9;
  InferenceRequestDigest d = a;
  d.sampling = "temperature=0.8,top_k=40,seed=1";
  InferenceRequestDigest e = a;
  e.prompt_tokens = {1, 2, 3, 0};
  for (const auto* x : {&b, &c, &d, &e}) EXPECT_NE(request_hash(a), request_hash(*x));
  EXPECT_NE(response_hash({1, 2, 3}), response_hash({1, 2}));
  EXPECT_NE(response_hash({}), request_hash(InferenceRequestDigest{}));
}

}  // namespace
}  // namespace cpipe::receipt

// The AIR v1 golden vectors (../shared/data/air-v1/vectors, Cyntrisec, CC-BY-4.0): every valid
// vector verifies through all four layers and is reproduced byte for byte by issue_receipt from
// its listed claims; every invalid vector fails at the layer, check and code it names.
#include <gtest/gtest.h>

#include "core/codec/cbor/cose_sign1.h"
#include "core/receipt/air_verify.h"
#include "tests/receipt/receipt_test_util.h"

namespace cpipe::receipt {
namespace {

using namespace testing_air;

constexpr const char* kValid[] = {"valid/v1-nitro-no-nonce.json", "valid/v1-tdx-with-nonce.json"};

TEST(AirVectors, VectorKeyIsTheSpecsKey) {
  EXPECT_EQ(hex_encode(vector_key().public_key()),
            "197f6b23e16c8532c6abc838facd5ea789be0c76b2920334039bfa8b3d368d61");
}

TEST(AirVectors, ValidVectorsPassEveryLayer) {
  for (const char* name : kValid) {
    SCOPED_TRACE(name);
    auto v = load_vector(name);
    Bytes receipt = unhex(v["receipt_hex"]);
    EXPECT_EQ(receipt.size(), v["receipt_length"].get<size_t>());
    auto r = verify_receipt(receipt, unhex(v["public_key_hex"]), VerifyPolicy{});
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->verified()) << r->status().message();
    for (const Check& c : r->checks) {
      EXPECT_TRUE(c.status == CheckStatus::kPass || c.status == CheckStatus::kSkip) << c.name;
    }
    EXPECT_EQ(r->find("SIG")->status, CheckStatus::kPass);
    EXPECT_EQ(r->find("DETERMINISTIC")->status, CheckStatus::kPass);
    ASSERT_TRUE(r->claims);
    EXPECT_EQ(*r->claims, claims_from_vector(v));
  }
}

TEST(AirVectors, ValidVectorsPayloadIsTheListedPayload) {
  for (const char* name : kValid) {
    SCOPED_TRACE(name);
    auto v = load_vector(name);
    auto msg = codec::cose_sign1_decode(unhex(v["receipt_hex"])).value();
    EXPECT_EQ(hex_encode(msg.protected_bytes), "a2012703183d");
    EXPECT_EQ(hex_encode(msg.payload), v["payload_hex"].get<std::string>());
    EXPECT_EQ(encode_claims(claims_from_vector(v)), msg.payload);
  }
}

TEST(AirVectors, IssuingTheVectorClaimsReproducesTheirExactBytes) {
  for (const char* name : kValid) {
    SCOPED_TRACE(name);
    auto v = load_vector(name);
    auto issued = issue_receipt(claims_from_vector(v), vector_key());
    ASSERT_TRUE(issued.ok()) << issued.status().message();
    EXPECT_EQ(hex_encode(*issued), v["receipt_hex"].get<std::string>());
  }
}

TEST(AirVectors, TdxVectorBindsItsNonce) {
  auto v = load_vector("valid/v1-tdx-with-nonce.json");
  VerifyPolicy p;
  p.expected_nonce = unhex("deadbeefcafebabe");
  p.expected_platform = "tdx-mrtd-rtmr";
  auto r = verify_receipt(unhex(v["receipt_hex"]), unhex(v["public_key_hex"]), p).value();
  EXPECT_TRUE(r.verified()) << r.status().message();
  EXPECT_EQ(r.find("NONCE")->status, CheckStatus::kPass);
  EXPECT_EQ(r.find("PLATFORM")->status, CheckStatus::kPass);

  p.expected_nonce = unhex("deadbeefcafebabf");
  r = verify_receipt(unhex(v["receipt_hex"]), unhex(v["public_key_hex"]), p).value();
  EXPECT_EQ(check_code_name(r.first_failure()->code), "NONCE_MISMATCH");
  EXPECT_EQ(r.status().code(), ErrorCode::RECEIPT_NONCE_MISMATCH);
}

struct Expected {
  const char* file;
  int layer;
  const char* check;
  const char* code;
  ErrorCode error;
};

// Each invalid vector with its policy, as the vector file states them.
Result<VerifyReport> run_invalid(const nlohmann::json& v) {
  Bytes key = v.contains("wrong_public_key_hex") ? unhex(v["wrong_public_key_hex"]) : unhex(v["public_key_hex"]);
  VerifyPolicy p;
  if (v.contains("verify_policy")) {
    const auto& vp = v["verify_policy"];
    if (vp.contains("expected_model_hash_hex")) p.expected_model_hash = unhex(vp["expected_model_hash_hex"]);
    if (vp.contains("max_age_secs")) p.max_age_s = vp["max_age_secs"].get<uint64_t>();
    p.now_unix_s = kVectorDate;
  }
  return verify_receipt(unhex(v["receipt_hex"]), key, p);
}

TEST(AirVectors, InvalidVectorsFailWithTheirStatedCode) {
  const Expected cases[] = {
      {"invalid/v1-wrong-key.json", 2, "SIG", "SIG_FAILED", ErrorCode::RECEIPT_SIGNATURE_INVALID},
      {"invalid/v1-zero-model-hash.json", 3, "MHASH_PRESENT", "ZERO_MODEL_HASH", ErrorCode::RECEIPT_BAD_CLAIM},
      {"invalid/v1-model-hash-mismatch.json", 4, "MHASH", "MODEL_HASH_MISMATCH", ErrorCode::RECEIPT_MODEL_MISMATCH},
      {"invalid/v1-stale-iat.json", 4, "FRESH", "TIMESTAMP_STALE", ErrorCode::RECEIPT_STALE},
  };
  for (const Expected& e : cases) {
    SCOPED_TRACE(e.file);
    auto v = load_vector(e.file);
    // The table above agrees with what the vector file itself states.
    const auto& ef = v["expected_failure"];
    ASSERT_EQ(ef["layer"].get<int>(), e.layer);
    ASSERT_EQ(ef["check"].get<std::string>(), e.check);
    ASSERT_EQ(ef["code"].get<std::string>(), e.code);

    auto r = run_invalid(v);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_FALSE(r->verified());
    const Check* f = r->first_failure();
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->name, e.check);
    EXPECT_EQ(int(f->layer), e.layer);
    EXPECT_EQ(check_code_name(f->code), e.code);
    EXPECT_EQ(r->status().code(), e.error);
    // Exactly one failure: every other check passed, was skipped, or (after it) did not run.
    int failures = 0;
    for (const Check& c : r->checks) failures += c.status == CheckStatus::kFail;
    EXPECT_EQ(failures, 1);
    for (const Check& c : r->checks) {
      if (int(c.layer) > e.layer) {
        EXPECT_EQ(c.status, CheckStatus::kNotRun) << c.name;
      }
    }
  }
}

TEST(AirVectors, WrongKeyVectorsKeyIsTheOtherSeeds) {
  auto v = load_vector("invalid/v1-wrong-key.json");
  auto k = crypto::Ed25519KeyPair::from_seed(unhex(v["wrong_public_key_seed_hex"])).value();
  EXPECT_EQ(hex_encode(k.public_key()), v["wrong_public_key_hex"].get<std::string>());
  // And the receipt itself is the canonical vector: it verifies with the right key.
  auto r = verify_receipt(unhex(v["receipt_hex"]), vector_key().public_key(), VerifyPolicy{}).value();
  EXPECT_TRUE(r.verified());
}

TEST(AirVectors, StaleVectorIsFreshWithinItsMaxAge) {
  auto v = load_vector("invalid/v1-stale-iat.json");
  VerifyPolicy p;
  p.max_age_s = 3600;
  p.now_unix_s = 1740500000 + 3600;  // exactly max_age old: still fresh
  auto r = verify_receipt(unhex(v["receipt_hex"]), unhex(v["public_key_hex"]), p).value();
  EXPECT_TRUE(r.verified()) << r.status().message();
  p.now_unix_s = 1740500000 + 3601;
  r = verify_receipt(unhex(v["receipt_hex"]), unhex(v["public_key_hex"]), p).value();
  EXPECT_EQ(check_code_name(r.first_failure()->code), "TIMESTAMP_STALE");
  p.now_unix_s = 1740500000 - 1;  // iat one second in the future, no skew allowed
  r = verify_receipt(unhex(v["receipt_hex"]), unhex(v["public_key_hex"]), p).value();
  EXPECT_EQ(check_code_name(r.first_failure()->code), "TIMESTAMP_FUTURE");
  p.clock_skew_s = 1;
  r = verify_receipt(unhex(v["receipt_hex"]), unhex(v["public_key_hex"]), p).value();
  EXPECT_TRUE(r.verified());
}

TEST(AirVectors, MaxAgeWithoutATimeIsRefusedNotGuessed) {
  auto v = load_vector("invalid/v1-stale-iat.json");
  VerifyPolicy p;
  p.max_age_s = 3600;
  auto r = verify_receipt(unhex(v["receipt_hex"]), unhex(v["public_key_hex"]), p);
  EXPECT_EQ(r.code(), ErrorCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace cpipe::receipt

// SimKms key policy evaluation under AWS's rules: explicit Deny wins, implicit deny otherwise,
// StringEqualsIgnoreCase on attestation hex, absent keys (positive vs negated operators), Null,
// NotAction, account-root principals, wildcards, and fail-closed parsing.
#include <gtest/gtest.h>

#include "backends/simulated/sim_kms_policy.h"

namespace cpipe::sim {
namespace {

const std::string kRole = "arn:aws:iam::111122223333:role/enclave";
const std::string kKey = "arn:aws:kms:eu-west-1:111122223333:key/k1";
const std::string kPcr0 = std::string(96, 'a');

KmsPolicyRequest decrypt_request(std::map<std::string, std::string> context, std::string principal = kRole) {
  return {"kms:Decrypt", std::move(principal), kKey, std::move(context)};
}

KmsKeyPolicy parse(const std::string& json) {
  auto p = KmsKeyPolicy::parse(json);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return std::move(*p);
}

TEST(SimKmsPolicyTest, ImageSha384ConditionIsCaseInsensitiveOnValueAndKeyName) {
  const auto policy = parse(R"({"Statement":{"Sid":"Enclave","Effect":"Allow","Principal":{"AWS":")" + kRole +
                            R"("},"Action":"kms:Decrypt","Condition":{"StringEqualsIgnoreCase":
                            {"kms:RecipientAttestation:ImageSha384":")" + std::string(96, 'A') + R"("}}}})");
  auto d = policy.evaluate(decrypt_request({{"KMS:RECIPIENTATTESTATION:IMAGESHA384", kPcr0}}));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason, "Enclave");
  d = policy.evaluate(decrypt_request({{"kms:RecipientAttestation:ImageSha384", std::string(96, 'b')}}));
  EXPECT_FALSE(d.allowed);
  EXPECT_FALSE(d.explicit_deny);
  EXPECT_NE(d.reason.find("because no resource-based policy allows the kms:Decrypt action"), std::string::npos);
  // No Recipient at all: the key is absent, a positive operator is false.
  EXPECT_FALSE(policy.evaluate(decrypt_request({})).allowed);
}

TEST(SimKmsPolicyTest, StringEqualsIsCaseSensitive) {
  const auto policy = parse(R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt",
      "Condition":{"StringEquals":{"kms:RecipientAttestation:PCR0":")" + std::string(96, 'A') + R"("}}}]})");
  EXPECT_FALSE(policy.evaluate(decrypt_request({{"kms:RecipientAttestation:PCR0", kPcr0}})).allowed);
}

TEST(SimKmsPolicyTest, ExplicitDenyWinsOverAllow) {
  const auto policy = parse(R"({"Statement":[
      {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*"},
      {"Sid":"NoPlainDecrypt","Effect":"Deny","Principal":"*","Action":"kms:Decrypt",
       "Condition":{"Null":{"kms:RecipientAttestation:ImageSha384":"true"}}}]})");
  auto d = policy.evaluate(decrypt_request({}));
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(d.explicit_deny);
  EXPECT_NE(d.reason.find("with an explicit deny"), std::string::npos);
  EXPECT_TRUE(policy.evaluate(decrypt_request({{"kms:RecipientAttestation:ImageSha384", kPcr0}})).allowed);
  // The account root principal covers every principal of that account, not another account's.
  EXPECT_FALSE(policy.evaluate(decrypt_request({{"kms:RecipientAttestation:ImageSha384", kPcr0}},
                                               "arn:aws:iam::999999999999:role/enclave"))
                   .allowed);
}

TEST(SimKmsPolicyTest, NegatedOperatorHoldsWhenKeyAbsent) {
  const auto policy = parse(R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt",
      "Condition":{"StringNotEqualsIgnoreCase":{"kms:RecipientAttestation:PCR8":"00"}}}]})");
  EXPECT_TRUE(policy.evaluate(decrypt_request({})).allowed);
  EXPECT_FALSE(policy.evaluate(decrypt_request({{"kms:RecipientAttestation:PCR8", "00"}})).allowed);
}

TEST(SimKmsPolicyTest, ValuesOrAndConditionsAnd) {
  const auto policy = parse(R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":["kms:Decrypt"],
      "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR0":["11","22"],
                                             "kms:RecipientAttestation:PCR1":"33"}}}]})");
  EXPECT_TRUE(policy.evaluate(decrypt_request({{"kms:RecipientAttestation:PCR0", "22"},
                                               {"kms:RecipientAttestation:PCR1", "33"}}))
                  .allowed);
  EXPECT_FALSE(policy.evaluate(decrypt_request({{"kms:RecipientAttestation:PCR0", "22"},
                                                {"kms:RecipientAttestation:PCR1", "44"}}))
                   .allowed);
}

TEST(SimKmsPolicyTest, ActionsMatchWithWildcardsAndNotAction) {
  const auto policy = parse(R"({"Statement":[{"Effect":"Allow","Principal":"*","NotAction":"kms:Decrypt"}]})");
  EXPECT_FALSE(policy.evaluate(decrypt_request({})).allowed);
  EXPECT_TRUE(policy.evaluate({"kms:GenerateDataKey", kRole, kKey, {}}).allowed);
  EXPECT_TRUE(KmsKeyPolicy::wildcard_match("kms:Gen*Key", "kms:GenerateDataKey", false));
  EXPECT_TRUE(KmsKeyPolicy::wildcard_match("KMS:decrypt", "kms:Decrypt", true));
  EXPECT_FALSE(KmsKeyPolicy::wildcard_match("kms:De?", "kms:Decrypt", false));
}

TEST(SimKmsPolicyTest, UnknownOrMalformedPoliciesAreRejected) {
  for (const char* bad : {
           "not json",
           R"({"Statement":[]})",
           R"({"Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:Decrypt"}]})",
           R"({"Statement":[{"Effect":"Allow","Action":"kms:Decrypt"}]})",
           R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt",
               "Condition":{"NumericLessThan":{"kms:X":"1"}}}]})",
           R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt",
               "Condition":{"StringEqualsIfExists":{"kms:X":"1"}}}]})",
       }) {
    EXPECT_EQ(KmsKeyPolicy::parse(bad).status().code(), ErrorCode::PARSE_ERROR) << bad;
  }
}

}  // namespace
}  // namespace cpipe::sim

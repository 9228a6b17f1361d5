// The pipeline with confidential model delivery and receipts, in the simulator on a synthesized
// tiny GPT-2: stages boot empty and cold-start through the host's proxy (SimKms key release on
// the stage image, sealed chunks from SimS3), then serve the same tokens as plaintext stages; a
// key policy that does not admit the image makes every stage refuse with the KMS error;
// throttling is retried; a chunk the host altered is refused. Stage 0 signs one AIR v1 receipt
// per request, bound to its boot evidence; receipts verify against that SimNsm evidence and
// tampered ones do not.
#include <gtest/gtest.h>

#include "apps/cpipe/model_source.h"
#include "apps/cpipe/sim_pipeline_session.h"
#include "core/attest/nitro/nitro_root.h"
#include "core/attest/nitro/nitro_verifier.h"
#include "core/receipt/inference_hashes.h"
#include "core/receipt/key_binding.h"
#include "backends/simulated/nsm/sim_nsm.h"

namespace cpipe::cli {
namespace {

const std::vector<int32_t> kPrompt = {464, 2068, 7586, 21831};  // "The quick brown fox"

class SimSealedPipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dir = resolve_model_dir("", "tiny", 7);
    ASSERT_TRUE(dir.ok()) << dir.status().to_string();
    model_dir_ = new std::string(*dir);
  }
  static SimPipelineOptions options(bool sealed) {
    SimPipelineOptions o;
    o.model_dir = *model_dir_;
    o.stages = 2;
    o.prompt = kPrompt;
    o.max_new_tokens = 5;
    o.sealed = sealed;
    o.chunk_size = 256 * 1024;  // several chunks even for the tiny model
    return o;
  }
  static SimPipelineReport run(const SimPipelineOptions& o) {
    auto r = run_sim_pipeline(o);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : SimPipelineReport{};
  }
  static std::string* model_dir_;
};
std::string* SimSealedPipelineTest::model_dir_ = nullptr;

TEST_F(SimSealedPipelineTest, SealedStagesColdStartAndGiveThePlaintextTokens) {
  SimPipelineReport plain = run(options(false));
  SimPipelineReport sealed = run(options(true));
  ASSERT_EQ(plain.requests.size(), 1u);
  ASSERT_EQ(sealed.requests.size(), 1u);
  ASSERT_EQ(sealed.requests[0].code, "OK") << sealed.requests[0].status;
  EXPECT_EQ(sealed.requests[0].tokens, plain.requests[0].tokens);
  EXPECT_EQ(sealed.requests[0].tokens.size(), 5u);
  EXPECT_FALSE(sealed.host_saw_plaintext);

  // Each stage booted once, through every phase, with virtual time in each.
  ASSERT_EQ(sealed.boots.size(), 2u);
  for (const SimStageBoot& b : sealed.boots) {
    EXPECT_EQ(b.code, "OK") << b.status;
    EXPECT_GT(b.timings.attestation_ms, 0);
    EXPECT_GT(b.timings.kms_key_release_ms, 0);
    EXPECT_GT(b.timings.model_fetch_ms, 0);
    EXPECT_GT(b.timings.model_decrypt_ms, 0);
    EXPECT_GT(b.timings.model_load_ms, 0);
    EXPECT_GE(b.timings.cold_start_total_ms + 1e-6, b.timings.attestation_ms + b.timings.kms_key_release_ms +
                                                     b.timings.model_fetch_ms + b.timings.model_decrypt_ms +
                                                     b.timings.model_load_ms);
    EXPECT_GT(b.stats.chunks, 1u);
    EXPECT_GT(b.stats.sealed_bytes_fetched, b.stats.plaintext_bytes);  // every chunk, tags included
    EXPECT_LT(b.stats.sealed_bytes_fetched, sealed.sealed_size);         // the header was read apart
  }
  EXPECT_EQ(sealed.kms_requests, 2u);  // one Decrypt per stage
  EXPECT_EQ(sealed.kms_denied, 0u);
  // The pipeline came up after the cold starts: later than the plaintext one.
  EXPECT_GT(sealed.setup_ms, plain.setup_ms);
}

TEST_F(SimSealedPipelineTest, AKeyPolicyThatDoesNotAdmitTheImageMakesStagesRefuseWithAccessDenied) {
  SimPipelineOptions o = options(true);
  o.kms_policy_mismatch = true;
  SimPipelineReport r = run(o);
  ASSERT_EQ(r.requests.size(), 1u);
  EXPECT_EQ(r.requests[0].code, "KEYS_ACCESS_DENIED") << r.requests[0].status;
  EXPECT_NE(r.requests[0].status.find("refused"), std::string::npos) << r.requests[0].status;
  EXPECT_TRUE(r.requests[0].tokens.empty());
  ASSERT_EQ(r.boots.size(), 2u);
  for (const SimStageBoot& b : r.boots) EXPECT_EQ(b.code, "KEYS_ACCESS_DENIED") << b.status;
  EXPECT_EQ(r.kms_denied, 2u);
  EXPECT_EQ(r.kms_retries, 0u);  // a denial is final
  EXPECT_EQ(r.s3_gets, 2u);      // each stage read the sealed header, not one chunk
  EXPECT_LT(r.setup_ms, 2000.0);  // the set-up failed at the refusal, not at a timeout
}

TEST_F(SimSealedPipelineTest, KmsThrottlingIsRetriedWithBackoffThenTheStagesServe) {
  SimPipelineOptions o = options(true);
  o.kms_throttle = 2;
  SimPipelineReport r = run(o);
  ASSERT_EQ(r.requests[0].code, "OK") << r.requests[0].status;
  EXPECT_EQ(r.kms_throttled, 2u);
  EXPECT_EQ(r.kms_retries, 2u);
  EXPECT_EQ(r.kms_requests, 4u);
  SimPipelineReport plain = run(options(false));
  EXPECT_EQ(r.requests[0].tokens, plain.requests[0].tokens);
}

TEST_F(SimSealedPipelineTest, AChunkTheHostAlteredIsRefused) {
  SimPipelineOptions o = options(true);
  o.corrupt_chunk = true;
  SimPipelineReport r = run(o);
  EXPECT_EQ(r.host_tampered_bytes, 1u);
  EXPECT_EQ(r.requests[0].code, "KEYS_CHUNK_AUTH_FAILED") << r.requests[0].status;
  EXPECT_LT(r.setup_ms, 2000.0);
  int refused = 0;
  for (const SimStageBoot& b : r.boots) refused += b.code == "KEYS_CHUNK_AUTH_FAILED";
  EXPECT_EQ(refused, 1);  // the stage whose S3 connection the host altered
}

// The receipt's evidence, checked the way a third party does: the simulated root pinned.
receipt::BoundEvidence bound_evidence(const SimPipelineReport& r) {
  auto root = attest::nitro::pem_certificate_to_der(r.receipt_evidence_root_pem);
  EXPECT_TRUE(root.ok()) << root.status().to_string();
  attest::nitro::NitroPolicy policy;
  policy.root_der = *root;
  policy.platform = sim::SimNsm::kPlatform;
  auto verifier = attest::nitro::NitroVerifier::create(policy);
  EXPECT_TRUE(verifier.ok());
  runtime::VerifyContext ctx;
  ctx.now_unix_ms = r.receipt_evidence_time_ms + 1000;
  auto v = verifier->verify(runtime::Evidence{sim::SimNsm::kPlatform, r.receipt_evidence}, ctx);
  EXPECT_TRUE(v.ok()) << v.status().to_string();
  return receipt::BoundEvidence{r.receipt_evidence, v.ok() ? *v : runtime::VerifiedEvidence{}};
}

TEST_F(SimSealedPipelineTest, EveryRequestGetsAReceiptThatVerifiesAgainstStage0sEvidence) {
  SimPipelineOptions o = options(true);
  o.receipts = true;
  o.requests = 3;
  o.prompts = {kPrompt, {40, 1101, 257}};
  SimPipelineReport r = run(o);
  ASSERT_EQ(r.requests.size(), 3u);
  ASSERT_FALSE(r.receipt_evidence.empty());
  EXPECT_EQ(r.held_at_end, 0u);  // no KV cache and no receipt record outlived its request
  auto key = receipt::receipt_key_from_user_data(bound_evidence(r).verified.user_data);
  ASSERT_TRUE(key.ok()) << key.status().to_string();
  EXPECT_EQ(*key, r.receipt_public_key);
  receipt::BoundEvidence evidence = bound_evidence(r);
  for (size_t i = 0; i < r.requests.size(); ++i) {
    const SimPipelineRequest& q = r.requests[i];
    ASSERT_EQ(q.code, "OK") << q.status;
    ASSERT_FALSE(q.receipt.empty());
    receipt::VerifyPolicy policy;
    policy.expected_model_hash = r.model_hash;
    policy.expected_model_id = r.model_id;
    policy.expected_platform = "nitro";
    auto report = receipt::verify_receipt_with_evidence(q.receipt, evidence, policy);
    ASSERT_TRUE(report.ok()) << report.status().to_string();
    EXPECT_TRUE(report->verified()) << report->status().to_string();
    for (const char* check : {"KEY_BINDING", "ATTESTATION_DOC", "MEASUREMENTS"}) {
      const receipt::Check* c = report->find(check);
      ASSERT_NE(c, nullptr) << check;
      EXPECT_EQ(c->status, receipt::CheckStatus::kPass) << check;
    }
    // The client recomputes both hashes from what it sent and got.
    const auto& prompt = o.prompts[i % o.prompts.size()];
    receipt::InferenceRequestDigest d;
    d.prompt_tokens.assign(prompt.begin(), prompt.end());
    d.max_new_tokens = uint32_t(o.max_new_tokens);
    d.sampling = "greedy";
    EXPECT_EQ(report->claims->request_hash, receipt::request_hash(d));
    EXPECT_EQ(report->claims->response_hash,
              receipt::response_hash(std::vector<uint32_t>(q.tokens.begin(), q.tokens.end())));
    EXPECT_EQ(report->claims->sequence_number, i + 1);
  }
}

TEST_F(SimSealedPipelineTest, ATamperedReceiptIsRejected) {
  SimPipelineOptions o = options(true);
  o.receipts = true;
  SimPipelineReport r = run(o);
  ASSERT_EQ(r.requests[0].code, "OK") << r.requests[0].status;
  receipt::BoundEvidence evidence = bound_evidence(r);
  const Bytes& good = r.requests[0].receipt;
  ASSERT_GT(good.size(), 100u);
  // The signature's last byte, and a byte inside the signed claims.
  for (size_t at : {good.size() - 1, good.size() / 2}) {
    Bytes bad = good;
    bad[at] ^= 0x01;
    auto report = receipt::verify_receipt_with_evidence(bad, evidence, receipt::VerifyPolicy{});
    EXPECT_TRUE(!report.ok() || !report->verified()) << "flipped byte " << at;
  }
  // The right receipt for another model is refused by the model-hash policy.
  receipt::VerifyPolicy other;
  other.expected_model_hash = Bytes(32, 0x11);
  auto mismatch = receipt::verify_receipt_with_evidence(good, evidence, other);
  ASSERT_TRUE(mismatch.ok());
  EXPECT_EQ(mismatch->status().code(), ErrorCode::RECEIPT_MODEL_MISMATCH);
}

TEST_F(SimSealedPipelineTest, PlaintextStagesCanSignReceiptsToo) {
  SimPipelineOptions o = options(false);
  o.receipts = true;
  SimPipelineReport r = run(o);
  ASSERT_EQ(r.requests[0].code, "OK") << r.requests[0].status;
  ASSERT_EQ(r.boots.size(), 1u);  // stage 0 attested its receipt key; stage 1 had nothing to do
  auto report = receipt::verify_receipt_with_evidence(r.requests[0].receipt, bound_evidence(r), receipt::VerifyPolicy{});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->verified()) << report->status().to_string();
}

}  // namespace
}  // namespace cpipe::cli

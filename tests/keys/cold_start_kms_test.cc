// The cold start's production path end to end in a SimWorld: the stage's SimNsm attests a fresh
// RSA-2048 recipient key, KMS Decrypt with Recipient goes through the host proxy to SimKms
// (SigV4, key policy on the attested image hash, CMS answer), the data key opens the sealed tiny
// GPT-2 fetched from SimS3 through the same proxy. A policy that does not admit the image means
// AccessDenied and no model (not one chunk fetched); throttling is retried with backoff.
#include <gtest/gtest.h>

#include <cctype>

#include "backends/simulated/nsm/sim_nsm.h"
#include "backends/simulated/sim_kms.h"
#include "backends/simulated/sim_random.h"
#include "core/keys/http_kms_client.h"
#include "core/keys/kms_retry.h"
#include "tests/keys/cold_start_test_util.h"

namespace cpipe::keys {
namespace {

using namespace std::chrono_literals;
using testing::ColdStartWorld;
using testing::TinyModel;

constexpr const char* kKeyId = "0f0e0d0c-1111-2222-3333-444455556666";
constexpr const char* kEnclaveArn = "arn:aws:iam::111122223333:role/cpipe-stage";

// One RSA key per process (OpenSSL's DRBG makes it; see rsa_key.h), handed to every cold start
// so runs stay comparable.
const Bytes& recipient_pkcs8() {
  static const Bytes der = *RsaKey::generate_rsa2048()->private_der();
  return der;
}

sim::SimEnclaveImage image(const std::string& app) {
  sim::SimEnclaveImage i;
  i.name = "cpipe-stage";
  i.eif = to_bytes("cpipe stage image: " + app);
  i.kernel = to_bytes("kernel");
  i.application = to_bytes(app);
  return i;
}

std::string policy_admitting(const std::string& app) {
  std::string pcr0 = hex_encode(sim::sim_enclave_pcrs(image(app)).at(0));
  for (char& c : pcr0) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));  // case-insensitive match
  return std::string(R"({"Version":"2012-10-17","Statement":[{"Sid":"StageDecrypt","Effect":"Allow",
    "Principal":{"AWS":")") + kEnclaveArn + R"("},"Action":"kms:Decrypt","Resource":"*",
    "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":")" + pcr0 + R"("}}}]})";
}

struct KmsColdStart {
  explicit KmsColdStart(const std::string& running_app = "stage v1", const std::string& admitted_app = "stage v1")
      : kms_connector(w.enclave_env.network, runtime::Endpoint::vsock(3, 8000), 2s) {
    sim::SimNsmConfig nc;
    nc.seed = to_bytes("cold start test PKI");
    nc.image = image(running_app);
    nsm = std::move(*sim::SimNsm::create(w.enclave.clock(), nc));
    sim::SimKmsConfig kc;
    kc.principals = {{"AKIDSTAGE", "stage-secret", "", kEnclaveArn}};
    kc.keys = {{kKeyId, {"alias/cpipe-models"}, policy_admitting(admitted_app)}};
    kc.attestation_root_der = nsm->root_der();
    auto k = sim::SimKms::create(w.kms_node, kc);
    EXPECT_TRUE(k.ok()) << k.status().to_string();
    kms = std::move(*k);
    EXPECT_TRUE(kms->start().ok());

    // The operator sealed the model under a KMS data key bound to the model's identity.
    auto dk = kms->generate_data_key(kKeyId, sealed_model_encryption_context(testing::kModelId, testing::kModelVersion));
    EXPECT_TRUE(dk.ok()) << dk.status().to_string();
    KeyWrap wrap;
    wrap.kind = KeyWrapKind::kKms;
    wrap.kms_key_arn = dk->key_arn;
    wrap.kms_ciphertext_blob = dk->ciphertext_blob;
    data_key = dk->plaintext;
    sim::SimRandom random(5);
    w.s3.put_object(testing::kObjectKey, testing::seal_tiny(data_key, wrap, random));

    HttpKmsClientOptions o;
    o.endpoint = {"eu-west-1", "kms.eu-west-1.amazonaws.com"};
    o.credentials = {"AKIDSTAGE", "stage-secret", ""};
    http_kms = std::make_unique<HttpKmsClient>(w.enclave_env, &kms_connector, o);
    KmsRetryPolicy rp;
    rp.base_backoff = 100ms;
    retrying = std::make_unique<RetryingKmsClient>(w.enclave_env, http_kms.get(), rp);
  }
  ~KmsColdStart() { kms->stop(); }

  ColdStartConfig config() {
    ColdStartConfig c;
    c.store = w.store.get();
    c.object_key = testing::kObjectKey;
    c.model_id = testing::kModelId;
    c.model_version = testing::kModelVersion;
    c.kms = retrying.get();
    c.attestation = nsm.get();
    c.make_recipient_key = [] { return RsaKey::from_private_der(recipient_pkcs8()); };
    return c;
  }

  ColdStartWorld w;
  runtime::NetworkConnector kms_connector;
  std::unique_ptr<sim::SimNsm> nsm;
  std::unique_ptr<sim::SimKms> kms;
  Bytes data_key;
  std::unique_ptr<HttpKmsClient> http_kms;
  std::unique_ptr<RetryingKmsClient> retrying;
};

bool contains(const Bytes& hay, const Bytes& needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

TEST(ColdStartKmsTest, AttestedKeyReleaseThenTheModelStreamsIn) {
  KmsColdStart k;
  auto r = k.w.run(k.config());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const TinyModel& m = TinyModel::get();
  ASSERT_EQ(r->files.size(), m.files.size());
  for (size_t i = 0; i < m.files.size(); ++i) EXPECT_TRUE(r->files[i].data == m.files[i].second) << m.files[i].first;
  EXPECT_FALSE(r->development_key);
  EXPECT_EQ(r->evidence.platform, sim::SimNsm::kPlatform);
  EXPECT_FALSE(r->evidence.document.empty());

  // Every phase took virtual time: NSM latency, the KMS round trip through the proxy, S3.
  EXPECT_GT(r->timings.attestation_ms, 0);
  EXPECT_GT(r->timings.kms_key_release_ms, 0);
  EXPECT_GT(r->timings.model_fetch_ms, 0);
  EXPECT_GT(r->timings.model_decrypt_ms, 0);
  EXPECT_GE(r->timings.cold_start_total_ms + 1e-6, r->timings.attestation_ms + r->timings.kms_key_release_ms +
                                                    r->timings.model_fetch_ms + r->timings.model_decrypt_ms);
  EXPECT_EQ(k.kms->stats().by_operation.at("Decrypt"), 1u);

  // The host relayed the KMS exchange and the sealed model, and never saw the data key.
  EXPECT_GT(k.w.proxy->bytes_relayed(1), 0u);  // route "kms"
  EXPECT_FALSE(contains(k.w.tap.seen, k.data_key));
  std::printf("cold start (sim, tiny GPT-2, %zu bytes): %s\n", size_t(m.total_bytes()), r->timings.to_json().c_str());
}

TEST(ColdStartKmsTest, APolicyThatDoesNotAdmitTheImageIsAccessDeniedAndNoChunkIsFetched) {
  KmsColdStart k("stage v2 (not admitted)", "stage v1");
  auto r = k.w.run(k.config());
  ASSERT_EQ(r.code(), ErrorCode::KEYS_ACCESS_DENIED) << r.status().to_string();
  EXPECT_NE(r.status().message().find("AccessDeniedException"), std::string::npos) << r.status().message();
  EXPECT_EQ(k.retrying->stats().attempts, 1u);  // never retried
  EXPECT_EQ(k.w.s3.stats().gets, 1u);           // the header read only: no chunk left S3
  EXPECT_TRUE(k.w.saw_event("key_release_refused"));
}

TEST(ColdStartKmsTest, ThrottlingIsRetriedWithBackoffThenTheKeyIsReleased) {
  KmsColdStart k;
  k.kms->throttle_next(2);
  auto r = k.w.run(k.config());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(k.retrying->stats().attempts, 3u);
  EXPECT_EQ(k.retrying->stats().retries, 2u);
  EXPECT_EQ(k.kms->stats().errors.at("ThrottlingException"), 2u);
  EXPECT_GT(k.retrying->stats().backoff_ns_total, 0);
  EXPECT_TRUE(r->files[1].data == TinyModel::get().files[1].second);
}

TEST(ColdStartKmsTest, ADevKeySealedModelIsNotAcceptedOnTheProductionPath) {
  KmsColdStart k;
  sim::SimRandom random(9);
  Bytes dev_key = random.bytes(32), dk = random.bytes(32);
  auto wrap = wrap_data_key_dev(dev_key, dk, testing::kModelId, testing::kModelVersion, random);
  ASSERT_TRUE(wrap.ok());
  k.w.s3.put_object(testing::kObjectKey, testing::seal_tiny(dk, *wrap, random));
  auto r = k.w.run(k.config());
  EXPECT_EQ(r.code(), ErrorCode::FAILED_PRECONDITION) << r.status().to_string();
  EXPECT_EQ(k.kms->stats().requests, 0u);
}

}  // namespace
}  // namespace cpipe::keys

// HttpKmsClient against SimKms in a SimWorld: attested key release end to end (SimNsm document
// with an RSA-2048 recipient key -> Decrypt with Recipient -> CMS -> the data key that
// GenerateDataKey gave), and every way it must fail: policy mismatch, bad signature, unknown
// key, wrong encryption context, stale document, throttling (retried with backoff), KMS internal
// errors (circuit breaker), deadlines; plus determinism of the whole exchange per seed.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/simulated/nsm/sim_nsm.h"
#include "backends/simulated/sim_kms.h"
#include "backends/simulated/sim_network.h"
#include "backends/simulated/sim_world.h"
#include "core/keys/http_kms_client.h"
#include "core/keys/kms_retry.h"
#include "core/keys/rsa_key.h"
#include "core/runtime/connector.h"

namespace cpipe::sim {
namespace {

using namespace std::chrono_literals;
using keys::HttpKmsClient;
using keys::KmsDecryptRequest;
using keys::KmsDecryptResponse;
using runtime::Task;

constexpr const char* kKeyId = "1234abcd-12ab-34cd-56ef-1234567890ab";
const char* const kEnclaveArn = "arn:aws:iam::111122223333:role/enclave";
const char* const kOperatorArn = "arn:aws:iam::111122223333:user/operator";

// RSA key generation uses OpenSSL's DRBG (rsa_key.h), so one key per test process keeps runs
// comparable (determinism test).
const keys::RsaKey& recipient_key() {
  static const keys::RsaKey key = *keys::RsaKey::generate_rsa2048();
  return key;
}

SimEnclaveImage enclave_image(const std::string& app) {
  SimEnclaveImage image;
  image.name = "stage";
  image.eif = to_bytes("cpipe stage enclave image: " + app);  // PCR0 = ImageSha384
  image.kernel = to_bytes("kernel");
  image.application = to_bytes(app);
  return image;
}

std::string policy_for_pcr0(const std::string& pcr0_hex) {
  return std::string(R"({"Version":"2012-10-17","Statement":[
    {"Sid":"Operator","Effect":"Allow","Principal":{"AWS":")") + kOperatorArn +
         R"("},"Action":["kms:GenerateDataKey","kms:DescribeKey"],"Resource":"*"},
    {"Sid":"EnclaveDecrypt","Effect":"Allow","Principal":{"AWS":")" + kEnclaveArn +
         R"("},"Action":"kms:Decrypt","Resource":"*",
     "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":")" + pcr0_hex + R"("}}}]})";
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

struct WorldOptionsForTest {
  uint64_t seed = 7;
  std::string enclave_app = "stage app v1";  // what runs
  std::string policy_app = "stage app v1";   // what the key policy admits
  runtime::Duration p50 = 120ms, p99 = 500ms;
  uint32_t rate_per_s = 0, burst = 0;  // SimKms token bucket (0: unlimited)
};

// A world with a KMS node, an enclave node (SimNsm) and an operator node.
struct KmsWorld {
  explicit KmsWorld(WorldOptionsForTest o = {}) : world(o.seed) {
    kms_node = &world.add_node("kms", {.host = "kms.eu-west-1.amazonaws.com"});
    enclave = &world.add_node("enclave", {.cid = 16});
    operator_node = &world.add_node("operator");
    LinkConfig link;
    link.latency = LatencyDistribution::quantiles(2ms, 5ms, 20ms, 40ms);
    world.network().set_default_link(link);

    SimNsmConfig nc;
    nc.seed = to_bytes("sim kms test PKI");
    nc.image = enclave_image(o.enclave_app);
    nsm = std::move(*SimNsm::create(enclave->clock(), nc));

    SimKmsConfig kc;
    kc.principals = {{"AKIDENCLAVE", "enclave-secret", "", kEnclaveArn},
                     {"AKIDOPERATOR", "operator-secret", "", kOperatorArn}};
    const std::string policy_pcr0 = hex_encode(sim_enclave_pcrs(enclave_image(o.policy_app)).at(0));
    kc.keys = {{kKeyId, {"alias/cpipe-models"}, policy_for_pcr0(upper(policy_pcr0))}};
    kc.attestation_root_der = nsm->root_der();
    kc.latency_p50 = o.p50;
    kc.latency_p99 = o.p99;
    kc.rate_per_s = o.rate_per_s;
    kc.burst = o.burst;
    kms = std::move(*SimKms::create(*kms_node, kc));
    EXPECT_TRUE(kms->start().ok());

    enclave_connector = std::make_unique<runtime::NetworkConnector>(&enclave->network(), kms->endpoint(), 2s);
    operator_connector = std::make_unique<runtime::NetworkConnector>(&operator_node->network(), kms->endpoint(), 2s);
    enclave_client = std::make_unique<HttpKmsClient>(enclave->env(), enclave_connector.get(),
                                                     client_options("AKIDENCLAVE", "enclave-secret"));
    operator_client = std::make_unique<HttpKmsClient>(operator_node->env(), operator_connector.get(),
                                                      client_options("AKIDOPERATOR", "operator-secret"));
  }

  // Lets the world finish what is still in flight (the accept loop's cancellation, abandoned
  // attempts), so no coroutine frame outlives the world.
  ~KmsWorld() {
    kms->stop();
    (void)world.run_until_idle();
  }

  static keys::HttpKmsClientOptions client_options(std::string akid, std::string secret) {
    keys::HttpKmsClientOptions o;
    o.endpoint = {"eu-west-1", ""};
    o.credentials = {std::move(akid), std::move(secret), ""};
    return o;
  }

  // GenerateDataKey by the operator, over the network.
  keys::KmsDataKey generate(const keys::EncryptionContext& ctx) {
    std::optional<Result<keys::KmsDataKey>> out;
    runtime::spawn(*operator_node, run_generate(operator_client.get(), kKeyId, ctx, &out));
    EXPECT_TRUE(world.run_until_idle().ok());
    EXPECT_TRUE(out.has_value() && out->ok()) << (out && !out->ok() ? out->status().message() : "");
    return **out;
  }

  static Task<void> run_generate(HttpKmsClient* c, std::string key, keys::EncryptionContext ctx,
                                 std::optional<Result<keys::KmsDataKey>>* out) {
    out->emplace(co_await c->generate_data_key(std::move(key), std::move(ctx)));
  }

  // The enclave's side: attest with the recipient key, Decrypt with Recipient, open the CMS.
  static Task<void> run_release(SimNsm* nsm, keys::KmsClient* client, Bytes blob, keys::EncryptionContext ctx,
                                std::optional<Result<Bytes>>* out) {
    runtime::AttestationRequest ar;
    ar.public_key = *recipient_key().public_der();
    Result<runtime::Evidence> ev = co_await nsm->attest(ar);
    if (!ev.ok()) {
      out->emplace(ev.status());
      co_return;
    }
    KmsDecryptRequest req;
    req.ciphertext_blob = std::move(blob);
    req.encryption_context = std::move(ctx);
    req.attestation_document = ev->document;
    Result<KmsDecryptResponse> r = co_await client->decrypt(std::move(req));
    if (!r.ok()) {
      out->emplace(r.status());
      co_return;
    }
    out->emplace(keys::data_key_from_recipient_response(*r, recipient_key()));
  }

  Result<Bytes> release(keys::KmsClient* client, const keys::KmsDataKey& key, const keys::EncryptionContext& ctx) {
    std::optional<Result<Bytes>> out;
    runtime::spawn(*enclave, run_release(nsm.get(), client, key.ciphertext_blob, ctx, &out));
    EXPECT_TRUE(world.run_until_idle().ok());
    EXPECT_TRUE(out.has_value());
    return std::move(*out);
  }

  SimWorld world;
  SimNode* kms_node;
  SimNode* enclave;
  SimNode* operator_node;
  std::unique_ptr<SimNsm> nsm;
  std::unique_ptr<SimKms> kms;
  std::unique_ptr<runtime::NetworkConnector> enclave_connector, operator_connector;
  std::unique_ptr<HttpKmsClient> enclave_client, operator_client;
};

Task<void> run_decrypt(keys::KmsClient* c, KmsDecryptRequest r, std::optional<Result<KmsDecryptResponse>>* out) {
  out->emplace(co_await c->decrypt(std::move(r)));
}

const keys::EncryptionContext kCtx = keys::sealed_model_encryption_context("gpt2-124m", "1");

TEST(SimKmsTest, DecryptWithRecipientReleasesTheKeyGenerateDataKeyGave) {
  KmsWorld w;
  keys::KmsDataKey dk = w.generate(kCtx);
  ASSERT_EQ(dk.plaintext.size(), 32u);
  EXPECT_EQ(dk.key_id, "arn:aws:kms:eu-west-1:111122223333:key/" + std::string(kKeyId));
  Result<Bytes> key = w.release(w.enclave_client.get(), dk, kCtx);
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(*key, dk.plaintext);
  EXPECT_EQ(w.kms->stats().by_operation.at("GenerateDataKey"), 1u);
  EXPECT_EQ(w.kms->stats().by_operation.at("Decrypt"), 1u);
  EXPECT_TRUE(w.kms->stats().errors.empty());
  // Latency model: SimNsm 2 ms + KMS answer (log-normal around 120 ms) + network.
  EXPECT_GT(w.world.now().ns, 0);
}

TEST(SimKmsTest, PolicyMismatchIsAccessDeniedWithTheKmsMessage) {
  KmsWorld w({.enclave_app = "stage app v2 (not in the policy)"});
  keys::KmsDataKey dk = w.generate(kCtx);
  Result<Bytes> key = w.release(w.enclave_client.get(), dk, kCtx);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), ErrorCode::KEYS_ACCESS_DENIED);
  EXPECT_NE(key.status().message().find("AccessDeniedException"), std::string::npos) << key.status().message();
  EXPECT_NE(key.status().message().find("is not authorized to perform: kms:Decrypt"), std::string::npos);
  EXPECT_NE(key.status().message().find(kEnclaveArn), std::string::npos);
}

TEST(SimKmsTest, PolicyConditionOnAnotherPcrIsEnforced) {
  KmsWorld w;
  keys::KmsDataKey dk = w.generate(kCtx);
  const std::string pcr2 = hex_encode(w.nsm->pcrs().at(2));
  const std::string policy = std::string(R"({"Statement":[{"Effect":"Allow","Principal":{"AWS":")") + kEnclaveArn +
                             R"("},"Action":"kms:Decrypt","Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR2":")";
  ASSERT_TRUE(w.kms->set_key_policy(kKeyId, policy + pcr2 + R"("}}}]})").ok());
  EXPECT_TRUE(w.release(w.enclave_client.get(), dk, kCtx).ok());
  ASSERT_TRUE(w.kms->set_key_policy(kKeyId, policy + std::string(96, '0') + R"("}}}]})").ok());
  EXPECT_EQ(w.release(w.enclave_client.get(), dk, kCtx).status().code(), ErrorCode::KEYS_ACCESS_DENIED);
}

TEST(SimKmsTest, WrongSecretIsInvalidSignatureAndAccessDenied) {
  KmsWorld w;
  keys::KmsDataKey dk = w.generate(kCtx);
  w.enclave_client->set_credentials({"AKIDENCLAVE", "not-the-secret", ""});
  Result<Bytes> key = w.release(w.enclave_client.get(), dk, kCtx);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), ErrorCode::KEYS_ACCESS_DENIED);
  EXPECT_NE(key.status().message().find("InvalidSignatureException"), std::string::npos) << key.status().message();
  EXPECT_EQ(w.kms->stats().errors.at("InvalidSignatureException"), 1u);

  w.enclave_client->set_credentials({"AKIDUNKNOWN", "enclave-secret", ""});
  key = w.release(w.enclave_client.get(), dk, kCtx);
  EXPECT_EQ(key.status().code(), ErrorCode::KEYS_ACCESS_DENIED);
  EXPECT_NE(key.status().message().find("UnrecognizedClientException"), std::string::npos);
}

TEST(SimKmsTest, SkewedClockIsSignatureExpired) {
  KmsWorld w;
  keys::KmsDataKey dk = w.generate(kCtx);
  w.enclave->set_wall_offset(std::chrono::minutes(10));  // the host moved the enclave's clock
  Result<Bytes> key = w.release(w.enclave_client.get(), dk, kCtx);
  EXPECT_EQ(key.status().code(), ErrorCode::KEYS_ACCESS_DENIED);
  EXPECT_NE(key.status().message().find("Signature expired"), std::string::npos) << key.status().message();
}

TEST(SimKmsTest, WrongEncryptionContextIsInvalidCiphertext) {
  KmsWorld w;
  keys::KmsDataKey dk = w.generate(kCtx);
  Result<Bytes> key = w.release(w.enclave_client.get(), dk, keys::sealed_model_encryption_context("gpt2-124m", "2"));
  EXPECT_EQ(key.status().code(), ErrorCode::KEYS_VALIDATION);
  EXPECT_NE(key.status().message().find("InvalidCiphertextException"), std::string::npos);
}

TEST(SimKmsTest, TamperedBlobIsInvalidCiphertextAndUnknownKeyNotFound) {
  KmsWorld w;
  keys::KmsDataKey dk = w.generate(kCtx);
  keys::KmsDataKey tampered = dk;
  tampered.ciphertext_blob.back() ^= 1;
  EXPECT_EQ(w.release(w.enclave_client.get(), tampered, kCtx).status().code(), ErrorCode::KEYS_VALIDATION);
  keys::KmsDataKey other = dk;
  other.ciphertext_blob[10] ^= 1;  // inside the key ARN
  EXPECT_EQ(w.release(w.enclave_client.get(), other, kCtx).status().code(), ErrorCode::NOT_FOUND);
}

TEST(SimKmsTest, StaleAttestationDocumentIsRejected) {
  KmsWorld w;
  keys::KmsDataKey dk = w.generate(kCtx);
  // A document made now but presented 10 minutes later (past the 5-minute window).
  runtime::AttestationRequest ar;
  ar.public_key = *recipient_key().public_der();
  Bytes doc = *w.nsm->make_document(ar, w.enclave->clock().wall_now().unix_ms());
  ASSERT_TRUE(w.world.run_for(std::chrono::minutes(10)).ok());
  KmsDecryptRequest req{dk.ciphertext_blob, "", "", kCtx, doc};
  std::optional<Result<KmsDecryptResponse>> out;
  runtime::spawn(*w.enclave, run_decrypt(w.enclave_client.get(), req, &out));
  ASSERT_TRUE(w.world.run_until_idle().ok());
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->status().code(), ErrorCode::KEYS_VALIDATION);
  EXPECT_NE(out->status().message().find("attestation document is not valid"), std::string::npos)
      << out->status().message();
}

TEST(SimKmsTest, ThrottlingIsRetriedWithGrowingBackoffThenSucceeds) {
  KmsWorld w({.p50 = 50ms, .p99 = 50ms});  // fixed KMS latency: gaps show the backoff
  keys::KmsDataKey dk = w.generate(kCtx);
  const size_t before = w.kms->stats().arrivals.size();
  w.kms->throttle_next(3);
  keys::KmsRetryPolicy rp;
  rp.base_backoff = 200ms;
  rp.jitter = keys::JitterMode::kEqual;  // never below half the cap: gaps must grow
  keys::RetryingKmsClient retrying(w.enclave->env(), w.enclave_client.get(), rp);
  Result<Bytes> key = w.release(&retrying, dk, kCtx);
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(*key, dk.plaintext);
  EXPECT_EQ(retrying.stats().attempts, 4u);
  EXPECT_EQ(retrying.stats().retries, 3u);
  EXPECT_EQ(w.kms->stats().errors.at("ThrottlingException"), 3u);
  const auto& arrivals = w.kms->stats().arrivals;
  ASSERT_EQ(arrivals.size() - before, 4u);
  std::vector<int64_t> gaps;
  for (size_t i = before + 1; i < arrivals.size(); ++i) gaps.push_back((arrivals[i] - arrivals[i - 1]).count());
  const auto& backoffs = retrying.stats().last_call_backoffs_ns;
  ASSERT_EQ(backoffs.size(), 3u);
  for (size_t i = 0; i < gaps.size(); ++i) {
    EXPECT_GE(gaps[i], backoffs[i] + runtime::Duration(50ms).count());  // the answer's latency, then the sleep
    EXPECT_GE(backoffs[i], retrying.stats().last_call_backoff_caps_ns[i] / 2);
    if (i > 0) {
      EXPECT_GT(gaps[i], gaps[i - 1]) << "gap " << i;
    }
  }
}

TEST(SimKmsTest, BreakerOpensAfterInternalErrorsFailsFastThenProbesAndCloses) {
  KmsWorld w({.p50 = 20ms, .p99 = 20ms});
  keys::KmsDataKey dk = w.generate(kCtx);
  w.kms->fail_internal_next(3);
  keys::KmsRetryPolicy rp;
  rp.max_attempts = 3;
  rp.base_backoff = 10ms;
  keys::CircuitBreakerPolicy bp{.failure_threshold = 3, .cool_down = 10s};
  keys::RetryingKmsClient retrying(w.enclave->env(), w.enclave_client.get(), rp, bp);

  Result<Bytes> first = w.release(&retrying, dk, kCtx);
  EXPECT_EQ(first.status().code(), ErrorCode::KEYS_KMS_INTERNAL);
  EXPECT_NE(first.status().message().find("after 3 attempts"), std::string::npos) << first.status().message();
  EXPECT_EQ(retrying.breaker_state(), keys::BreakerState::kOpen);
  EXPECT_EQ(retrying.stats().breaker_opens, 1u);

  const uint64_t requests = w.kms->stats().requests;
  Result<Bytes> fast = w.release(&retrying, dk, kCtx);
  EXPECT_EQ(fast.status().code(), ErrorCode::UNAVAILABLE);
  EXPECT_NE(fast.status().message().find("circuit breaker open"), std::string::npos) << fast.status().message();
  EXPECT_NE(fast.status().message().find("KMSInternalException"), std::string::npos);
  EXPECT_EQ(w.kms->stats().requests, requests) << "an open breaker must not reach KMS";
  EXPECT_EQ(retrying.stats().fast_failures, 1u);

  ASSERT_TRUE(w.world.run_for(11s).ok());
  EXPECT_EQ(retrying.breaker_state(), keys::BreakerState::kHalfOpen);
  Result<Bytes> probe = w.release(&retrying, dk, kCtx);
  ASSERT_TRUE(probe.ok()) << probe.status().message();
  EXPECT_EQ(retrying.breaker_state(), keys::BreakerState::kClosed);
}

Task<void> run_generate_into(HttpKmsClient* c, std::vector<Result<keys::KmsDataKey>>* out) {
  out->push_back(co_await c->generate_data_key(kKeyId, kCtx));
}

TEST(SimKmsTest, TokenBucketThrottlesBurstsAndRefillsOverVirtualTime) {
  KmsWorld w({.p50 = 10ms, .p99 = 10ms, .rate_per_s = 1, .burst = 2});
  std::vector<Result<keys::KmsDataKey>> results;
  for (int i = 0; i < 3; ++i) runtime::spawn(*w.operator_node, run_generate_into(w.operator_client.get(), &results));
  ASSERT_TRUE(w.world.run_until_idle().ok());
  ASSERT_EQ(results.size(), 3u);
  int ok = 0, throttled = 0;
  for (const auto& r : results) {
    if (r.ok()) ++ok;
    if (!r.ok() && r.status().code() == ErrorCode::KEYS_THROTTLED) ++throttled;
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(throttled, 1);
  ASSERT_TRUE(w.world.run_for(1s).ok());  // one token back
  results.clear();
  runtime::spawn(*w.operator_node, run_generate_into(w.operator_client.get(), &results));
  ASSERT_TRUE(w.world.run_until_idle().ok());
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].ok());
}

TEST(SimKmsTest, EnclaveMayNotGenerateDataKeys) {
  KmsWorld w;
  std::vector<Result<keys::KmsDataKey>> results;
  runtime::spawn(*w.enclave, run_generate_into(w.enclave_client.get(), &results));
  ASSERT_TRUE(w.world.run_until_idle().ok());
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status().code(), ErrorCode::KEYS_ACCESS_DENIED);
  EXPECT_NE(results[0].status().message().find("kms:GenerateDataKey"), std::string::npos);
}

TEST(SimKmsTest, SlowKmsHitsTheRequestDeadline) {
  KmsWorld w({.p50 = 5s, .p99 = 5s});
  keys::KmsDataKey dk = w.generate(kCtx);
  auto options = KmsWorld::client_options("AKIDENCLAVE", "enclave-secret");
  options.request_timeout = 1s;
  HttpKmsClient impatient(w.enclave->env(), w.enclave_connector.get(), options);
  const runtime::MonoTime start = w.world.now();
  Result<Bytes> key = w.release(&impatient, dk, kCtx);
  EXPECT_EQ(key.status().code(), ErrorCode::DEADLINE_EXCEEDED);

  // The retrying client: attempts of at most 1 s, 2.5 s overall.
  keys::KmsRetryPolicy rp;
  rp.attempt_timeout = 1s;
  rp.overall_timeout = 2500ms;
  rp.base_backoff = 100ms;
  keys::RetryingKmsClient retrying(w.enclave->env(), w.enclave_client.get(), rp);
  std::optional<Result<Bytes>> out;
  const runtime::MonoTime t0 = w.world.now();
  runtime::spawn(*w.enclave, KmsWorld::run_release(w.nsm.get(), &retrying, dk.ciphertext_blob, kCtx, &out));
  // Run only until the call must have ended (abandoned attempts finish later, on their own).
  while (!out.has_value() && w.world.step()) {
  }
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->status().code(), ErrorCode::DEADLINE_EXCEEDED);
  EXPECT_LE((w.world.now() - t0).count(), runtime::Duration(2500ms + 10ms).count());
  EXPECT_GE(retrying.stats().attempt_timeouts, 2u);
  (void)start;
  ASSERT_TRUE(w.world.run_until_idle().ok());
}

// A whole exchange (GenerateDataKey, throttled Decrypt with retries) as a function of the seed.
std::string run_trace(uint64_t seed) {
  KmsWorld w({.seed = seed});
  keys::KmsDataKey dk = w.generate(kCtx);
  w.kms->throttle_next(2);
  keys::RetryingKmsClient retrying(w.enclave->env(), w.enclave_client.get());
  Result<Bytes> key = w.release(&retrying, dk, kCtx);
  EXPECT_TRUE(key.ok());
  return w.world.trace_hash() + "/" + std::to_string(w.world.now().ns);
}

TEST(SimKmsTest, SameSeedSameTraceHash) {
  const std::string a = run_trace(11), b = run_trace(11), c = run_trace(12);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

}  // namespace
}  // namespace cpipe::sim

// The receipt key bound into attestation user_data: the layout round-trips, and a receipt is
// verified end to end against SimNsm evidence (verified by the real NitroVerifier with the
// simulated root pinned): key from user_data, attestation_doc_hash = SHA-256(document), PCRs
// equal the document's. Every way the binding can break is reported with its code.
#include <gtest/gtest.h>

#include "backends/simulated/nsm/sim_nsm.h"
#include "core/attest/nitro/nitro_verifier.h"
#include "core/crypto/hash.h"
#include "core/receipt/key_binding.h"
#include "core/receipt/receipt_signer.h"
#include "tests/receipt/receipt_test_util.h"

namespace cpipe::receipt {
namespace {

using namespace testing_air;

class FixedClock final : public runtime::Clock {
 public:
  runtime::MonoTime now() const override { return {}; }
  runtime::WallTime wall_now() const override { return runtime::WallTime::from_unix_ms(kNowMs); }
  runtime::TimerId start_timer(runtime::Duration, std::function<void()>) override { return 0; }
  bool cancel_timer(runtime::TimerId) override { return false; }
  static constexpr int64_t kNowMs = 1771977600000;  // 2026-02-25T00:00:00Z
};

TEST(KeyBinding, UserDataLayoutRoundTrips) {
  auto key = vector_key();
  Bytes ud = receipt_key_user_data(key.public_key()).value();
  ASSERT_EQ(ud.size(), kReceiptKeyUserDataSize);
  EXPECT_EQ(hex_encode(ud), hex_encode(to_bytes("cpipe-air-key-v1")) +
                                "197f6b23e16c8532c6abc838facd5ea789be0c76b2920334039bfa8b3d368d61");
  EXPECT_EQ(receipt_key_from_user_data(ud).value(), Bytes(key.public_key().begin(), key.public_key().end()));
  EXPECT_EQ(receipt_key_user_data(Bytes(31, 1)).code(), ErrorCode::INVALID_ARGUMENT);
  Bytes wrong_tag = ud;
  wrong_tag[0] ^= 1;
  EXPECT_EQ(receipt_key_from_user_data(wrong_tag).code(), ErrorCode::RECEIPT_KEY_NOT_BOUND);
  EXPECT_EQ(receipt_key_from_user_data(ByteSpan(ud).first(47)).code(), ErrorCode::RECEIPT_KEY_NOT_BOUND);
  EXPECT_EQ(receipt_key_from_user_data({}).code(), ErrorCode::RECEIPT_KEY_NOT_BOUND);
}

struct Stage {
  FixedClock clock;
  std::unique_ptr<sim::SimNsm> nsm;
  crypto::Ed25519KeyPair key = crypto::Ed25519KeyPair::from_seed(Bytes(32, 0x33)).value();
  Bytes document;

  explicit Stage(bool bind_key = true, Bytes user_data = {}) {
    sim::SimNsmConfig config;
    config.seed = to_bytes("receipt-test");
    config.image.eif = to_bytes("cpipe-stage.eif");
    config.image.kernel = to_bytes("kernel");
    config.image.application = to_bytes("cpipe-stage");
    nsm = sim::SimNsm::create(clock, config).value();
    runtime::AttestationRequest req;
    req.public_key = Bytes(32, 0x77);  // the channel's key lives here
    req.user_data = bind_key ? receipt_key_user_data(key.public_key()).value() : user_data;
    document = nsm->make_document(req, FixedClock::kNowMs).value();
  }

  BoundEvidence evidence() const {
    attest::nitro::NitroPolicy p;
    p.root_der = nsm->root_der();
    p.platform = sim::SimNsm::kPlatform;
    auto verifier = attest::nitro::NitroVerifier::create(p).value();
    runtime::VerifyContext ctx;
    ctx.now_unix_ms = FixedClock::kNowMs + 1000;
    auto v = verifier.verify_document(document, ctx);
    EXPECT_TRUE(v.ok()) << v.status().message();
    return BoundEvidence{document, v->evidence};
  }

  AirClaims claims() const {
    AirClaims c = claims_from_vector(load_vector("valid/v1-nitro-no-nonce.json"));
    c.iat = FixedClock::kNowMs / 1000;
    c.attestation_doc_hash = crypto::sha256(document);
    c.enclave_measurements.pcr0 = nsm->pcrs().at(0);
    c.enclave_measurements.pcr1 = nsm->pcrs().at(1);
    c.enclave_measurements.pcr2 = nsm->pcrs().at(2);
    return c;
  }
};

std::string first_code(const VerifyReport& r) {
  const Check* f = r.first_failure();
  return f ? std::string(check_code_name(f->code)) : "PASS";
}

TEST(KeyBinding, ReceiptVerifiesAgainstTheStagesSimNsmEvidence) {
  Stage s;
  Bytes receipt = issue_receipt(s.claims(), s.key).value();
  VerifyPolicy p;
  p.now_unix_s = FixedClock::kNowMs / 1000 + 5;
  p.max_age_s = 60;
  auto r = verify_receipt_with_evidence(receipt, s.evidence(), p).value();
  EXPECT_TRUE(r.verified()) << r.status().message();
  for (const char* name : {"KEY_BINDING", "ATTESTATION_DOC", "MEASUREMENTS"}) {
    ASSERT_NE(r.find(name), nullptr) << name;
    EXPECT_EQ(r.find(name)->status, CheckStatus::kPass) << name;
    EXPECT_EQ(r.find(name)->layer, Layer::kBinding);
  }
}

TEST(KeyBinding, EvidenceWithoutABoundKeyIsKeyNotBound) {
  Stage s(false, to_bytes("something else"));
  Bytes receipt = issue_receipt(s.claims(), s.key).value();
  auto r = verify_receipt_with_evidence(receipt, s.evidence(), {}).value();
  EXPECT_EQ(first_code(r), "KEY_NOT_BOUND");
  EXPECT_EQ(r.status().code(), ErrorCode::RECEIPT_KEY_NOT_BOUND);
}

TEST(KeyBinding, ReceiptSignedByAnotherKeyIsSigFailed) {
  Stage s;
  auto other = crypto::Ed25519KeyPair::from_seed(Bytes(32, 0x34)).value();
  Bytes receipt = issue_receipt(s.claims(), other).value();
  auto r = verify_receipt_with_evidence(receipt, s.evidence(), {}).value();
  EXPECT_EQ(first_code(r), "SIG_FAILED");
  EXPECT_EQ(r.find("ATTESTATION_DOC")->status, CheckStatus::kNotRun);
}

TEST(KeyBinding, ReceiptPointingAtOtherEvidenceIsRejected) {
  Stage s;
  AirClaims c = s.claims();
  c.attestation_doc_hash[0] ^= 1;
  auto r = verify_receipt_with_evidence(issue_receipt(c, s.key).value(), s.evidence(), {}).value();
  EXPECT_EQ(first_code(r), "ATTESTATION_DOC_HASH_MISMATCH");
  EXPECT_EQ(r.status().code(), ErrorCode::RECEIPT_EVIDENCE_MISMATCH);

  c = s.claims();
  c.enclave_measurements.pcr2[0] ^= 1;
  r = verify_receipt_with_evidence(issue_receipt(c, s.key).value(), s.evidence(), {}).value();
  EXPECT_EQ(first_code(r), "MEASUREMENT_MISMATCH");

  c = s.claims();
  c.enclave_measurements.measurement_type = "tdx-mrtd-rtmr";
  r = verify_receipt_with_evidence(issue_receipt(c, s.key).value(), s.evidence(), {}).value();
  EXPECT_EQ(first_code(r), "MEASUREMENT_MISMATCH");
}

TEST(KeyBinding, PolicyFailuresStillReportTheBinding) {
  Stage s;
  VerifyPolicy p;
  p.expected_model_hash = Bytes(32, 0xff);
  auto r = verify_receipt_with_evidence(issue_receipt(s.claims(), s.key).value(), s.evidence(), p).value();
  EXPECT_EQ(first_code(r), "MODEL_HASH_MISMATCH");
  EXPECT_EQ(r.find("ATTESTATION_DOC")->status, CheckStatus::kPass);
}

// A counter-driven Random: deterministic, distinct bytes per draw.
class CountingRandom final : public runtime::Random {
 public:
  void fill(MutableByteSpan out) override {
    for (uint8_t& b : out) b = uint8_t(++n_ * 131 + 7);
  }

 private:
  uint32_t n_ = 0;
};

TEST(ReceiptSigner, StageReceiptsVerifyAgainstItsSimNsmEvidence) {
  FixedClock clock;
  sim::SimNsmConfig config;
  config.seed = to_bytes("receipt-signer-test");
  config.image.eif = to_bytes("cpipe-stage.eif");
  config.image.kernel = to_bytes("kernel");
  config.image.application = to_bytes("cpipe-stage");
  auto nsm = sim::SimNsm::create(clock, config).value();

  SignerConfig sc;
  sc.model_id = "gpt2";
  sc.model_version = "124M";
  sc.model_hash = crypto::sha256(to_bytes("the model manifest"));
  sc.policy_version = "cpipe-policy-1";
  ReceiptSigner signer(sc, crypto::Ed25519KeyPair::from_seed(Bytes(32, 0x44)).value());
  CountingRandom random;
  InferenceRecord rec;
  rec.request.prompt_tokens = {15496, 11, 616};
  rec.request.max_new_tokens = 3;
  rec.generated_tokens = {3290, 318, 257};
  rec.nonce = Bytes(16, 0x5a);
  rec.iat_s = FixedClock::kNowMs / 1000 + 2;
  rec.execution_time_ms = 48;
  EXPECT_EQ(signer.sign(rec, random).code(), ErrorCode::FAILED_PRECONDITION);

  runtime::AttestationRequest req;
  req.user_data = signer.attestation_user_data();
  Bytes doc = nsm->make_document(req, FixedClock::kNowMs).value();
  signer.bind_evidence(doc, nitro_measurements(nsm->pcrs()).value());

  attest::nitro::NitroPolicy np;
  np.root_der = nsm->root_der();
  np.platform = sim::SimNsm::kPlatform;
  runtime::VerifyContext ctx;
  ctx.now_unix_ms = FixedClock::kNowMs + 3000;
  auto ev = attest::nitro::NitroVerifier::create(np).value().verify_document(doc, ctx).value();

  VerifyPolicy p;
  p.now_unix_s = FixedClock::kNowMs / 1000 + 3;
  p.max_age_s = 10;
  p.expected_nonce = Bytes(16, 0x5a);
  p.expected_model_hash = sc.model_hash;
  p.expected_platform = "nitro";
  p.require_production = true;
  Bytes first = signer.sign(rec, random).value();
  Bytes second = signer.sign(rec, random).value();
  EXPECT_EQ(signer.last_sequence_number(), 2u);
  for (const Bytes* r : {&first, &second}) {
    auto rep = verify_receipt_with_evidence(*r, BoundEvidence{doc, ev.evidence}, p).value();
    ASSERT_TRUE(rep.verified()) << rep.status().message();
    EXPECT_EQ(rep.claims->request_hash, request_hash(rec.request));
    EXPECT_EQ(rep.claims->response_hash, response_hash(rec.generated_tokens));
    EXPECT_EQ(rep.claims->model_hash_scheme, std::optional<std::string>("sha256-manifest"));
  }
  auto a = verify_receipt(first, signer.key().public_key(), {}).value();
  auto b = verify_receipt(second, signer.key().public_key(), {}).value();
  EXPECT_EQ(a.claims->sequence_number, 1u);
  EXPECT_EQ(b.claims->sequence_number, 2u);
  EXPECT_NE(a.claims->cti, b.claims->cti);
  EXPECT_EQ(a.claims->cti[6] >> 4, 4);  // UUID v4
}

TEST(ReceiptSigner, NitroMeasurementsNeedPcr0To2) {
  std::map<uint32_t, Bytes> pcrs = {{0, Bytes(48, 1)}, {1, Bytes(48, 2)}};
  EXPECT_EQ(nitro_measurements(pcrs).code(), ErrorCode::FAILED_PRECONDITION);
  pcrs[2] = Bytes(48, 3);
  pcrs[3] = Bytes(48, 0);  // zero: not reported
  pcrs[8] = Bytes(48, 8);
  auto m = nitro_measurements(pcrs).value();
  EXPECT_FALSE(m.pcr3);
  EXPECT_EQ(m.pcr8, std::optional<Bytes>(Bytes(48, 8)));
}

}  // namespace
}  // namespace cpipe::receipt

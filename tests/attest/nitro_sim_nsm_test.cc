// SimNsm: documents shaped like the real production NSM document (same COSE framing, payload
// field order and types), deterministic from the seed, binding the request, and accepted by
// the same NitroVerifier with the simulated root pinned — and only with it.
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <vector>

#include "backends/simulated/nsm/sim_nsm.h"
#include "core/attest/nitro/nitro_verifier.h"
#include "core/codec/cbor/cbor_decode.h"
#include "core/runtime/executor.h"
#include "tests/attest/nitro_test_util.h"

namespace cpipe::sim {
namespace {

using attest::nitro::NitroPolicy;
using attest::nitro::NitroVerifier;
using codec::CborValue;

// A manual clock and queue: time moves only when the test says so.
class ManualClock final : public runtime::Clock {
 public:
  runtime::MonoTime now() const override { return runtime::MonoTime{mono_ns_}; }
  runtime::WallTime wall_now() const override { return runtime::WallTime{wall0_ns_ + mono_ns_}; }
  runtime::TimerId start_timer(runtime::Duration after, std::function<void()> fn) override {
    timers_.push_back({mono_ns_ + after.count(), ++next_, std::move(fn)});
    return next_;
  }
  bool cancel_timer(runtime::TimerId id) override {
    for (auto it = timers_.begin(); it != timers_.end(); ++it) {
      if (it->id == id) {
        timers_.erase(it);
        return true;
      }
    }
    return false;
  }
  void advance(runtime::Duration d) {
    mono_ns_ += d.count();
    std::vector<Timer> due;
    for (auto it = timers_.begin(); it != timers_.end();) {
      if (it->at <= mono_ns_) {
        due.push_back(std::move(*it));
        it = timers_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& t : due) t.fn();
  }
  int64_t wall0_ns_ = int64_t(1766650846577) * 1'000'000;  // 2025-12-25, like the dstack document

 private:
  struct Timer {
    int64_t at;
    runtime::TimerId id;
    std::function<void()> fn;
  };
  int64_t mono_ns_ = 0;
  runtime::TimerId next_ = 0;
  std::vector<Timer> timers_;
};

class QueueExecutor final : public runtime::Executor {
 public:
  void post(std::function<void()> fn) override { q_.push_back(std::move(fn)); }
  void run() {
    while (!q_.empty()) {
      auto fn = std::move(q_.front());
      q_.pop_front();
      fn();
    }
  }

 private:
  std::deque<std::function<void()>> q_;
};

runtime::Task<void> run_attest(SimNsm* nsm, runtime::AttestationRequest req,
                               std::optional<Result<runtime::Evidence>>* out) {
  out->emplace(co_await nsm->attest(std::move(req)));
}

SimNsmConfig config(std::string_view seed = "seed-1") {
  SimNsmConfig c;
  c.seed = to_bytes(seed);
  c.image.eif = to_bytes("gpt2-stage0.eif");
  c.image.kernel = to_bytes("linux-6.1");
  c.image.application = to_bytes("cpipe stage");
  c.image.instance_id = to_bytes("i-0123");
  c.module_id = "i-0123456789abcdef0-enc0123456789abcdef";
  return c;
}

NitroVerifier sim_verifier(const SimNsm& nsm, NitroPolicy p = {}) {
  p.root_der = nsm.root_der();
  p.platform = SimNsm::kPlatform;
  return NitroVerifier::create(std::move(p)).value();
}

runtime::VerifyContext at(int64_t ms) {
  runtime::VerifyContext ctx;
  ctx.now_unix_ms = ms;
  return ctx;
}

runtime::AttestationRequest request() {
  return {to_bytes("ephemeral-x25519-key-32-bytes..."), to_bytes("receipt key"), Bytes(32, 0xab)};
}

constexpr int64_t kNow = 1766650846577;

TEST(SimNsm, DocumentHasTheRealProductionDocumentShape) {
  ManualClock clock;
  auto nsm = SimNsm::create(clock, config()).value();
  Bytes doc = nsm->make_document(request(), kNow).value();
  Bytes real = testing_nitro::read_file(testing_nitro::data_path("nitro/evervault-2022-10-13-production.cose"));

  CborValue a = codec::cbor_decode(doc).value(), b = codec::cbor_decode(real).value();
  ASSERT_TRUE(a.is_array());
  ASSERT_EQ(a.items().size(), 4u);
  // Untagged, same protected header bytes, same empty unprotected map, same framing heads.
  EXPECT_EQ(Bytes(doc.begin(), doc.begin() + 7), Bytes(real.begin(), real.begin() + 7));
  EXPECT_EQ(a.items()[3].byte_content().size(), 96u);
  CborValue pa = codec::cbor_decode(a.items()[2].byte_content()).value();
  CborValue pb = codec::cbor_decode(b.items()[2].byte_content()).value();
  ASSERT_EQ(pa.map_size(), pb.map_size());
  EXPECT_FALSE(pa.indefinite());
  for (size_t i = 0; i < pa.map_size(); ++i) {
    EXPECT_EQ(pa.map_key(i), pb.map_key(i)) << i;  // same field order
    // Same types, except the bound optionals that the production document leaves null.
    std::string key(pa.map_key(i).text_content());
    if (key != "public_key" && key != "user_data") {
      EXPECT_EQ(pa.map_value(i).type(), pb.map_value(i).type()) << key;
    }
  }
  EXPECT_EQ(pa.find("pcrs")->map_size(), 16u);
  EXPECT_EQ(pa.find("pcrs")->find_int(0)->byte_content().size(), 48u);
  EXPECT_EQ(pa.find("cabundle")->items().size(), 4u);
  EXPECT_EQ(pa.find("timestamp")->raw_uint(), uint64_t(kNow));
  // Absent request fields are CBOR null, as the NSM writes them.
  Bytes empty_doc = nsm->make_document({}, kNow).value();
  CborValue pe = codec::cbor_decode(codec::cbor_decode(empty_doc).value().items()[2].byte_content()).value();
  EXPECT_TRUE(pe.find("public_key")->is_null());
  EXPECT_TRUE(pe.find("user_data")->is_null());
  EXPECT_TRUE(pe.find("nonce")->is_null());
}

TEST(SimNsm, DocumentsAreAPureFunctionOfSeedRequestAndTime) {
  ManualClock clock;
  auto a = SimNsm::create(clock, config()).value();
  auto b = SimNsm::create(clock, config()).value();
  auto c = SimNsm::create(clock, config("seed-2")).value();
  EXPECT_EQ(a->make_document(request(), kNow).value(), b->make_document(request(), kNow).value());
  EXPECT_EQ(a->root_der(), b->root_der());
  EXPECT_NE(a->root_der(), c->root_der());
  EXPECT_NE(a->make_document(request(), kNow).value(), a->make_document(request(), kNow + 1).value());
}

TEST(SimNsm, VerifierAcceptsWithSimulatedRootAndBindsTheRequest) {
  ManualClock clock;
  auto nsm = SimNsm::create(clock, config()).value();
  Bytes doc = nsm->make_document(request(), kNow).value();
  auto ctx = at(kNow + 10);
  ctx.expect_public_key = request().public_key;
  ctx.expect_user_data = request().user_data;
  ctx.expect_nonce = request().nonce;
  NitroPolicy p;
  p.expected_pcrs = {{0, nsm->pcrs().at(0)}, {1, nsm->pcrs().at(1)}, {2, nsm->pcrs().at(2)}};
  auto v = sim_verifier(*nsm, p).verify_document(doc, ctx);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_FALSE(v->debug);
  EXPECT_EQ(v->chain.certs.size(), 5u);
  EXPECT_EQ(v->evidence.measurements.at("PCR0"), sim_enclave_pcrs(config().image).at(0));
  EXPECT_EQ(v->evidence.platform, "sim-nitro");

  auto wrong = ctx;
  wrong.expect_nonce = Bytes(32, 0xac);
  EXPECT_EQ(sim_verifier(*nsm).verify_document(doc, wrong).code(), ErrorCode::ATTEST_BINDING_MISMATCH);
  p.expected_pcrs[2].front() ^= 1;
  EXPECT_EQ(sim_verifier(*nsm, p).verify_document(doc, ctx).code(), ErrorCode::ATTEST_MEASUREMENT_MISMATCH);
  // The AWS root does not accept simulated documents, nor another seed's root.
  EXPECT_EQ(NitroVerifier::create({}).value().verify_document(doc, ctx).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  auto other = SimNsm::create(clock, config("seed-2")).value();
  EXPECT_EQ(sim_verifier(*other).verify_document(doc, ctx).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  // The leaf lives three hours.
  NitroPolicy no_age;
  no_age.max_age_ms.reset();
  EXPECT_EQ(sim_verifier(*nsm, no_age).verify_document(doc, at(kNow + 3 * 3600 * 1000 + 1000)).code(),
            ErrorCode::ATTEST_CERT_EXPIRED);
}

TEST(SimNsm, DebugImageReportsZeroPcrsAndNeedsAllowDebug) {
  ManualClock clock;
  SimNsmConfig c = config();
  c.image.debug = true;
  auto nsm = SimNsm::create(clock, c).value();
  Bytes doc = nsm->make_document(request(), kNow).value();
  EXPECT_EQ(sim_verifier(*nsm).verify_document(doc, at(kNow)).code(), ErrorCode::ATTEST_DEBUG_NOT_ALLOWED);
  NitroPolicy p;
  p.allow_debug = true;
  auto v = sim_verifier(*nsm, p).verify_document(doc, at(kNow));
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_TRUE(v->debug);
  EXPECT_EQ(v->evidence.measurements.at("PCR0"), Bytes(48, 0));
}

TEST(SimNsm, AttestSleepsOnTheClockAndUsesItsWallTime) {
  ManualClock clock;
  QueueExecutor exec;
  SimNsmConfig c = config();
  c.latency = std::chrono::milliseconds(7);
  auto nsm = SimNsm::create(clock, c).value();
  std::optional<Result<runtime::Evidence>> out;
  runtime::spawn(exec, run_attest(nsm.get(), request(), &out));
  exec.run();
  EXPECT_FALSE(out.has_value());
  clock.advance(std::chrono::milliseconds(6));
  exec.run();
  EXPECT_FALSE(out.has_value());
  clock.advance(std::chrono::milliseconds(1));
  exec.run();
  ASSERT_TRUE(out.has_value());
  ASSERT_TRUE(out->ok()) << out->status().to_string();
  EXPECT_EQ((*out)->platform, "sim-nitro");
  runtime::Evidence ev = (*out).value();
  auto v = sim_verifier(*nsm).verify(ev, at(kNow + 7));
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->timestamp_ms, kNow + 7);
  EXPECT_EQ(ev.document, nsm->make_document(request(), kNow + 7).value());
}

TEST(SimNsm, OversizedRequestFieldsAreRefused) {
  ManualClock clock;
  auto nsm = SimNsm::create(clock, config()).value();
  runtime::AttestationRequest r;
  r.user_data = Bytes(1025, 1);
  EXPECT_EQ(nsm->make_document(r, kNow).code(), ErrorCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace cpipe::sim

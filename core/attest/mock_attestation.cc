// DEVELOPMENT-ONLY mock attestation: document encoding, provider and verifier.
#include "core/attest/mock_attestation.h"

#include "core/crypto/hash.h"

namespace cpipe::attest {
namespace {

constexpr std::string_view kMagic = "CPMOCK01";
constexpr size_t kMaxMeasurements = 32;

Status bad_format(std::string why) {
  return make_error(ErrorCode::ATTEST_BAD_FORMAT, "mock-dev document: " + why);
}

}  // namespace

Result<crypto::Ed25519KeyPair> mock_platform_key(std::string_view seed) {
  Bytes stretched = crypto::sha256(as_bytes(std::string("cpipe mock platform key|") + std::string(seed)));
  return crypto::Ed25519KeyPair::from_seed(stretched);
}

Bytes mock_platform_public_key(std::string_view seed) {
  auto key = mock_platform_key(seed);
  if (!key.ok()) return {};
  return Bytes(key->public_key().begin(), key->public_key().end());
}

Bytes encode_mock_document(const MockDocument& doc, const crypto::Ed25519KeyPair& key) {
  // Starting from the magic (not raw() into an empty vector) sidesteps a GCC 12
  // -Wstringop-overflow false positive.
  Bytes out(kMagic.begin(), kMagic.end());
  ByteWriter w(out);
  w.u64_be(static_cast<uint64_t>(doc.timestamp_ms));
  w.u8(doc.debug ? 1 : 0);
  w.u8(static_cast<uint8_t>(doc.measurements.size()));
  for (const auto& [name, value] : doc.measurements) {
    w.var16(as_bytes(name));
    w.var16(value);
  }
  w.var16(doc.public_key);
  w.var16(doc.user_data);
  w.var16(doc.nonce);
  auto sig = key.sign(out);
  w.raw(sig);
  return out;
}

Result<ParsedMockDocument> parse_mock_document(ByteSpan document) {
  if (document.size() < kMagic.size() + crypto::kEd25519SignatureSize)
    return bad_format("too short");
  ParsedMockDocument parsed;
  size_t body_len = document.size() - crypto::kEd25519SignatureSize;
  parsed.signed_part = document.first(body_len);
  parsed.signature = document.subspan(body_len);
  ByteReader r(parsed.signed_part);
  auto magic = r.raw(kMagic.size());
  if (!magic.ok() || to_string(*magic) != kMagic) return bad_format("bad magic");
  auto ts = r.u64_be();
  auto debug = r.u8();
  auto count = r.u8();
  if (!ts.ok() || !debug.ok() || !count.ok()) return bad_format("truncated");
  if (*debug > 1) return bad_format("debug flag is not 0 or 1");
  if (*count > kMaxMeasurements) return bad_format("too many measurements");
  parsed.doc.timestamp_ms = static_cast<int64_t>(*ts);
  parsed.doc.debug = *debug == 1;
  std::string prev;
  for (size_t i = 0; i < *count; ++i) {
    auto name = r.var16();
    if (!name.ok()) return bad_format("truncated measurement name");
    auto value = r.var16();
    if (!value.ok()) return bad_format("truncated measurement value");
    std::string n = to_string(*name);
    if (i > 0 && n <= prev) return bad_format("measurement names not strictly increasing");
    prev = n;
    parsed.doc.measurements[n] = Bytes(value->begin(), value->end());
  }
  auto pk = r.var16();
  auto ud = pk.ok() ? r.var16() : pk;
  auto nonce = ud.ok() ? r.var16() : ud;
  if (!nonce.ok()) return bad_format("truncated bindings");
  if (!r.empty()) return bad_format("trailing bytes before the signature");
  parsed.doc.public_key.assign(pk->begin(), pk->end());
  parsed.doc.user_data.assign(ud->begin(), ud->end());
  parsed.doc.nonce.assign(nonce->begin(), nonce->end());
  return parsed;
}

Result<std::unique_ptr<MockAttestationProvider>> MockAttestationProvider::create(
    runtime::Env& env, MockProviderConfig config) {
  CPIPE_ASSIGN_OR_RETURN(crypto::Ed25519KeyPair key, mock_platform_key(config.platform_seed));
  return std::unique_ptr<MockAttestationProvider>(
      new MockAttestationProvider(env, std::move(config), std::move(key)));
}

runtime::Task<Result<runtime::Evidence>> MockAttestationProvider::attest(
    runtime::AttestationRequest request) {
  env_->logger("attest.mock").warn(
      "mock_attestation_used",
      {{"mode", "DEVELOPMENT-ONLY mock attestation, not a TEE"}, {"role", "provider"}});
  if (config_.latency.count() > 0) co_await runtime::sleep_for(*env_->clock, config_.latency);
  MockDocument doc;
  doc.timestamp_ms = env_->clock->wall_now().unix_ms();
  doc.measurements = config_.measurements;
  doc.public_key = std::move(request.public_key);
  doc.user_data = std::move(request.user_data);
  doc.nonce = std::move(request.nonce);
  doc.debug = config_.debug;
  if (doc.public_key.size() > 0xffff || doc.user_data.size() > 0xffff || doc.nonce.size() > 0xffff ||
      doc.measurements.size() > kMaxMeasurements)
    co_return make_error(ErrorCode::ATTEST_PROVIDER_FAILED, "mock-dev request fields too large");
  runtime::Evidence ev;
  ev.platform = std::string(kMockPlatform);
  ev.document = encode_mock_document(doc, key_);
  co_return ev;
}

MockAttestationVerifier::MockAttestationVerifier(MockVerifierPolicy policy, EventSink* events)
    : policy_(std::move(policy)), log_(events, "attest.mock") {}

Result<runtime::VerifiedEvidence> MockAttestationVerifier::verify(
    const runtime::Evidence& evidence, const runtime::VerifyContext& ctx) const {
  log_.warn("mock_attestation_used",
            {{"mode", "DEVELOPMENT-ONLY mock attestation, not a TEE"}, {"role", "verifier"}});
  if (evidence.platform != kMockPlatform)
    return make_error(ErrorCode::ATTEST_BAD_FORMAT,
                      "platform '" + evidence.platform + "' is not mock-dev");
  if (!ctx.now_unix_ms)
    return make_error(ErrorCode::ATTEST_NO_TIME, "mock-dev: no verification time supplied");
  CPIPE_ASSIGN_OR_RETURN(ParsedMockDocument parsed, parse_mock_document(evidence.document));
  Status sig = crypto::ed25519_verify(policy_.platform_public_key, parsed.signed_part,
                                      parsed.signature);
  if (!sig.ok())
    return make_error(ErrorCode::ATTEST_SIGNATURE_INVALID,
                      "mock-dev: signature does not verify under the pinned mock root");
  const MockDocument& doc = parsed.doc;
  int64_t now = *ctx.now_unix_ms;
  if (doc.timestamp_ms > now + policy_.max_future_skew_ms)
    return make_error(ErrorCode::ATTEST_STALE, "mock-dev: evidence is from the future");
  if (now - doc.timestamp_ms > policy_.max_age_ms)
    return make_error(ErrorCode::ATTEST_STALE,
                      "mock-dev: evidence is " + std::to_string(now - doc.timestamp_ms) +
                          " ms old (max " + std::to_string(policy_.max_age_ms) + ")");
  if (doc.debug && !policy_.allow_debug)
    return make_error(ErrorCode::ATTEST_DEBUG_NOT_ALLOWED, "mock-dev: debug evidence");
  for (const auto& [name, want] : policy_.expected_measurements) {
    auto it = doc.measurements.find(name);
    if (it == doc.measurements.end() || it->second != want)
      return make_error(ErrorCode::ATTEST_MEASUREMENT_MISMATCH,
                        "mock-dev: measurement " + name + " is not the pinned value");
  }
  if (ctx.expect_public_key && !constant_time_equal(*ctx.expect_public_key, doc.public_key))
    return make_error(ErrorCode::ATTEST_BINDING_MISMATCH, "mock-dev: public_key differs");
  if (ctx.expect_user_data && !constant_time_equal(*ctx.expect_user_data, doc.user_data))
    return make_error(ErrorCode::ATTEST_BINDING_MISMATCH, "mock-dev: user_data differs");
  if (ctx.expect_nonce && !constant_time_equal(*ctx.expect_nonce, doc.nonce))
    return make_error(ErrorCode::ATTEST_BINDING_MISMATCH, "mock-dev: nonce differs");
  runtime::VerifiedEvidence out;
  out.platform = std::string(kMockPlatform);
  out.measurements = doc.measurements;
  out.public_key = doc.public_key;
  out.user_data = doc.user_data;
  out.nonce = doc.nonce;
  out.timestamp_ms = doc.timestamp_ms;
  out.debug = doc.debug;
  out.development_only = true;
  return out;
}

Result<MockDevAttestation> make_mock_dev_attestation(runtime::Env& env, std::map<std::string, Bytes> measurements,
                                                     runtime::Duration latency) {
  MockProviderConfig pc;
  pc.measurements = std::move(measurements);
  pc.latency = latency;
  MockDevAttestation a;
  CPIPE_ASSIGN_OR_RETURN(a.provider, MockAttestationProvider::create(env, std::move(pc)));
  MockVerifierPolicy vp;
  vp.platform_public_key = mock_platform_public_key(kDefaultMockSeed);
  a.verifier = std::make_unique<MockAttestationVerifier>(vp, env.events);
  return a;
}

}  // namespace cpipe::attest

// NitroVerifier on the three real NSM documents in ../shared/data/nitro: each verifies at its
// pinned time with the right debug flag; root, time, freshness, PCR, debug, binding and
// framing (tagged/untagged, truncated, extended) failures give their specific codes.
#include <gtest/gtest.h>

#include "core/attest/nitro/nitro_root.h"
#include "core/attest/nitro/nitro_verifier.h"
#include "core/codec/cbor/cbor_decode.h"
#include "core/crypto/hash.h"
#include "tests/attest/nitro_test_util.h"

namespace cpipe::attest::nitro {
namespace {

using testing_nitro::data_path;
using testing_nitro::read_file;
using testing_nitro::real_docs;

NitroVerifier make(NitroPolicy p = {}) { return NitroVerifier::create(std::move(p)).value(); }

NitroPolicy lenient() {
  NitroPolicy p;
  p.allow_debug = true;
  p.max_age_ms.reset();
  return p;
}

runtime::VerifyContext at(int64_t ms) {
  runtime::VerifyContext ctx;
  ctx.now_unix_ms = ms;
  return ctx;
}

const Bytes& production() {
  static const Bytes b = read_file(data_path("nitro/evervault-2022-10-13-production.cose"));
  return b;
}
constexpr int64_t kProdTs = 1665651482136;

TEST(NitroRoot, BuiltInRootMatchesPublishedFingerprintAndSharedFile) {
  auto der = aws_nitro_root_g1_der();
  ASSERT_TRUE(der.ok()) << der.status().to_string();
  std::string fp = hex_encode(crypto::sha256(*der));
  for (char& c : fp) c = char(std::toupper(c));
  EXPECT_EQ(fp, kAwsNitroRootG1Sha256);
  std::string pem = to_string(read_file(data_path("nitro/aws_nitro_root_g1.pem")));
  EXPECT_EQ(*pem_certificate_to_der(pem), *der);
}

TEST(NitroVerifier, EveryRealDocumentVerifiesAtItsPinnedTime) {
  for (const auto& d : real_docs()) {
    NitroPolicy p;
    p.allow_debug = d.debug;
    auto v = make(p).verify_document(read_file(data_path(d.file)), at(d.pin_ms));
    ASSERT_TRUE(v.ok()) << d.file << ": " << v.status().to_string();
    EXPECT_EQ(v->debug, d.debug);
    EXPECT_EQ(v->document.timestamp_ms, uint64_t(d.timestamp_ms));
    EXPECT_EQ(v->document.indefinite_map, d.indefinite);
    EXPECT_FALSE(v->tagged);
    EXPECT_EQ(v->chain.certs.size(), 5u);
    EXPECT_LE(v->chain.valid_from_ms, d.pin_ms);
    EXPECT_GE(v->chain.valid_until_ms, d.pin_ms);
    EXPECT_EQ(v->evidence.measurements.size(), 16u);
    EXPECT_EQ(v->evidence.timestamp_ms, d.timestamp_ms);
  }
}

TEST(NitroVerifier, ProductionDocumentFieldsAreTheKnownOnes) {
  auto v = make().verify_document(production(), at(kProdTs + 1000));
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(hex_encode(v->evidence.measurements.at("PCR0")),
            "f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b");
  EXPECT_EQ(hex_encode(v->evidence.measurements.at("PCR1")),
            "bcdf05fefccaa8e55bf2c8d6dee9e79bbff31e34bf28a99aa19e6b29c37ee80b214a414b7607236edf26fcb78654e63f");
  EXPECT_EQ(hex_encode(v->evidence.measurements.at("PCR2")),
            "d8f114da658de5481f8d9ec73907feb553560787522f705c92d7d96beed8e15e2aa611984e098c576832c292e8dc469a");
  EXPECT_EQ(v->document.module_id, "i-020b6af9246d90e92-enc0183d09086c24190");
  EXPECT_EQ(v->evidence.nonce.size(), 256u);
  EXPECT_FALSE(v->document.public_key.has_value());
  EXPECT_FALSE(v->document.user_data.has_value());
}

TEST(NitroVerifier, DebugDocumentBindingsAreTheKnownOnes) {
  auto v = make(lenient()).verify_document(read_file(data_path("nitro/evervault-2022-10-12-debug.cose")),
                                           at(1665582606081 + 1000));
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(to_string(v->evidence.public_key), "my super secret key");
  EXPECT_EQ(to_string(v->evidence.user_data), "hello, world!");
  EXPECT_TRUE(v->evidence.nonce.empty());
}

TEST(NitroVerifier, NoTimeFailsClosed) {
  EXPECT_EQ(make().verify_document(production(), runtime::VerifyContext{}).code(), ErrorCode::ATTEST_NO_TIME);
}

TEST(NitroVerifier, DebugWithoutTheFlagIsRejected) {
  for (const auto& d : real_docs()) {
    if (!d.debug) continue;
    EXPECT_EQ(make().verify_document(read_file(data_path(d.file)), at(d.pin_ms)).code(),
              ErrorCode::ATTEST_DEBUG_NOT_ALLOWED)
        << d.file;
  }
}

TEST(NitroVerifier, OutsideTheValidityWindowIsCertExpired) {
  NitroPolicy p = lenient();
  // Leaf valid 2022-10-13 08:57:59 .. 11:58:02 UTC.
  EXPECT_TRUE(make(p).verify_document(production(), at(1665651479000)).ok());   // 08:57:59
  EXPECT_EQ(make(p).verify_document(production(), at(1665651478000)).code(), ErrorCode::ATTEST_CERT_EXPIRED);
  EXPECT_TRUE(make(p).verify_document(production(), at(1665662281999)).ok());   // 11:58:01.999
  // OpenSSL treats notAfter itself as already expired.
  EXPECT_EQ(make(p).verify_document(production(), at(1665662283000)).code(), ErrorCode::ATTEST_CERT_EXPIRED);
  EXPECT_EQ(make(p).verify_document(production(), at(0)).code(), ErrorCode::ATTEST_CERT_EXPIRED);
  EXPECT_EQ(make(p).verify_document(production(), at(2556057600000)).code(), ErrorCode::ATTEST_CERT_EXPIRED);
  // Extreme times fail closed (OpenSSL cannot compare them: CHAIN_INVALID), without overflow.
  EXPECT_FALSE(make(p).verify_document(production(), at(INT64_MAX)).ok());
  EXPECT_FALSE(make(p).verify_document(production(), at(INT64_MIN)).ok());
}

TEST(NitroVerifier, FreshnessWindowBothDirections) {
  NitroPolicy p;
  p.max_age_ms = 60'000;
  p.max_future_ms = 1'000;
  // Leaf notBefore is 3 s before the timestamp, so "from the future" is testable in-window.
  EXPECT_EQ(make(p).verify_document(production(), at(kProdTs - 2'000)).code(), ErrorCode::ATTEST_STALE);
  EXPECT_TRUE(make(p).verify_document(production(), at(kProdTs - 500)).ok());
  EXPECT_TRUE(make(p).verify_document(production(), at(kProdTs + 60'000)).ok());
  EXPECT_EQ(make(p).verify_document(production(), at(kProdTs + 60'001)).code(), ErrorCode::ATTEST_STALE);
  // The default policy allows five minutes.
  EXPECT_EQ(make().verify_document(production(), at(kProdTs + 5 * 60'000 + 1)).code(), ErrorCode::ATTEST_STALE);
}

TEST(NitroVerifier, PinnedPcrs) {
  NitroPolicy p;
  p.expected_pcrs[0] = hex_decode("f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b").value();
  EXPECT_TRUE(make(p).verify_document(production(), at(kProdTs)).ok());
  p.expected_pcrs[0].back() ^= 1;
  EXPECT_EQ(make(p).verify_document(production(), at(kProdTs)).code(), ErrorCode::ATTEST_MEASUREMENT_MISMATCH);
  p.expected_pcrs.clear();
  p.expected_pcrs[20] = Bytes(48, 0);  // not in the document
  EXPECT_EQ(make(p).verify_document(production(), at(kProdTs)).code(), ErrorCode::ATTEST_MEASUREMENT_MISMATCH);
}

TEST(NitroVerifier, Bindings) {
  const Bytes doc = read_file(data_path("nitro/evervault-2022-10-12-debug.cose"));
  auto ctx = at(1665582606081 + 1000);
  ctx.expect_public_key = to_bytes("my super secret key");
  ctx.expect_user_data = to_bytes("hello, world!");
  EXPECT_TRUE(make(lenient()).verify_document(doc, ctx).ok());
  ctx.expect_user_data = to_bytes("hello, world?");
  EXPECT_EQ(make(lenient()).verify_document(doc, ctx).code(), ErrorCode::ATTEST_BINDING_MISMATCH);
  ctx.expect_user_data.reset();
  ctx.expect_nonce = Bytes{1, 2, 3};  // the document's nonce is null
  EXPECT_EQ(make(lenient()).verify_document(doc, ctx).code(), ErrorCode::ATTEST_BINDING_MISMATCH);
}

TEST(NitroVerifier, WrongRootIsChainInvalid) {
  NitroPolicy p = lenient();
  // Another real CA certificate (the regional one) pinned as root.
  auto outer = codec::cbor_decode(production()).value();
  auto payload = codec::cbor_decode(outer.items()[2].byte_content()).value();
  p.root_der = payload.find("cabundle")->items()[1].byte_content();
  EXPECT_EQ(make(p).verify_document(production(), at(kProdTs)).code(), ErrorCode::ATTEST_CHAIN_INVALID);
}

TEST(NitroVerifier, TaggedAndUntaggedBothVerify) {
  Bytes tagged = {0xD2};
  tagged.insert(tagged.end(), production().begin(), production().end());
  auto v = make().verify_document(tagged, at(kProdTs));
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_TRUE(v->tagged);
  Bytes other_tag = {0xD1};  // tag 17 = COSE_Mac0
  other_tag.insert(other_tag.end(), production().begin(), production().end());
  EXPECT_EQ(make().verify_document(other_tag, at(kProdTs)).code(), ErrorCode::ATTEST_BAD_FORMAT);
}

TEST(NitroVerifier, TruncatedAndExtendedInputsAreBadFormat) {
  for (size_t n : {size_t(0), size_t(1), size_t(5), size_t(100), production().size() / 2, production().size() - 1}) {
    Bytes cut(production().begin(), production().begin() + long(n));
    auto r = make().verify_document(cut, at(kProdTs));
    EXPECT_EQ(r.code(), ErrorCode::ATTEST_BAD_FORMAT) << n;
  }
  Bytes longer = production();
  longer.push_back(0x00);
  auto r = make().verify_document(longer, at(kProdTs));
  EXPECT_EQ(r.code(), ErrorCode::ATTEST_BAD_FORMAT);
  EXPECT_NE(r.status().message().find("CODEC_TRAILING_DATA"), std::string::npos) << r.status().to_string();
}

TEST(NitroVerifier, EvidenceInterfaceChecksPlatform) {
  NitroVerifier v = make();
  runtime::Evidence ev{"nitro", production()};
  auto ok = v.verify(ev, at(kProdTs));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->platform, "nitro");
  EXPECT_FALSE(ok->debug);
  ev.platform = "sev-snp";
  EXPECT_EQ(v.verify(ev, at(kProdTs)).code(), ErrorCode::ATTEST_BAD_FORMAT);
}

}  // namespace
}  // namespace cpipe::attest::nitro

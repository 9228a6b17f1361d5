// COSE_Sign1 on the cose-wg example vectors (../shared/data/test-vectors/cose): decoding tagged
// and untagged messages, Sig_structure1 byte-exact against ToBeSign, ES256/ES384 verification
// and every sign1 failure case rejected. The COSE path must be crypto::ecdsa_verify itself: every
// Wycheproof P-384 P1363 signature placed in a COSE message is accepted or rejected exactly as
// ecdsa_verify decides on the same Sig_structure1.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/attest/nitro/cose_ecdsa.h"
#include "core/codec/cbor/cose_sign1.h"
#include "core/crypto/ecdsa.h"
#include "tests/attest/nitro_test_util.h"

namespace cpipe::attest {
namespace {

using nlohmann::json;
using testing_nitro::data_path;
using testing_nitro::read_file;

json load(const std::string& rel) { return json::parse(to_string(read_file(data_path(rel)))); }

Bytes b64url(const std::string& in) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  Bytes out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    size_t v = kAlphabet.find(c);
    if (v == std::string::npos) continue;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(uint8_t(acc >> bits));
    }
  }
  return out;
}

Bytes jwk_point(const json& key) {
  Bytes p = {0x04};
  Bytes x = b64url(key["x"]), y = b64url(key["y"]);
  p.insert(p.end(), x.begin(), x.end());
  p.insert(p.end(), y.begin(), y.end());
  return p;
}

int64_t alg_of(const json& v) {
  std::string alg = v["input"]["sign0"]["alg"];
  return alg == "ES384" ? codec::kCoseAlgES384 : codec::kCoseAlgES256;
}

Status verify_vector(const json& v) {
  Bytes cbor = hex_decode(v["output"]["cbor"].get<std::string>()).value();
  auto msg = codec::cose_sign1_decode(cbor);
  if (!msg.ok()) return msg.status();
  Bytes aad;
  if (v["input"]["sign0"].contains("external")) aad = hex_decode(v["input"]["sign0"]["external"].get<std::string>()).value();
  return cose_sign1_verify_ecdsa(*msg, alg_of(v), jwk_point(v["input"]["sign0"]["key"]), aad);
}

TEST(Cose, Es384ExampleVerifiesAndSigStructureIsByteExact) {
  json v = load("test-vectors/cose/ecdsa-examples/ecdsa-sig-02.json");
  Bytes cbor = hex_decode(v["output"]["cbor"].get<std::string>()).value();
  auto msg = codec::cose_sign1_decode(cbor);
  ASSERT_TRUE(msg.ok()) << msg.status().to_string();
  EXPECT_TRUE(msg->tagged);
  EXPECT_EQ(hex_encode(msg->protected_bytes), "a1013822");  // the Nitro header
  EXPECT_EQ(*codec::cose_protected_alg(*msg), codec::kCoseAlgES384);
  Bytes tbs = codec::cose_sig_structure1(msg->protected_bytes, {}, msg->payload);
  EXPECT_EQ(tbs, hex_decode(v["intermediates"]["ToBeSign_hex"].get<std::string>()).value());
  Status st = verify_vector(v);
  EXPECT_TRUE(st.ok()) << st.to_string();
  // Re-encoding reproduces the message byte for byte.
  EXPECT_EQ(codec::cose_sign1_encode(*msg), cbor);
}

TEST(Cose, Es256ExamplesAndPassVectorsVerify) {
  for (const char* f : {"test-vectors/cose/ecdsa-examples/ecdsa-sig-01.json", "test-vectors/cose/sign1-tests/sign-pass-01.json",
                        "test-vectors/cose/sign1-tests/sign-pass-02.json", "test-vectors/cose/sign1-tests/sign-pass-03.json"}) {
    json v = load(f);
    Status st = verify_vector(v);
    EXPECT_TRUE(st.ok()) << f << ": " << st.to_string();
    Bytes cbor = hex_decode(v["output"]["cbor"].get<std::string>()).value();
    auto msg = codec::cose_sign1_decode(cbor).value();
    ByteSpan prot = msg.protected_header.map_size() == 0 ? ByteSpan() : ByteSpan(msg.protected_bytes);
    EXPECT_EQ(hex_encode(codec::cose_sig_structure1(prot,
                                                    v["input"]["sign0"].contains("external")
                                                        ? hex_decode(v["input"]["sign0"]["external"].get<std::string>()).value()
                                                        : Bytes{},
                                                    msg.payload)),
              hex_encode(hex_decode(v["intermediates"]["ToBeSign_hex"].get<std::string>()).value()))
        << f;
  }
}

TEST(Cose, EveryFailVectorIsRejectedWithItsCode) {
  const std::pair<const char*, ErrorCode> cases[] = {
      {"sign-fail-01.json", ErrorCode::CODEC_BAD_FORMAT},          // tag 998, not 18
      {"sign-fail-02.json", ErrorCode::ATTEST_SIGNATURE_INVALID},  // payload changed
      {"sign-fail-03.json", ErrorCode::ATTEST_BAD_ALG},            // alg -999
      {"sign-fail-04.json", ErrorCode::ATTEST_BAD_ALG},            // alg "unknown"
      {"sign-fail-06.json", ErrorCode::ATTEST_SIGNATURE_INVALID},  // protected attribute added
      {"sign-fail-07.json", ErrorCode::ATTEST_SIGNATURE_INVALID},  // protected attribute removed
  };
  for (const auto& [f, code] : cases) {
    json v = load(std::string("test-vectors/cose/sign1-tests/") + f);
    EXPECT_EQ(verify_vector(v).code(), code) << f;
  }
}

TEST(Cose, DetachedPayloadAndWrongShapesAreRejected) {
  EXPECT_EQ(codec::cose_sign1_decode(hex_decode("8443a10126a0f64100").value()).code(), ErrorCode::CODEC_BAD_FORMAT);
  EXPECT_EQ(codec::cose_sign1_decode(hex_decode("8343a10126a040").value()).code(), ErrorCode::CODEC_BAD_FORMAT);
  EXPECT_EQ(codec::cose_sign1_decode(hex_decode("8443a10126804041").value()).code(), ErrorCode::CODEC_TRUNCATED);
  EXPECT_EQ(codec::cose_sign1_decode(hex_decode("844382012680404100").value()).code(), ErrorCode::CODEC_BAD_FORMAT);
  EXPECT_EQ(codec::cose_sign1_decode(hex_decode("8443a1012680404100").value()).code(), ErrorCode::CODEC_BAD_FORMAT);
  EXPECT_EQ(codec::cose_sign1_decode(hex_decode("8440a040410000").value()).code(), ErrorCode::CODEC_TRAILING_DATA);
}

// The COSE ES384 path and crypto::ecdsa_verify (which the crypto tests run on every Wycheproof
// P-384 vector) give the same verdict on every Wycheproof P1363 signature and key: the COSE
// path adds the Sig_structure1 and the 96-byte length rule, nothing else.
TEST(Cose, Es384PathAgreesWithEcdsaVerifyOnWycheproofSignatures) {
  json w = load("test-vectors/wycheproof/ecdsa_secp384r1_sha384_p1363_test.json");
  json ex = load("test-vectors/cose/ecdsa-examples/ecdsa-sig-02.json");
  codec::CoseSign1 msg =
      codec::cose_sign1_decode(hex_decode(ex["output"]["cbor"].get<std::string>()).value()).value();
  size_t n = 0;
  for (const auto& group : w["testGroups"]) {
    Bytes key = hex_decode(group["publicKey"]["uncompressed"].get<std::string>()).value();
    for (const auto& t : group["tests"]) {
      codec::CoseSign1 m = msg;
      m.signature = hex_decode(t["sig"].get<std::string>()).value();
      Bytes tbs = codec::cose_sig_structure1(m.protected_bytes, {}, m.payload);
      Status direct = crypto::ecdsa_verify(crypto::EcCurve::kP384, key, tbs, m.signature, crypto::SigFormat::kP1363);
      Status cose = cose_sign1_verify_ecdsa(m, codec::kCoseAlgES384, key);
      EXPECT_EQ(direct.ok(), cose.ok()) << "tcId " << t["tcId"];
      if (!cose.ok()) {
        EXPECT_EQ(cose.code(), ErrorCode::ATTEST_SIGNATURE_INVALID) << "tcId " << t["tcId"];
      }
      ++n;
    }
  }
  EXPECT_EQ(n, 280u);
  // And the example's own key and signature pass both ways.
  Bytes key = jwk_point(ex["input"]["sign0"]["key"]);
  Bytes tbs = codec::cose_sig_structure1(msg.protected_bytes, {}, msg.payload);
  EXPECT_TRUE(crypto::ecdsa_verify(crypto::EcCurve::kP384, key, tbs, msg.signature, crypto::SigFormat::kP1363).ok());
  EXPECT_TRUE(cose_sign1_verify_ecdsa(msg, codec::kCoseAlgES384, key).ok());
  // r||s as DER instead of raw: the COSE path refuses by length.
  msg.signature.push_back(0);
  EXPECT_EQ(cose_sign1_verify_ecdsa(msg, codec::kCoseAlgES384, key).code(), ErrorCode::ATTEST_SIGNATURE_INVALID);
}

}  // namespace
}  // namespace cpipe::attest

// Every region of the real production NSM document, mutated: flipped bytes in the COSE
// protected header, each payload field (keys and values), each certificate and the signature
// must each be rejected, with the code that region's check gives.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/attest/nitro/nitro_verifier.h"
#include "core/codec/cbor/cbor_decode.h"
#include "core/codec/cbor/cose_sign1.h"
#include "tests/attest/nitro_test_util.h"

namespace cpipe::attest::nitro {
namespace {

using testing_nitro::data_path;
using testing_nitro::read_file;

constexpr int64_t kProdTs = 1665651482136;

class NitroMutation : public ::testing::Test {
 protected:
  void SetUp() override {
    doc_ = read_file(data_path("nitro/evervault-2022-10-13-production.cose"));
    ASSERT_FALSE(doc_.empty());
    verifier_.emplace(NitroVerifier::create(NitroPolicy{}).value());
    ctx_.now_unix_ms = kProdTs + 1000;
    ASSERT_TRUE(verifier_->verify_document(doc_, ctx_).ok());
    auto outer = codec::cbor_decode(doc_).value();
    payload_ = codec::cbor_decode(outer.items()[2].byte_content()).value();
  }

  // Offset of `needle` in the document (it must occur exactly once).
  size_t find(ByteSpan needle) {
    auto it = std::search(doc_.begin(), doc_.end(), needle.begin(), needle.end());
    EXPECT_NE(it, doc_.end());
    EXPECT_EQ(std::search(it + 1, doc_.end(), needle.begin(), needle.end()), doc_.end()) << "needle not unique";
    return size_t(it - doc_.begin());
  }

  // Flips bit 0 of bytes [off, off+len) (every `step`-th, plus the last) and checks each result
  // is one of `allowed`; returns the codes seen.
  std::set<ErrorCode> sweep(const char* region, size_t off, size_t len, std::set<ErrorCode> allowed, size_t step = 1) {
    std::set<ErrorCode> seen;
    std::vector<size_t> offsets;
    for (size_t i = 0; i < len; i += step) offsets.push_back(i);
    if ((len - 1) % step != 0) offsets.push_back(len - 1);
    for (size_t i : offsets) {
      Bytes m = doc_;
      m[off + i] ^= 0x01;
      auto r = verifier_->verify_document(m, ctx_);
      EXPECT_FALSE(r.ok()) << region << " byte " << i << " flipped was accepted";
      if (!r.ok()) {
        EXPECT_TRUE(allowed.count(r.code())) << region << " byte " << i << ": " << r.status().to_string();
        seen.insert(r.code());
      }
    }
    return seen;
  }

  Bytes field(const char* name) { return payload_.find(name)->byte_content(); }

  Bytes doc_;
  std::optional<NitroVerifier> verifier_;
  runtime::VerifyContext ctx_;
  codec::CborValue payload_;
};

TEST_F(NitroMutation, ProtectedHeader) {
  // 84 44 [a1 01 38 22]: structure breaks are BAD_FORMAT, a changed alg is BAD_ALG.
  auto seen = sweep("protected", 2, 4, {ErrorCode::ATTEST_BAD_FORMAT, ErrorCode::ATTEST_BAD_ALG});
  EXPECT_TRUE(seen.count(ErrorCode::ATTEST_BAD_ALG));
  Bytes m = doc_;
  m[5] = 0x26;  // alg -7 (ES256)
  EXPECT_EQ(verifier_->verify_document(m, ctx_).code(), ErrorCode::ATTEST_BAD_ALG);
}

TEST_F(NitroMutation, OuterFramingBytes) {
  for (size_t off : {size_t(0), size_t(1), size_t(6), size_t(7), size_t(8), size_t(9)}) {
    Bytes m = doc_;
    m[off] ^= 0x01;
    EXPECT_EQ(verifier_->verify_document(m, ctx_).code(), ErrorCode::ATTEST_BAD_FORMAT) << off;
  }
}

TEST_F(NitroMutation, PayloadFieldValuesBreakTheSignature) {
  const std::set<ErrorCode> sig = {ErrorCode::ATTEST_SIGNATURE_INVALID};
  std::string module_id(payload_.find("module_id")->text_content());
  std::string with_head = "\x78\x27" + module_id;  // the leaf certificate's CN repeats the id
  EXPECT_EQ(sweep("module_id", find(as_bytes(with_head)) + 2, module_id.size(), sig, 2), sig);
  // timestamp: the 8 bytes after 1b.
  Bytes ts = hex_decode("1b00000183d0909e18").value();
  size_t ts_off = find(ts) + 1;
  auto seen = sweep("timestamp", ts_off, 8, {ErrorCode::ATTEST_SIGNATURE_INVALID});
  EXPECT_EQ(seen, sig);
  for (uint32_t pcr : {0u, 1u, 2u, 3u, 4u, 8u}) {
    Bytes v = payload_.find("pcrs")->find_int(pcr)->byte_content();
    std::string name = "PCR" + std::to_string(pcr);
    EXPECT_EQ(sweep(name.c_str(), find(v), v.size(), sig, 4), sig);
  }
  Bytes nonce = field("nonce");
  EXPECT_EQ(sweep("nonce", find(nonce), nonce.size(), sig, 9), sig);
}

TEST_F(NitroMutation, DigestFieldIsBadAlg) {
  size_t off = find(as_bytes(std::string_view("\x66SHA384", 7))) + 1;
  EXPECT_EQ(sweep("digest", off, 6, {ErrorCode::ATTEST_BAD_ALG}), std::set<ErrorCode>{ErrorCode::ATTEST_BAD_ALG});
}

TEST_F(NitroMutation, FieldNamesAndTypes) {
  for (const char* key : {"module_id", "timestamp", "certificate", "cabundle", "public_key", "user_data", "nonce"}) {
    std::string k(key);
    size_t off = find(as_bytes(k));
    Bytes m = doc_;
    m[off + k.size() - 1] ^= 0x01;  // "nonce" -> "noncd": unknown field
    EXPECT_EQ(verifier_->verify_document(m, ctx_).code(), ErrorCode::ATTEST_BAD_FORMAT) << key;
  }
  // The pcrs map head (b0: 16 entries) changed to a1 count or a type change.
  size_t pcrs = find(as_bytes(std::string_view("dpcrs", 5))) + 5;
  Bytes m = doc_;
  m[pcrs] = 0x90;  // array of 16 instead of map
  EXPECT_EQ(verifier_->verify_document(m, ctx_).code(), ErrorCode::ATTEST_BAD_FORMAT);
  // A PCR length head 58 30 (48 bytes) -> 58 2f would misalign: BAD_FORMAT.
  m = doc_;
  m[pcrs + 3] = 0x2f;
  EXPECT_EQ(verifier_->verify_document(m, ctx_).code(), ErrorCode::ATTEST_BAD_FORMAT);
}

TEST_F(NitroMutation, LeafCertificateIsChainInvalid) {
  Bytes leaf = field("certificate");
  auto seen = sweep("certificate", find(leaf), leaf.size(),
                    {ErrorCode::ATTEST_CHAIN_INVALID, ErrorCode::ATTEST_BAD_FORMAT, ErrorCode::ATTEST_CERT_EXPIRED}, 7);
  EXPECT_TRUE(seen.count(ErrorCode::ATTEST_CHAIN_INVALID));
}

TEST_F(NitroMutation, EachCabundleCertificateIsChainInvalid) {
  const auto& bundle = payload_.find("cabundle")->items();
  ASSERT_EQ(bundle.size(), 4u);
  for (size_t i = 0; i < bundle.size(); ++i) {
    const Bytes& c = bundle[i].byte_content();
    std::string name = "cabundle[" + std::to_string(i) + "]";
    std::set<ErrorCode> allowed = {ErrorCode::ATTEST_CHAIN_INVALID, ErrorCode::ATTEST_BAD_FORMAT,
                                   ErrorCode::ATTEST_CERT_EXPIRED};
    if (i == 0) allowed = {ErrorCode::ATTEST_CHAIN_INVALID};  // compared with the pinned root first
    auto seen = sweep(name.c_str(), find(c), c.size(), allowed, 7);
    EXPECT_TRUE(seen.count(ErrorCode::ATTEST_CHAIN_INVALID)) << name;
  }
}

TEST_F(NitroMutation, SignatureBytes) {
  size_t off = doc_.size() - 96;
  EXPECT_EQ(sweep("signature", off, 96, {ErrorCode::ATTEST_SIGNATURE_INVALID}),
            std::set<ErrorCode>{ErrorCode::ATTEST_SIGNATURE_INVALID});
  Bytes m = doc_;
  m[off - 1] = 0x5f;  // signature length 95: the message now ends early
  EXPECT_EQ(verifier_->verify_document(m, ctx_).code(), ErrorCode::ATTEST_BAD_FORMAT);
}

TEST_F(NitroMutation, ReorderedCabundleIsChainInvalid) {
  // Re-encode the payload with cabundle[1] and [2] swapped, keep the signature: chain order is
  // checked before the signature.
  NitroDocument d = parse_nitro_document(Bytes(doc_.begin() + 10, doc_.end() - 98)).value();
  std::swap(d.cabundle[1], d.cabundle[2]);
  codec::CoseSign1 msg = codec::cose_sign1_decode(doc_).value();
  msg.payload = encode_nitro_document(d);
  EXPECT_EQ(verifier_->verify_document(codec::cose_sign1_encode(msg), ctx_).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  // Only the root: the leaf cannot chain.
  d = parse_nitro_document(msg.payload).value();
  d.cabundle.resize(1);
  msg.payload = encode_nitro_document(d);
  EXPECT_EQ(verifier_->verify_document(codec::cose_sign1_encode(msg), ctx_).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  // Empty cabundle: BAD_FORMAT (the field is required to hold the root).
  d.cabundle.clear();
  msg.payload = encode_nitro_document(d);
  EXPECT_EQ(verifier_->verify_document(codec::cose_sign1_encode(msg), ctx_).code(), ErrorCode::ATTEST_BAD_FORMAT);
}

}  // namespace
}  // namespace cpipe::attest::nitro

// Tampered and malformed receipts are rejected with the right check and code: byte flips in
// the protected header, every claim, the signature; wrong keys; truncation; and validly signed
// receipts that break a parse or claim rule (the spec's wrong-alg, bad-measurement-length,
// platform-mismatch and nonce-mismatch categories, which have no vector file here).
#include <gtest/gtest.h>

#include <set>

#include "core/codec/cbor/cbor_decode.h"
#include "core/receipt/air_verify.h"
#include "tests/receipt/receipt_test_util.h"

namespace cpipe::receipt {
namespace {

using codec::CborValue;
using namespace testing_air;

AirClaims canonical_claims() { return claims_from_vector(load_vector("valid/v1-nitro-no-nonce.json")); }

Bytes canonical_receipt() { return issue_receipt(canonical_claims(), vector_key()).value(); }

VerifyReport verify(ByteSpan receipt, const VerifyPolicy& p = {}) {
  return verify_receipt(receipt, vector_key().public_key(), p).value();
}

std::string first_code(const VerifyReport& r) {
  const Check* f = r.first_failure();
  return f ? std::string(check_code_name(f->code)) : "PASS";
}

// Offsets of the pieces inside the canonical receipt: d2 84 46 <6 protected> a0 59 02 07 <519
// payload> 58 40 <64 signature>.
constexpr size_t kProtectedAt = 3, kProtectedLen = 6;
constexpr size_t kPayloadAt = 3 + 6 + 1 + 3;
constexpr size_t kPayloadLen = 519;
constexpr size_t kSignatureAt = kPayloadAt + kPayloadLen + 2;

TEST(AirTamper, LayoutOfTheCanonicalReceipt) {
  Bytes r = canonical_receipt();
  ASSERT_EQ(r.size(), 598u);
  EXPECT_EQ(hex_encode(ByteSpan(r).subspan(kProtectedAt, kProtectedLen)), "a2012703183d");
  EXPECT_EQ(r[kPayloadAt], 0xb0);  // map of 16
  EXPECT_EQ(r.size() - kSignatureAt, 64u);
}

TEST(AirTamper, EveryProtectedHeaderBitFlipIsRejectedInTheParseLayer) {
  Bytes good = canonical_receipt();
  for (size_t i = kProtectedAt; i < kProtectedAt + kProtectedLen; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = good;
      bad[i] ^= uint8_t(1 << bit);
      VerifyReport r = verify(bad);
      ASSERT_FALSE(r.verified()) << i << "/" << bit;
      const Check* f = r.first_failure();
      // A header that still parses fails ALG/CONTENT_TYPE/PROTECTED_HEADER; one that no longer
      // parses fails COSE_DECODE. Either way the signature (which covers it) is never reached.
      EXPECT_EQ(f->layer, Layer::kParse) << i << "/" << bit << " " << f->name;
      EXPECT_TRUE(r.status().code() == ErrorCode::RECEIPT_MALFORMED || r.status().code() == ErrorCode::RECEIPT_BAD_ALG);
    }
  }
}

TEST(AirTamper, AlgChangedToES256IsBadAlg) {
  Bytes bad = canonical_receipt();
  bad[kProtectedAt + 2] = 0x26;  // -8 -> -7
  VerifyReport r = verify(bad);
  EXPECT_EQ(r.first_failure()->name, "ALG");
  EXPECT_EQ(first_code(r), "BAD_ALG");
  EXPECT_EQ(r.status().code(), ErrorCode::RECEIPT_BAD_ALG);
}

TEST(AirTamper, EveryPayloadByteFlipIsRejected) {
  Bytes good = canonical_receipt();
  std::set<std::string> codes;
  for (size_t i = kPayloadAt; i < kPayloadAt + kPayloadLen; ++i) {
    Bytes bad = good;
    bad[i] ^= 0x01;
    VerifyReport r = verify(bad);
    ASSERT_FALSE(r.verified()) << "payload byte " << i - kPayloadAt;
    codes.insert(first_code(r));
  }
  // Value bytes: the signature catches them; structural bytes: the parser does first.
  EXPECT_TRUE(codes.count("SIG_FAILED"));
  for (const std::string& c : codes) {
    EXPECT_TRUE(c == "SIG_FAILED" || c == "PAYLOAD_NOT_MAP" || c == "NON_DETERMINISTIC_ENCODING" ||
                c == "WRONG_PROFILE")
        << c;
  }
}

// Re-encodes the claims with one claim changed and keeps the original signature.
Bytes with_claims(const AirClaims& c, ByteSpan original) {
  auto msg = codec::cose_sign1_decode(original).value();
  msg.payload = encode_claims(c);
  return codec::cose_sign1_encode(msg);
}

TEST(AirTamper, ChangingAnyClaimBreaksTheSignature) {
  const Bytes good = canonical_receipt();
  const AirClaims base = canonical_claims();
  std::vector<std::pair<const char*, std::function<void(AirClaims&)>>> edits = {
      {"iss", [](AirClaims& c) { c.iss = "evil.example"; }},
      {"iat", [](AirClaims& c) { c.iat += 1; }},
      {"cti", [](AirClaims& c) { c.cti[15] ^= 1; }},
      {"eat_nonce", [](AirClaims& c) { c.eat_nonce = Bytes(8, 1); }},
      {"model_id", [](AirClaims& c) { c.model_id = "gpt2"; }},
      {"model_version", [](AirClaims& c) { c.model_version = "1.0.1"; }},
      {"model_hash", [](AirClaims& c) { c.model_hash[0] ^= 1; }},
      {"request_hash", [](AirClaims& c) { c.request_hash[31] ^= 1; }},
      {"response_hash", [](AirClaims& c) { c.response_hash[7] ^= 1; }},
      {"attestation_doc_hash", [](AirClaims& c) { c.attestation_doc_hash[3] ^= 1; }},
      {"pcr0", [](AirClaims& c) { c.enclave_measurements.pcr0[0] ^= 1; }},
      {"pcr2", [](AirClaims& c) { c.enclave_measurements.pcr2[47] ^= 1; }},
      {"pcr8", [](AirClaims& c) { c.enclave_measurements.pcr8 = Bytes(48, 8); }},
      {"measurement_type", [](AirClaims& c) { c.enclave_measurements.measurement_type = "tdx-mrtd-rtmr"; }},
      {"policy_version", [](AirClaims& c) { c.policy_version = "policy-2099"; }},
      {"sequence_number", [](AirClaims& c) { c.sequence_number = 43; }},
      {"execution_time_ms", [](AirClaims& c) { c.execution_time_ms = 1; }},
      {"memory_peak_mb", [](AirClaims& c) { c.memory_peak_mb = 1; }},
      {"security_mode", [](AirClaims& c) { c.security_mode = "evaluation"; }},
      {"model_hash_scheme", [](AirClaims& c) { c.model_hash_scheme = "sha256-manifest"; }},
  };
  for (auto& [name, edit] : edits) {
    AirClaims c = base;
    edit(c);
    VerifyReport r = verify(with_claims(c, good));
    EXPECT_EQ(first_code(r), "SIG_FAILED") << name;
    EXPECT_EQ(r.status().code(), ErrorCode::RECEIPT_SIGNATURE_INVALID) << name;
  }
}

TEST(AirTamper, EverySignatureBitFlipIsSigFailed) {
  Bytes good = canonical_receipt();
  for (size_t i = kSignatureAt; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = good;
      bad[i] ^= uint8_t(1 << bit);
      ASSERT_EQ(first_code(verify(bad)), "SIG_FAILED") << i << "/" << bit;
    }
  }
}

TEST(AirTamper, NonCanonicalSIsRejected) {
  // S + L (the group order) verifies under a lax verifier; verify_strict must refuse it.
  static const uint8_t kL[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
                                 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
  Bytes bad = canonical_receipt();
  unsigned carry = 0;
  for (size_t i = 0; i < 32; ++i) {
    unsigned sum = bad[kSignatureAt + 32 + i] + kL[i] + carry;
    bad[kSignatureAt + 32 + i] = uint8_t(sum);
    carry = sum >> 8;
  }
  EXPECT_EQ(first_code(verify(bad)), "SIG_FAILED");
}

TEST(AirTamper, WrongKeysAreSigFailed) {
  Bytes good = canonical_receipt();
  for (uint8_t seed : {0x01, 0x2b, 0xff}) {
    auto other = crypto::Ed25519KeyPair::from_seed(Bytes(32, seed)).value();
    auto r = verify_receipt(good, other.public_key(), {}).value();
    EXPECT_EQ(first_code(r), "SIG_FAILED");
  }
  // A signature by another key over the same claims is just as wrong.
  auto other = crypto::Ed25519KeyPair::from_seed(Bytes(32, 0x01)).value();
  EXPECT_EQ(first_code(verify(issue_receipt(canonical_claims(), other).value())), "SIG_FAILED");
  EXPECT_EQ(verify_receipt(good, Bytes(31, 1), {}).code(), ErrorCode::INVALID_ARGUMENT);
}

TEST(AirTamper, EveryTruncationAndTrailingByteIsCoseDecodeFailed) {
  Bytes good = canonical_receipt();
  for (size_t n = 0; n < good.size(); ++n) {
    VerifyReport r = verify(ByteSpan(good).first(n));
    ASSERT_EQ(first_code(r), "COSE_DECODE_FAILED") << n;
    EXPECT_EQ(r.status().code(), ErrorCode::RECEIPT_MALFORMED);
  }
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_EQ(first_code(verify(longer)), "COSE_DECODE_FAILED");
}

TEST(AirTamper, UntaggedAndOversizedReceiptsAreRejected) {
  Bytes good = canonical_receipt();
  EXPECT_EQ(first_code(verify(ByteSpan(good).subspan(1))), "COSE_DECODE_FAILED");  // drop tag 18
  Bytes huge(kMaxReceiptSize + 1, 0);
  EXPECT_EQ(first_code(verify(huge)), "RECEIPT_TOO_LARGE");
}

TEST(AirTamper, SignedWithES256HeaderIsBadAlg) {
  Bytes ph;
  codec::CborWriter w(ph);
  w.map_header(2);
  w.integer(1);
  w.integer(-7);
  w.integer(3);
  w.uint(61);
  Bytes r = sign_raw(ph, CborValue::map({}), encode_claims(canonical_claims()), vector_key());
  EXPECT_EQ(first_code(verify(r)), "BAD_ALG");
}

TEST(AirTamper, ExtraProtectedParameterAndWrongContentTypeAreRejected) {
  Bytes ph;
  codec::CborWriter w(ph);
  w.map_header(3);
  w.integer(1);
  w.integer(-8);
  w.integer(3);
  w.uint(61);
  w.integer(4);
  w.bytes(to_bytes("kid"));
  EXPECT_EQ(first_code(verify(sign_raw(ph, CborValue::map({}), encode_claims(canonical_claims()), vector_key()))),
            "BAD_PROTECTED_HEADER");
  Bytes ph2;
  codec::CborWriter w2(ph2);
  w2.map_header(2);
  w2.integer(1);
  w2.integer(-8);
  w2.integer(3);
  w2.uint(60);
  EXPECT_EQ(first_code(verify(sign_raw(ph2, CborValue::map({}), encode_claims(canonical_claims()), vector_key()))),
            "BAD_CONTENT_TYPE");
}

TEST(AirTamper, NonEmptyUnprotectedHeaderIsRejected) {
  Bytes good = canonical_receipt();
  auto msg = codec::cose_sign1_decode(good).value();
  msg.unprotected_header = CborValue::map({CborValue::integer(4), CborValue::bytes(to_bytes("kid"))});
  VerifyReport r = verify(codec::cose_sign1_encode(msg));
  EXPECT_EQ(r.first_failure()->name, "UNPROTECTED");
  EXPECT_EQ(first_code(r), "UNPROTECTED_NOT_EMPTY");
}

// Validly signed payloads that break a rule.
VerifyReport signed_payload(const CborValue& claims) { return verify(sign_payload(deterministic_encode(claims), vector_key())); }

CborValue claims_with(int64_t key, std::optional<CborValue> value) {
  CborValue m = claims_to_cbor(canonical_claims());
  std::vector<CborValue> kv;
  bool replaced = false;
  for (size_t i = 0; i < m.map_size(); ++i) {
    if (m.map_key(i).as_int64() == key) {
      replaced = true;
      if (!value) continue;
      kv.push_back(m.map_key(i));
      kv.push_back(*value);
    } else {
      kv.push_back(m.map_key(i));
      kv.push_back(m.map_value(i));
    }
  }
  if (!replaced && value) {
    kv.push_back(CborValue::integer(key));
    kv.push_back(*value);
  }
  return CborValue::map(std::move(kv));
}

TEST(AirTamper, SignedButNonDeterministicPayloadIsRejected) {
  CborValue m = claims_to_cbor(canonical_claims());
  // Entries in insertion order (eat_profile after cti, private keys last is fine, but put iss
  // last to break the order).
  std::vector<CborValue> kv;
  for (size_t i = 1; i < m.map_size(); ++i) {
    kv.push_back(m.map_key(i));
    kv.push_back(m.map_value(i));
  }
  kv.push_back(m.map_key(0));
  kv.push_back(m.map_value(0));
  Bytes payload = codec::cbor_encode(CborValue::map(std::move(kv)));
  EXPECT_EQ(first_code(verify(sign_payload(payload, vector_key()))), "NON_DETERMINISTIC_ENCODING");
  // Non-shortest integer head: iat as a 64-bit argument.
  Bytes canonical = encode_claims(canonical_claims());
  Bytes wide;
  for (size_t i = 0; i < canonical.size(); ++i) {
    if (canonical[i] == 0x06 && i + 1 < canonical.size() && canonical[i + 1] == 0x1a) {
      wide.push_back(0x06);
      wide.push_back(0x1b);
      for (int k = 0; k < 4; ++k) wide.push_back(0);
      ++i;
      continue;
    }
    wide.push_back(canonical[i]);
  }
  EXPECT_EQ(first_code(verify(sign_payload(wide, vector_key()))), "NON_DETERMINISTIC_ENCODING");
}

TEST(AirTamper, SignedWrongProfileIsRejected) {
  auto r = signed_payload(claims_with(kClaimEatProfile, CborValue::text("https://spec.cyntrisec.com/air/v2")));
  EXPECT_EQ(first_code(r), "WRONG_PROFILE");
  EXPECT_EQ(first_code(signed_payload(claims_with(kClaimEatProfile, std::nullopt))), "WRONG_PROFILE");
}

TEST(AirTamper, SignedClaimRuleViolationsAreRejectedInLayer3) {
  struct Case {
    const char* what;
    CborValue claims;
    const char* code;
  };
  Measurements short_pcr = canonical_claims().enclave_measurements;
  short_pcr.pcr1.pop_back();
  AirClaims c = canonical_claims();
  c.enclave_measurements = short_pcr;
  AirClaims tdx8 = canonical_claims();
  tdx8.enclave_measurements.measurement_type = "tdx-mrtd-rtmr";
  tdx8.enclave_measurements.pcr8 = Bytes(48, 8);
  AirClaims sev = canonical_claims();
  sev.enclave_measurements.measurement_type = "sev-snp";
  const Case cases[] = {
      {"bad measurement length", claims_to_cbor(c), "BAD_MEASUREMENT_LENGTH"},
      {"pcr8 in tdx", claims_to_cbor(tdx8), "BAD_MEASUREMENTS"},
      {"unknown measurement type", claims_to_cbor(sev), "UNKNOWN_MTYPE"},
      {"unknown claim", claims_with(-65550, CborValue::uint(1)), "UNKNOWN_CLAIM"},
      {"missing model_hash", claims_with(kClaimModelHash, std::nullopt), "MISSING_CLAIM"},
      {"iat as text", claims_with(kClaimIat, CborValue::text("1740500000")), "WRONG_TYPE"},
      {"negative iat", claims_with(kClaimIat, CborValue::integer(-5)), "WRONG_TYPE"},
      {"zero iat", claims_with(kClaimIat, CborValue::uint(0)), "ZERO_IAT"},
      {"short cti", claims_with(kClaimCti, CborValue::bytes(Bytes(15, 1))), "BAD_CTI_LENGTH"},
      {"zero model hash", claims_with(kClaimModelHash, CborValue::bytes(Bytes(32, 0))), "ZERO_MODEL_HASH"},
      {"short model hash", claims_with(kClaimModelHash, CborValue::bytes(Bytes(31, 1))), "BAD_HASH_LENGTH"},
      {"long request hash", claims_with(kClaimRequestHash, CborValue::bytes(Bytes(33, 1))), "BAD_HASH_LENGTH"},
      {"empty iss", claims_with(kClaimIss, CborValue::text("")), "BAD_TEXT_CLAIM"},
      {"huge model_id", claims_with(kClaimModelId, CborValue::text(std::string(1025, 'm'))), "BAD_TEXT_CLAIM"},
      {"short nonce", claims_with(kClaimEatNonce, CborValue::bytes(Bytes(7, 1))), "BAD_NONCE_LENGTH"},
      {"unknown scheme", claims_with(kClaimModelHashScheme, CborValue::text("sha3-single")), "UNKNOWN_MODEL_HASH_SCHEME"},
      {"unknown security mode", claims_with(kClaimSecurityMode, CborValue::text("GatewayOnly")), "UNKNOWN_SECURITY_MODE"},
      {"measurements not a map", claims_with(kClaimEnclaveMeasurements, CborValue::bytes(Bytes(48, 1))), "WRONG_TYPE"},
  };
  for (const Case& k : cases) {
    VerifyReport r = signed_payload(k.claims);
    EXPECT_EQ(first_code(r), k.code) << k.what;
    if (std::string(k.code) != "PASS") {
      EXPECT_EQ(r.first_failure()->layer, Layer::kClaims) << k.what;
      EXPECT_EQ(r.status().code(), ErrorCode::RECEIPT_BAD_CLAIM) << k.what;
    }
  }
}

TEST(AirTamper, SignedTextClaimKeyIsAnUnknownClaim) {
  CborValue m = claims_to_cbor(canonical_claims());
  std::vector<CborValue> kv;
  for (size_t i = 0; i < m.map_size(); ++i) {
    kv.push_back(m.map_key(i));
    kv.push_back(m.map_value(i));
  }
  kv.push_back(CborValue::text("iss"));
  kv.push_back(CborValue::text("cyntrisec.com"));
  VerifyReport r = signed_payload(CborValue::map(std::move(kv)));
  EXPECT_EQ(first_code(r), "UNKNOWN_CLAIM");
}

TEST(AirTamper, IssueRefusesClaimsAVerifierWouldRefuse) {
  AirClaims c = canonical_claims();
  c.model_hash = Bytes(32, 0);
  auto r = issue_receipt(c, vector_key());
  EXPECT_EQ(r.code(), ErrorCode::RECEIPT_BAD_CLAIM);
  EXPECT_NE(r.status().message().find("ZERO_MODEL_HASH"), std::string::npos);
  c = canonical_claims();
  c.security_mode = "GatewayOnly";
  EXPECT_EQ(issue_receipt(c, vector_key()).code(), ErrorCode::RECEIPT_BAD_CLAIM);
}

TEST(AirPolicy, PlatformModelIdSecurityModeAndReplay) {
  Bytes good = canonical_receipt();
  VerifyPolicy p;
  p.expected_platform = "tdx";
  EXPECT_EQ(first_code(verify(good, p)), "PLATFORM_MISMATCH");
  EXPECT_EQ(verify(good, p).status().code(), ErrorCode::RECEIPT_PLATFORM_MISMATCH);
  p.expected_platform = "nitro";
  EXPECT_TRUE(verify(good, p).verified());
  p.expected_platform = "sev";
  EXPECT_EQ(verify_receipt(good, vector_key().public_key(), p).code(), ErrorCode::INVALID_ARGUMENT);

  VerifyPolicy m;
  m.expected_model_id = "gpt2";
  EXPECT_EQ(first_code(verify(good, m)), "MODEL_ID_MISMATCH");
  m.expected_model_id = "minilm-l6-v2";
  m.expected_model_hash = Bytes(32, 0xaa);
  EXPECT_TRUE(verify(good, m).verified());

  VerifyPolicy n;
  n.require_nonce = true;
  EXPECT_EQ(first_code(verify(good, n)), "NONCE_MISSING");
  n.require_nonce = false;
  n.expected_nonce = Bytes(8, 1);
  EXPECT_EQ(first_code(verify(good, n)), "NONCE_MISSING");

  AirClaims eval = canonical_claims();
  eval.security_mode = "evaluation";
  Bytes eval_receipt = issue_receipt(eval, vector_key()).value();
  EXPECT_TRUE(verify(eval_receipt).verified());
  VerifyPolicy prod;
  prod.require_production = true;
  EXPECT_EQ(first_code(verify(eval_receipt, prod)), "SECURITY_MODE_NOT_ALLOWED");
  EXPECT_EQ(verify(eval_receipt, prod).status().code(), ErrorCode::RECEIPT_POLICY_VIOLATION);
  EXPECT_TRUE(verify(good, prod).verified());

  std::set<Bytes> seen;
  VerifyPolicy replay;
  replay.seen_cti = [&seen](ByteSpan cti) { return !seen.insert(Bytes(cti.begin(), cti.end())).second; };
  EXPECT_TRUE(verify(good, replay).verified());
  EXPECT_EQ(first_code(verify(good, replay)), "REPLAY_CTI");
  EXPECT_EQ(verify(good, replay).status().code(), ErrorCode::RECEIPT_REPLAY);
}

TEST(AirIssue, IssuedReceiptsRoundTripWithOptionalClaims) {
  AirClaims c = canonical_claims();
  c.eat_nonce = Bytes(64, 0x11);
  c.model_hash_scheme = "sha256-manifest";
  c.enclave_measurements.pcr3 = Bytes(48, 3);
  c.enclave_measurements.pcr4 = Bytes(48, 4);
  c.enclave_measurements.pcr8 = Bytes(48, 8);
  c.iat = (uint64_t(1) << 40);
  c.sequence_number = UINT64_MAX;
  auto key = crypto::Ed25519KeyPair::from_seed(Bytes(32, 7)).value();
  Bytes r = issue_receipt(c, key).value();
  auto rep = verify_receipt(r, key.public_key(), {}).value();
  ASSERT_TRUE(rep.verified()) << rep.status().message();
  EXPECT_EQ(*rep.claims, c);
  EXPECT_EQ(issue_receipt(c, key).value(), r);  // deterministic
}

}  // namespace
}  // namespace cpipe::receipt

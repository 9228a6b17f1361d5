// CMS EnvelopedData: the two real KMS answers in ../shared/data/kms parse to exactly the
// expected encrypted key, IV and ciphertext; our encoder's output opens with OpenSSL's own CMS
// code and OpenSSL's output opens with ours; wrong keys and damaged blobs are refused.
#include "core/keys/cms_envelope.h"

#include <gtest/gtest.h>
#include <openssl/cms.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include "backends/simulated/sim_random.h"

namespace cpipe::keys {
namespace {

Bytes read_kms(const std::string& name) {
  std::ifstream in(std::string(CPIPE_SHARED_DATA) + "/kms/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return to_bytes(ss.str());
}

struct KmsVector {
  const char* input;
  const char* key;
  const char* iv;
  const char* ciphertext;
};
constexpr KmsVector kVectors[] = {
    {"input_ber.bin", "encrypted_key_out.bin", "iv_out.bin", "ciphertext_out.bin"},
    {"input_ber_w_ctx.bin", "encrypted_key_out_w_ctx.bin", "iv_out_w_ctx.bin", "ciphertext_out_w_ctx.bin"},
};

TEST(CmsEnvelope, RealKmsBlobsParseToTheExpectedFields) {
  for (const KmsVector& v : kVectors) {
    SCOPED_TRACE(v.input);
    auto env = parse_cms_enveloped_data(read_kms(v.input));
    ASSERT_TRUE(env.ok()) << env.status().to_string();
    EXPECT_EQ(env->encrypted_key, read_kms(v.key));
    EXPECT_EQ(env->iv, read_kms(v.iv));
    EXPECT_EQ(env->ciphertext, read_kms(v.ciphertext));
    // AWS's shape: EnvelopedData v2, KeyTransRecipientInfo v2 named by a 32-byte
    // subjectKeyIdentifier, 2048-bit RSA key transport.
    EXPECT_EQ(env->version, 2);
    EXPECT_EQ(env->recipient_version, 2);
    EXPECT_EQ(env->subject_key_identifier.size(), 32u);
    EXPECT_TRUE(env->issuer_and_serial_der.empty());
    EXPECT_EQ(env->encrypted_key.size(), 256u);
  }
}

TEST(CmsEnvelope, OpenSslAgreesTheRealBlobsAreEnvelopedData) {
  for (const KmsVector& v : kVectors) {
    Bytes blob = read_kms(v.input);
    const unsigned char* p = blob.data();
    CMS_ContentInfo* cms = d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(blob.size()));
    ASSERT_NE(cms, nullptr) << v.input;
    EXPECT_EQ(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_enveloped);
    ASSERT_EQ(sk_CMS_RecipientInfo_num(CMS_get0_RecipientInfos(cms)), 1);
    ASN1_OCTET_STRING** content = CMS_get0_content(cms);
    ASSERT_TRUE(content != nullptr && *content != nullptr);
    EXPECT_EQ(Bytes((*content)->data, (*content)->data + (*content)->length), read_kms(v.ciphertext));
    CMS_ContentInfo_free(cms);
  }
}

TEST(CmsEnvelope, EveryTruncationAndTrailingByteIsRefused) {
  for (const KmsVector& v : kVectors) {
    Bytes blob = read_kms(v.input);
    for (size_t n = 0; n < blob.size(); ++n)
      EXPECT_EQ(parse_cms_enveloped_data(ByteSpan(blob).subspan(0, n)).code(), ErrorCode::KEYS_CMS_INVALID) << n;
    blob.push_back(0);
    EXPECT_EQ(parse_cms_enveloped_data(blob).code(), ErrorCode::KEYS_CMS_INVALID);
  }
}

TEST(CmsEnvelope, EveryByteFlipIsRefusedOrChangesOnlyData) {
  // A flipped structural byte must be refused; a flipped data byte may parse, but then it
  // changes a field. Never a crash, never an out-of-bounds read (run under ASan in CI).
  Bytes blob = read_kms("input_ber.bin");
  auto good = parse_cms_enveloped_data(blob);
  ASSERT_TRUE(good.ok());
  for (size_t pos = 0; pos < blob.size(); ++pos) {
    Bytes b = blob;
    b[pos] ^= 0x01;
    auto env = parse_cms_enveloped_data(b);
    if (!env.ok()) {
      EXPECT_EQ(env.code(), ErrorCode::KEYS_CMS_INVALID);
      continue;
    }
    EXPECT_TRUE(env->encrypted_key != good->encrypted_key || env->iv != good->iv ||
                env->ciphertext != good->ciphertext || env->subject_key_identifier != good->subject_key_identifier)
        << "flip at " << pos << " parsed to the same fields";
  }
}

class CmsRoundTrip : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto k = RsaKey::generate_rsa2048();
    ASSERT_TRUE(k.ok());
    key_ = new RsaKey(std::move(*k));
    auto other = RsaKey::generate_rsa2048();
    ASSERT_TRUE(other.ok());
    other_ = new RsaKey(std::move(*other));
  }
  static void TearDownTestSuite() {
    delete key_;
    delete other_;
  }
  static RsaKey* key_;
  static RsaKey* other_;
  sim::SimRandom random{7};
};
RsaKey* CmsRoundTrip::key_ = nullptr;
RsaKey* CmsRoundTrip::other_ = nullptr;

TEST_F(CmsRoundTrip, EncodeForFreshRsa2048KeyAndDecryptBack) {
  for (size_t n : {size_t(0), size_t(1), size_t(15), size_t(16), size_t(32), size_t(1000)}) {
    Bytes data_key = random.bytes(n);
    auto blob = encode_cms_enveloped_data(data_key, *key_, random);
    ASSERT_TRUE(blob.ok()) << blob.status().to_string();
    auto env = parse_cms_enveloped_data(*blob);
    ASSERT_TRUE(env.ok());
    EXPECT_EQ(env->version, 2);
    EXPECT_EQ(env->recipient_version, 2);
    EXPECT_EQ(env->ciphertext.size(), (n / 16 + 1) * 16);
    auto plain = decrypt_cms_enveloped_data(*blob, *key_);
    ASSERT_TRUE(plain.ok()) << plain.status().to_string();
    EXPECT_EQ(*plain, data_key);
  }
}

TEST_F(CmsRoundTrip, OurEnvelopeIsShapedLikeAwsBer) {
  auto blob = encode_cms_enveloped_data(random.bytes(32), *key_, random);
  ASSERT_TRUE(blob.ok());
  // Same framing as the KMS blobs: indefinite outer SEQUENCE, then the envelopedData OID.
  Bytes aws = read_kms("input_ber.bin");
  EXPECT_EQ(Bytes(blob->begin(), blob->begin() + 17), Bytes(aws.begin(), aws.begin() + 17));
}

TEST_F(CmsRoundTrip, OpenSslCmsDecryptOpensOurEnvelope) {
  Bytes data_key = random.bytes(32);
  auto blob = encode_cms_enveloped_data(data_key, *key_, random);
  ASSERT_TRUE(blob.ok());
  const unsigned char* p = blob->data();
  CMS_ContentInfo* cms = d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(blob->size()));
  ASSERT_NE(cms, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  ASSERT_EQ(CMS_decrypt(cms, key_->get(), nullptr, nullptr, out, 0), 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(out, &data);
  EXPECT_EQ(Bytes(data, data + len), data_key);
  BIO_free(out);
  CMS_ContentInfo_free(cms);
}

// A self-signed certificate for `key`, so OpenSSL's CMS_encrypt can address it.
X509* self_signed(EVP_PKEY* key) {
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("enclave"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  X509_sign(cert, key, EVP_sha256());
  return cert;
}

TEST_F(CmsRoundTrip, WeOpenOpenSslsOaepEnvelopeNamedByIssuerAndSerial) {
  Bytes data_key = random.bytes(32);
  X509* cert = self_signed(key_->get());
  CMS_ContentInfo* cms = CMS_encrypt(nullptr, nullptr, EVP_aes_256_cbc(), CMS_PARTIAL | CMS_BINARY);
  ASSERT_NE(cms, nullptr);
  CMS_RecipientInfo* ri = CMS_add1_recipient_cert(cms, cert, CMS_KEY_PARAM);
  ASSERT_NE(ri, nullptr);
  EVP_PKEY_CTX* pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1);
  BIO* in = BIO_new_mem_buf(data_key.data(), static_cast<int>(data_key.size()));
  ASSERT_EQ(CMS_final(cms, in, nullptr, CMS_BINARY), 1);
  unsigned char* der = nullptr;
  int n = i2d_CMS_ContentInfo(cms, &der);
  ASSERT_GT(n, 0);
  Bytes blob(der, der + n);
  OPENSSL_free(der);
  BIO_free(in);
  CMS_ContentInfo_free(cms);
  X509_free(cert);

  auto env = parse_cms_enveloped_data(blob);
  ASSERT_TRUE(env.ok()) << env.status().to_string();
  EXPECT_EQ(env->recipient_version, 0);
  EXPECT_FALSE(env->issuer_and_serial_der.empty());
  auto plain = decrypt_cms_envelope(*env, *key_);
  ASSERT_TRUE(plain.ok()) << plain.status().to_string();
  EXPECT_EQ(*plain, data_key);
}

TEST_F(CmsRoundTrip, WrongKeyAndTamperedCiphertextAreRefused) {
  auto blob = encode_cms_enveloped_data(random.bytes(32), *key_, random);
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(decrypt_cms_enveloped_data(*blob, *other_).code(), ErrorCode::KEYS_CMS_INVALID);
  auto env = parse_cms_enveloped_data(*blob);
  ASSERT_TRUE(env.ok());
  CmsEnvelope bad = *env;
  bad.encrypted_key[100] ^= 1;
  EXPECT_EQ(decrypt_cms_envelope(bad, *key_).code(), ErrorCode::KEYS_CMS_INVALID);
  auto pub = RsaKey::from_public_der(*key_->public_der());
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(decrypt_cms_envelope(*env, *pub).code(), ErrorCode::FAILED_PRECONDITION);
}

TEST_F(CmsRoundTrip, EncodingIsAFunctionOfRandomAlone) {
  // Content key, IV and OAEP seed all come from runtime::Random: same seed, same bytes.
  Bytes data_key(32, 0x2a);
  sim::SimRandom a(99), b(99);
  auto x = encode_cms_enveloped_data(data_key, *key_, a);
  auto y = encode_cms_enveloped_data(data_key, *key_, b);
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_EQ(*x, *y);
}

TEST_F(CmsRoundTrip, PrivateKeyDerRoundTrips) {
  auto der = key_->private_der();
  ASSERT_TRUE(der.ok());
  auto back = RsaKey::from_private_der(*der);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back->public_der(), *key_->public_der());
  EXPECT_EQ(key_->modulus_bytes(), 256u);
  EXPECT_EQ(RsaKey::from_public_der(to_bytes("not a key")).code(), ErrorCode::CRYPTO_BAD_KEY);
}

}  // namespace
}  // namespace cpipe::keys

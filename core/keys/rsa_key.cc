// RSA-2048 recipient keys over OpenSSL 3 (see rsa_key.h for where the randomness comes from).
#include "core/keys/rsa_key.h"

#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/crypto/hash.h"

namespace cpipe::keys {
namespace {

using CtxPtr = crypto::EvpPkeyCtxPtr;

Status openssl_error(std::string what) { return make_error(ErrorCode::CRYPTO_FAILURE, "OpenSSL: " + what); }

bool is_rsa(EVP_PKEY* k) { return EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA; }

// MGF1 with SHA-256 (RFC 8017 B.2.1).
Bytes mgf1_sha256(ByteSpan seed, size_t length) {
  Bytes out;
  for (uint32_t counter = 0; out.size() < length; ++counter) {
    Bytes block(seed.begin(), seed.end());
    block.resize(seed.size() + 4);
    store_u32_be(block.data() + seed.size(), counter);
    Bytes h = crypto::sha256(block);
    out.insert(out.end(), h.begin(), h.end());
  }
  out.resize(length);
  return out;
}

}  // namespace

Result<RsaKey> RsaKey::generate_rsa2048() {
  EVP_PKEY* k = EVP_RSA_gen(2048);
  if (k == nullptr) return openssl_error("RSA-2048 key generation failed");
  return RsaKey(EvpPkeyPtr(k), true);
}

Result<RsaKey> RsaKey::from_public_der(ByteSpan der) {
  const unsigned char* p = der.data();
  EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (k == nullptr || p != der.data() + der.size() || !is_rsa(k)) {
    EVP_PKEY_free(k);
    return make_error(ErrorCode::CRYPTO_BAD_KEY, "not a DER SubjectPublicKeyInfo RSA key");
  }
  return RsaKey(EvpPkeyPtr(k), false);
}

Result<RsaKey> RsaKey::from_private_der(ByteSpan der) {
  const unsigned char* p = der.data();
  EVP_PKEY* k = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
  if (k == nullptr || !is_rsa(k)) {
    EVP_PKEY_free(k);
    return make_error(ErrorCode::CRYPTO_BAD_KEY, "not a DER RSA private key");
  }
  return RsaKey(EvpPkeyPtr(k), true);
}

size_t RsaKey::modulus_bytes() const { return static_cast<size_t>(EVP_PKEY_get_size(key_.get())); }

Result<Bytes> RsaKey::public_der() const {
  unsigned char* buf = nullptr;
  const int n = i2d_PUBKEY(key_.get(), &buf);
  if (n <= 0) return openssl_error("encoding the public key");
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

Result<Bytes> RsaKey::private_der() const {
  if (!has_private_) return make_error(ErrorCode::FAILED_PRECONDITION, "public key only");
  PKCS8_PRIV_KEY_INFO* info = EVP_PKEY2PKCS8(key_.get());
  if (info == nullptr) return openssl_error("encoding the private key");
  unsigned char* buf = nullptr;
  const int n = i2d_PKCS8_PRIV_KEY_INFO(info, &buf);
  PKCS8_PRIV_KEY_INFO_free(info);
  if (n <= 0) return openssl_error("encoding the private key");
  Bytes out(buf, buf + n);
  OPENSSL_clear_free(buf, static_cast<size_t>(n));
  return out;
}

Result<Bytes> RsaKey::oaep_sha256_decrypt(ByteSpan ciphertext) const {
  if (!has_private_) return make_error(ErrorCode::FAILED_PRECONDITION, "RSA decryption needs the private key");
  CtxPtr ctx(EVP_PKEY_CTX_new(key_.get(), nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) <= 0)
    return openssl_error("setting up RSAES-OAEP-SHA256");
  size_t len = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &len, ciphertext.data(), ciphertext.size()) <= 0)
    return make_error(ErrorCode::KEYS_CMS_INVALID, "RSAES-OAEP: bad ciphertext size");
  Bytes out(len);
  if (EVP_PKEY_decrypt(ctx.get(), out.data(), &len, ciphertext.data(), ciphertext.size()) <= 0)
    return make_error(ErrorCode::KEYS_CMS_INVALID, "RSAES-OAEP-SHA256 decryption failed (not for this key)");
  out.resize(len);
  return out;
}

Result<Bytes> RsaKey::oaep_sha256_encrypt(ByteSpan message, ByteSpan seed) const {
  constexpr size_t h = crypto::kSha256Size;
  const size_t k = modulus_bytes();
  if (seed.size() != h) return make_error(ErrorCode::INVALID_ARGUMENT, "OAEP seed must be 32 bytes");
  if (message.size() + 2 * h + 2 > k) return make_error(ErrorCode::INVALID_ARGUMENT, "message too long for OAEP");
  // DB = lHash || PS || 0x01 || M, masked with MGF1(seed); seed masked with MGF1(maskedDB).
  Bytes db = crypto::sha256({});
  db.resize(k - message.size() - h - 2, 0);
  db.push_back(0x01);
  db.insert(db.end(), message.begin(), message.end());
  const Bytes db_mask = mgf1_sha256(seed, db.size());
  for (size_t i = 0; i < db.size(); ++i) db[i] ^= db_mask[i];
  Bytes masked_seed(seed.begin(), seed.end());
  const Bytes seed_mask = mgf1_sha256(db, h);
  for (size_t i = 0; i < h; ++i) masked_seed[i] ^= seed_mask[i];
  Bytes em{0x00};
  em.insert(em.end(), masked_seed.begin(), masked_seed.end());
  em.insert(em.end(), db.begin(), db.end());

  CtxPtr ctx(EVP_PKEY_CTX_new(key_.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) <= 0)
    return openssl_error("setting up raw RSA");
  size_t len = k;
  Bytes out(k);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, em.data(), em.size()) <= 0 || len != k)
    return openssl_error("raw RSA encryption");
  secure_zero(em);
  secure_zero(db);
  return out;
}

}  // namespace cpipe::keys

// RSA keys for KMS key release: the enclave's ephemeral RSA-2048 recipient key (its public half
// goes into the NSM attestation document as `public_key`, which KMS encrypts the data key to),
// and public keys on the simulated KMS side.
//
// Randomness: generate_rsa2048() draws from OpenSSL's own DRBG (seeded by the OS), NOT from
// runtime::Random — OpenSSL 3 offers no per-call RNG hook for key generation. So the key is not
// reproducible from a simulation seed; everything the simulator hashes into its trace must
// therefore not depend on the key's bits (the CMS encoder below takes its own randomness from
// runtime::Random and implements OAEP padding itself for that reason).
#pragma once

#include <openssl/evp.h>

#include <memory>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/crypto/openssl_ptr.h"

namespace cpipe::keys {

using crypto::EvpPkeyPtr;

class RsaKey {
 public:
  // A fresh 2048-bit key, e = 65537 (OpenSSL randomness, see above).
  static Result<RsaKey> generate_rsa2048();
  // SubjectPublicKeyInfo DER (the NSM document's public_key, KMS's recipient key).
  static Result<RsaKey> from_public_der(ByteSpan spki_der);
  // PKCS#8 PrivateKeyInfo DER.
  static Result<RsaKey> from_private_der(ByteSpan pkcs8_der);

  bool has_private() const { return has_private_; }
  size_t modulus_bytes() const;
  Result<Bytes> public_der() const;
  Result<Bytes> private_der() const;  // PKCS#8; FAILED_PRECONDITION for a public key

  // RSAES-OAEP with SHA-256 and MGF1-SHA-256, empty label, through OpenSSL (constant-time
  // padding check). KEYS_CMS_INVALID when the ciphertext does not decrypt.
  Result<Bytes> oaep_sha256_decrypt(ByteSpan ciphertext) const;
  // RSAES-OAEP-SHA256 encryption with an explicit 32-byte seed (RFC 8017 7.1.1 EME-OAEP
  // encoding here, then the raw RSA operation), so the caller's runtime::Random decides the
  // bytes.
  Result<Bytes> oaep_sha256_encrypt(ByteSpan message, ByteSpan seed) const;

  EVP_PKEY* get() const { return key_.get(); }

 private:
  RsaKey(EvpPkeyPtr key, bool has_private) : key_(std::move(key)), has_private_(has_private) {}
  EvpPkeyPtr key_;
  bool has_private_ = false;
};

}  // namespace cpipe::keys

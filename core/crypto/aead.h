// ChaCha20-Poly1305 (RFC 8439) through OpenSSL's EVP interface, which is markedly faster than
// libsodium's on the AVX-512 machines cpipe targets. The key is installed once per object and
// the cipher contexts are reused, so a record costs one IV setup, not a key schedule.
#pragma once

#include <openssl/evp.h>

#include <array>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::crypto {

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;

class ChaCha20Poly1305 {
 public:
  // CRYPTO_BAD_KEY unless key is 32 bytes.
  static Result<ChaCha20Poly1305> create(ByteSpan key);
  ChaCha20Poly1305(ChaCha20Poly1305&&) noexcept;
  ChaCha20Poly1305& operator=(ChaCha20Poly1305&&) noexcept;
  ~ChaCha20Poly1305();

  // Encrypts `data` in place and writes the 16-byte tag. nonce must be 12 bytes.
  Status seal_in_place(ByteSpan nonce, ByteSpan aad, MutableByteSpan data, MutableByteSpan tag);
  // Decrypts in place after checking the tag; CRYPTO_AUTH_FAILED on mismatch, and then `data`
  // holds no plaintext (it is zeroed).
  Status open_in_place(ByteSpan nonce, ByteSpan aad, MutableByteSpan data, ByteSpan tag);

  // Convenience forms: ciphertext||tag out, and back.
  Result<Bytes> seal(ByteSpan nonce, ByteSpan aad, ByteSpan plaintext);
  Result<Bytes> open(ByteSpan nonce, ByteSpan aad, ByteSpan ciphertext_and_tag);

 private:
  ChaCha20Poly1305(EVP_CIPHER_CTX* enc, EVP_CIPHER_CTX* dec) : enc_(enc), dec_(dec) {}
  EVP_CIPHER_CTX* enc_ = nullptr;
  EVP_CIPHER_CTX* dec_ = nullptr;
};

// The same AEAD through libsodium (one call, key schedule included), for benchmark comparison
// and as an independent implementation in tests. Same contracts as the member functions.
Status sodium_chacha20poly1305_seal_in_place(ByteSpan key, ByteSpan nonce, ByteSpan aad,
                                             MutableByteSpan data, MutableByteSpan tag);
Status sodium_chacha20poly1305_open_in_place(ByteSpan key, ByteSpan nonce, ByteSpan aad,
                                             MutableByteSpan data, ByteSpan tag);

}  // namespace cpipe::crypto

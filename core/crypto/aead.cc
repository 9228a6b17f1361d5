// ChaCha20-Poly1305 over OpenSSL EVP. Each object owns one cipher context per direction, keyed
// once in create(); a call only installs the nonce (EVP_CipherInit_ex with no cipher and no key,
// which resets the Poly1305 state), absorbs the AAD, transforms the data in place and gets or
// checks the tag. Nothing on the in-place path allocates.
#include "core/crypto/aead.h"

#include <openssl/err.h>
#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace cpipe::crypto {
namespace {

const EVP_CIPHER* chacha20_poly1305() {
  static const EVP_CIPHER* cipher = [] {
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
    if (c == nullptr) std::abort();  // default provider without ChaCha20-Poly1305
    return c;
  }();
  return cipher;
}

// EVP_CipherUpdate takes int lengths; records are far smaller, but stay correct for any size.
constexpr size_t kMaxChunk = size_t(1) << 30;

bool absorb_aad(EVP_CIPHER_CTX* ctx, ByteSpan aad) {
  int outl = 0;
  for (size_t off = 0; off < aad.size(); off += kMaxChunk) {
    size_t n = std::min(kMaxChunk, aad.size() - off);
    if (EVP_CipherUpdate(ctx, nullptr, &outl, aad.data() + off, int(n)) != 1) return false;
  }
  return true;
}

bool transform(EVP_CIPHER_CTX* ctx, MutableByteSpan data) {
  int outl = 0;
  for (size_t off = 0; off < data.size(); off += kMaxChunk) {
    size_t n = std::min(kMaxChunk, data.size() - off);
    if (EVP_CipherUpdate(ctx, data.data() + off, &outl, data.data() + off, int(n)) != 1 ||
        size_t(outl) != n) {
      return false;
    }
  }
  return true;
}

Status library_failure(const char* what) {
  ERR_clear_error();
  return make_error(ErrorCode::CRYPTO_FAILURE, what);
}

}  // namespace

Result<ChaCha20Poly1305> ChaCha20Poly1305::create(ByteSpan key) {
  if (key.size() != kAeadKeySize) {
    return make_error(ErrorCode::CRYPTO_BAD_KEY, "ChaCha20-Poly1305 key must be 32 bytes");
  }
  // Constructed first so the destructor frees whatever was allocated on any failure below.
  ChaCha20Poly1305 aead(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_new());
  if (aead.enc_ == nullptr || aead.dec_ == nullptr) {
    return make_error(ErrorCode::CRYPTO_FAILURE, "EVP_CIPHER_CTX_new failed");
  }
  // The default nonce length of this cipher is 12 bytes, which is what we use.
  if (EVP_EncryptInit_ex(aead.enc_, chacha20_poly1305(), nullptr, key.data(), nullptr) != 1 ||
      EVP_DecryptInit_ex(aead.dec_, chacha20_poly1305(), nullptr, key.data(), nullptr) != 1) {
    return library_failure("ChaCha20-Poly1305 key setup failed");
  }
  return aead;
}

ChaCha20Poly1305::ChaCha20Poly1305(ChaCha20Poly1305&& other) noexcept
    : enc_(std::exchange(other.enc_, nullptr)), dec_(std::exchange(other.dec_, nullptr)) {}

ChaCha20Poly1305& ChaCha20Poly1305::operator=(ChaCha20Poly1305&& other) noexcept {
  std::swap(enc_, other.enc_);
  std::swap(dec_, other.dec_);
  return *this;
}

ChaCha20Poly1305::~ChaCha20Poly1305() {
  EVP_CIPHER_CTX_free(enc_);  // frees and cleanses the key schedule; null-safe
  EVP_CIPHER_CTX_free(dec_);
}

Status ChaCha20Poly1305::seal_in_place(ByteSpan nonce, ByteSpan aad, MutableByteSpan data,
                                       MutableByteSpan tag) {
  if (enc_ == nullptr) return make_error(ErrorCode::FAILED_PRECONDITION, "moved-from AEAD");
  if (nonce.size() != kAeadNonceSize) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "ChaCha20-Poly1305 nonce must be 12 bytes");
  }
  if (tag.size() != kAeadTagSize) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "ChaCha20-Poly1305 tag must be 16 bytes");
  }
  int outl = 0;
  uint8_t final_block[16];  // a stream cipher: Final never writes output
  if (EVP_CipherInit_ex(enc_, nullptr, nullptr, nullptr, nonce.data(), -1) != 1 ||
      !absorb_aad(enc_, aad) || !transform(enc_, data) ||
      EVP_CipherFinal_ex(enc_, final_block, &outl) != 1 ||
      EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_AEAD_GET_TAG, int(kAeadTagSize), tag.data()) != 1) {
    return library_failure("ChaCha20-Poly1305 seal failed");
  }
  return Status::Ok();
}

Status ChaCha20Poly1305::open_in_place(ByteSpan nonce, ByteSpan aad, MutableByteSpan data,
                                       ByteSpan tag) {
  if (dec_ == nullptr) return make_error(ErrorCode::FAILED_PRECONDITION, "moved-from AEAD");
  if (nonce.size() != kAeadNonceSize) {
    secure_zero(data);
    return make_error(ErrorCode::INVALID_ARGUMENT, "ChaCha20-Poly1305 nonce must be 12 bytes");
  }
  if (tag.size() != kAeadTagSize) {
    secure_zero(data);
    return make_error(ErrorCode::CRYPTO_AUTH_FAILED, "ChaCha20-Poly1305 tag must be 16 bytes");
  }
  int outl = 0;
  uint8_t final_block[16];
  // SET_TAG copies the tag into the context, so the const_cast never leads to a write.
  if (EVP_CipherInit_ex(dec_, nullptr, nullptr, nullptr, nonce.data(), -1) != 1 ||
      EVP_CIPHER_CTX_ctrl(dec_, EVP_CTRL_AEAD_SET_TAG, int(kAeadTagSize),
                          const_cast<uint8_t*>(tag.data())) != 1 ||
      !absorb_aad(dec_, aad) || !transform(dec_, data)) {
    secure_zero(data);
    return library_failure("ChaCha20-Poly1305 open failed");
  }
  if (EVP_CipherFinal_ex(dec_, final_block, &outl) != 1) {
    // OpenSSL decrypted before it could check the tag: wipe the unauthenticated plaintext.
    secure_zero(data);
    ERR_clear_error();
    return make_error(ErrorCode::CRYPTO_AUTH_FAILED, "ChaCha20-Poly1305 tag mismatch");
  }
  return Status::Ok();
}

Result<Bytes> ChaCha20Poly1305::seal(ByteSpan nonce, ByteSpan aad, ByteSpan plaintext) {
  Bytes out(plaintext.size() + kAeadTagSize);
  if (!plaintext.empty()) std::memcpy(out.data(), plaintext.data(), plaintext.size());
  MutableByteSpan all(out);
  CPIPE_RETURN_IF_ERROR(seal_in_place(nonce, aad, all.first(plaintext.size()),
                                      all.subspan(plaintext.size())));
  return out;
}

Result<Bytes> ChaCha20Poly1305::open(ByteSpan nonce, ByteSpan aad, ByteSpan ciphertext_and_tag) {
  if (nonce.size() != kAeadNonceSize) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "ChaCha20-Poly1305 nonce must be 12 bytes");
  }
  if (ciphertext_and_tag.size() < kAeadTagSize) {
    return make_error(ErrorCode::CRYPTO_AUTH_FAILED, "ciphertext shorter than the tag");
  }
  size_t n = ciphertext_and_tag.size() - kAeadTagSize;
  Bytes out(ciphertext_and_tag.begin(), ciphertext_and_tag.begin() + n);
  CPIPE_RETURN_IF_ERROR(open_in_place(nonce, aad, out, ciphertext_and_tag.subspan(n)));
  return out;
}

Status sodium_chacha20poly1305_seal_in_place(ByteSpan key, ByteSpan nonce, ByteSpan aad,
                                             MutableByteSpan data, MutableByteSpan tag) {
  if (key.size() != kAeadKeySize) {
    return make_error(ErrorCode::CRYPTO_BAD_KEY, "ChaCha20-Poly1305 key must be 32 bytes");
  }
  if (nonce.size() != kAeadNonceSize || tag.size() != kAeadTagSize) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "nonce must be 12 bytes and tag 16");
  }
  unsigned long long taglen = 0;
  uint8_t empty[1];  // libsodium declares the data pointers non-null even for length 0
  uint8_t* p = data.empty() ? empty : data.data();
  if (crypto_aead_chacha20poly1305_ietf_encrypt_detached(p, tag.data(), &taglen, p, data.size(),
                                                         aad.data(), aad.size(), nullptr,
                                                         nonce.data(), key.data()) != 0) {
    return make_error(ErrorCode::CRYPTO_FAILURE, "libsodium seal failed");
  }
  return Status::Ok();
}

Status sodium_chacha20poly1305_open_in_place(ByteSpan key, ByteSpan nonce, ByteSpan aad,
                                             MutableByteSpan data, ByteSpan tag) {
  if (key.size() != kAeadKeySize) {
    return make_error(ErrorCode::CRYPTO_BAD_KEY, "ChaCha20-Poly1305 key must be 32 bytes");
  }
  if (nonce.size() != kAeadNonceSize || tag.size() != kAeadTagSize) {
    secure_zero(data);
    return make_error(ErrorCode::CRYPTO_AUTH_FAILED, "nonce must be 12 bytes and tag 16");
  }
  // libsodium checks the tag before decrypting and leaves `data` untouched on failure.
  uint8_t empty[1];
  uint8_t* p = data.empty() ? empty : data.data();
  if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(p, nullptr, p,
                                                         data.size(), tag.data(), aad.data(),
                                                         aad.size(), nonce.data(),
                                                         key.data()) != 0) {
    secure_zero(data);
    return make_error(ErrorCode::CRYPTO_AUTH_FAILED, "ChaCha20-Poly1305 tag mismatch");
  }
  return Status::Ok();
}

}  // namespace cpipe::crypto

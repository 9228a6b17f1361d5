// Ed25519 over libsodium 1.0.18, whose verify is strict: canonical S (< L), canonical A and R,
// small-order A and R rejected (Wycheproof's malleability and encoding cases).
#include "core/crypto/ed25519.h"

#include <sodium.h>

namespace cpipe::crypto {

Ed25519KeyPair Ed25519KeyPair::generate(runtime::Random& random) {
  std::array<uint8_t, kEd25519SeedSize> seed{};
  random.fill(seed);
  Ed25519KeyPair kp = *from_seed(seed);
  secure_zero(seed);
  return kp;
}

Result<Ed25519KeyPair> Ed25519KeyPair::from_seed(ByteSpan seed) {
  if (seed.size() != kEd25519SeedSize) {
    return make_error(ErrorCode::CRYPTO_BAD_KEY, "Ed25519 seed must be 32 bytes");
  }
  Ed25519KeyPair kp;
  crypto_sign_ed25519_seed_keypair(kp.public_key_.data(), kp.secret_key_.data(), seed.data());
  return kp;
}

Ed25519KeyPair::~Ed25519KeyPair() { secure_zero(secret_key_); }

std::array<uint8_t, kEd25519SignatureSize> Ed25519KeyPair::sign(ByteSpan message) const {
  std::array<uint8_t, kEd25519SignatureSize> sig{};
  crypto_sign_ed25519_detached(sig.data(), nullptr, message.data(), message.size(),
                               secret_key_.data());
  return sig;
}

Status ed25519_verify(ByteSpan public_key, ByteSpan message, ByteSpan signature) {
  if (public_key.size() != kEd25519PublicKeySize) {
    return make_error(ErrorCode::CRYPTO_BAD_SIGNATURE, "Ed25519 public key must be 32 bytes");
  }
  if (signature.size() != kEd25519SignatureSize) {
    return make_error(ErrorCode::CRYPTO_BAD_SIGNATURE, "Ed25519 signature must be 64 bytes");
  }
  if (crypto_sign_ed25519_verify_detached(signature.data(), message.data(), message.size(),
                                          public_key.data()) != 0) {
    return make_error(ErrorCode::CRYPTO_BAD_SIGNATURE, "Ed25519 signature does not verify");
  }
  return Status::Ok();
}

}  // namespace cpipe::crypto

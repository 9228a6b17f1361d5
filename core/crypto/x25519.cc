// X25519 over libsodium. libsodium's crypto_scalarmult returns -1 exactly when the shared
// point is the identity (all-zero output, i.e. a low-order or twist-low-order peer key); we
// map that to CRYPTO_WEAK_KEY and check the output ourselves as well, so the contract does not
// depend on which libsodium implementation was picked.
#include "core/crypto/x25519.h"

#include <sodium.h>

#include <cassert>

namespace cpipe::crypto {

X25519KeyPair::~X25519KeyPair() { secure_zero(private_key); }

X25519KeyPair x25519_generate(runtime::Random& random) {
  X25519KeyPair kp;
  random.fill(kp.private_key);
  kp.public_key = x25519_public(kp.private_key);
  return kp;
}

std::array<uint8_t, kX25519KeySize> x25519_public(ByteSpan private_key) {
  std::array<uint8_t, kX25519KeySize> pub{};
  assert(private_key.size() == kX25519KeySize);
  if (private_key.size() != kX25519KeySize) return pub;
  // Cannot fail: the base point has prime order and a clamped scalar is never 0 mod it.
  (void)crypto_scalarmult_curve25519_base(pub.data(), private_key.data());
  return pub;
}

Result<Bytes> x25519_shared(ByteSpan private_key, ByteSpan peer_public_key) {
  if (private_key.size() != kX25519KeySize || peer_public_key.size() != kX25519KeySize) {
    return make_error(ErrorCode::CRYPTO_BAD_KEY, "X25519 keys must be 32 bytes");
  }
  Bytes shared(kX25519KeySize);
  int rc = crypto_scalarmult_curve25519(shared.data(), private_key.data(), peer_public_key.data());
  if (rc != 0 || sodium_is_zero(shared.data(), shared.size())) {
    secure_zero(shared);
    return make_error(ErrorCode::CRYPTO_WEAK_KEY, "X25519 shared secret is all zero");
  }
  return shared;
}

}  // namespace cpipe::crypto

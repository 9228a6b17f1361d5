// Ed25519 signatures (RFC 8032) over libsodium: stage identity keys and AIR receipts.
#pragma once

#include <array>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/runtime/random.h"

namespace cpipe::crypto {

inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;

class Ed25519KeyPair {
 public:
  static Ed25519KeyPair generate(runtime::Random& random);
  // CRYPTO_BAD_KEY unless the seed is 32 bytes.
  static Result<Ed25519KeyPair> from_seed(ByteSpan seed);
  ~Ed25519KeyPair();
  Ed25519KeyPair(const Ed25519KeyPair&) = default;
  Ed25519KeyPair& operator=(const Ed25519KeyPair&) = default;

  const std::array<uint8_t, kEd25519PublicKeySize>& public_key() const { return public_key_; }
  std::array<uint8_t, kEd25519SignatureSize> sign(ByteSpan message) const;

 private:
  Ed25519KeyPair() = default;
  std::array<uint8_t, 64> secret_key_{};  // libsodium's seed||public form
  std::array<uint8_t, kEd25519PublicKeySize> public_key_{};
};

// OK, or CRYPTO_BAD_SIGNATURE (also for malformed keys/signatures: strict RFC 8032 checks,
// non-canonical S and small-order keys rejected).
Status ed25519_verify(ByteSpan public_key, ByteSpan message, ByteSpan signature);

}  // namespace cpipe::crypto

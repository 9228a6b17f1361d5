// X25519 key agreement (RFC 7748) over libsodium. Private keys come from runtime::Random so
// that simulated runs are reproducible.
#pragma once

#include <array>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/runtime/random.h"

namespace cpipe::crypto {

inline constexpr size_t kX25519KeySize = 32;

struct X25519KeyPair {
  std::array<uint8_t, kX25519KeySize> private_key{};
  std::array<uint8_t, kX25519KeySize> public_key{};
  ~X25519KeyPair();  // wipes the private key
};

X25519KeyPair x25519_generate(runtime::Random& random);
// The public key of a private scalar.
std::array<uint8_t, kX25519KeySize> x25519_public(ByteSpan private_key);
// Shared secret; CRYPTO_BAD_KEY for wrong sizes, CRYPTO_WEAK_KEY when the result is all zero
// (a low-order peer key), which the channel must reject.
Result<Bytes> x25519_shared(ByteSpan private_key, ByteSpan peer_public_key);

}  // namespace cpipe::crypto

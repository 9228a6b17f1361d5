// HKDF-SHA256 (RFC 5869 §2.2/2.3) written over HMAC-SHA256: a few lines, and it avoids an
// EVP_KDF fetch and context allocation per call in the channel key schedule.
#include "core/crypto/hkdf.h"

#include <algorithm>
#include <array>
#include <cstdlib>

#include "core/crypto/hash.h"

namespace cpipe::crypto {

Bytes hkdf_extract(ByteSpan salt, ByteSpan ikm) {
  static const std::array<uint8_t, kSha256Size> kZeroSalt{};
  return hmac_sha256(salt.empty() ? ByteSpan(kZeroSalt) : salt, ikm);
}

Result<Bytes> hkdf_expand(ByteSpan prk, ByteSpan info, size_t length) {
  if (length > 255 * kSha256Size) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "HKDF-Expand length above 255*HashLen");
  }
  Bytes okm;
  okm.reserve(length);
  Bytes block;  // T(i-1)||info||i
  Bytes t;      // T(i)
  for (uint8_t i = 1; okm.size() < length; ++i) {
    block.assign(t.begin(), t.end());
    block.insert(block.end(), info.begin(), info.end());
    block.push_back(i);
    t = hmac_sha256(prk, block);
    size_t take = std::min(t.size(), length - okm.size());
    okm.insert(okm.end(), t.begin(), t.begin() + take);
  }
  secure_zero(t);
  secure_zero(block);
  return okm;
}

}  // namespace cpipe::crypto

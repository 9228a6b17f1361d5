// HKDF-SHA256 (RFC 5869), split into extract and expand as the channel key schedule uses it.
#pragma once

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::crypto {

// PRK = HMAC-SHA256(salt, ikm); an empty salt means 32 zero bytes, per RFC 5869.
Bytes hkdf_extract(ByteSpan salt, ByteSpan ikm);
// OKM of `length` bytes (at most 255*32, else INVALID_ARGUMENT).
Result<Bytes> hkdf_expand(ByteSpan prk, ByteSpan info, size_t length);

}  // namespace cpipe::crypto

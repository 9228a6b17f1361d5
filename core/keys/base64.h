// Base64 (RFC 4648, standard alphabet, padded) for the KMS JSON API: strict decoding, so a
// response that is not exactly canonical base64 is rejected instead of half-read.
#pragma once

#include <string>
#include <string_view>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::keys {

std::string base64_encode(ByteSpan data);
// INVALID_ARGUMENT on any character outside the alphabet, whitespace, missing or extra padding,
// or non-zero padding bits.
Result<Bytes> base64_decode(std::string_view text);

}  // namespace cpipe::keys

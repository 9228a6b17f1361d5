// Base64 over libsodium's constant-time codec (the strings carry key material).
#include "core/keys/base64.h"

#include <sodium.h>

namespace cpipe::keys {

std::string base64_encode(ByteSpan data) {
  const size_t cap = sodium_base64_encoded_len(data.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(cap, '\0');
  sodium_bin2base64(out.data(), cap, data.data(), data.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(cap - 1);  // drop the NUL terminator sodium writes
  return out;
}

Result<Bytes> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return make_error(ErrorCode::INVALID_ARGUMENT, "base64 length is not a multiple of 4");
  Bytes out(text.size() / 4 * 3);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size())
    return make_error(ErrorCode::INVALID_ARGUMENT, "malformed base64");
  out.resize(len);
  return out;
}

}  // namespace cpipe::keys

// bytes_to_unicode as in OpenAI's encoder.py: printable Latin-1 bytes map to themselves, the
// other 68 bytes to U+0100 + n in byte order.
#include "model/tokenizer/byte_level.h"

#include <array>

namespace cpipe::model {
namespace {

struct Tables {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 0x144> to_byte{};  // code points used are all below U+0144
  Tables() {
    to_byte.fill(-1);
    uint32_t n = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_cp[b] = printable ? b : 0x100 + n++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else {  // the alphabet stays below U+0800
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

uint32_t byte_to_code_point(uint8_t byte) { return tables().to_cp[byte]; }

std::optional<uint8_t> code_point_to_byte(uint32_t cp) {
  if (cp >= tables().to_byte.size() || tables().to_byte[cp] < 0) return std::nullopt;
  return static_cast<uint8_t>(tables().to_byte[cp]);
}

std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) append_utf8(out, byte_to_code_point(b));
  return out;
}

Result<std::string> byte_level_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    auto c0 = static_cast<unsigned char>(text[i]);
    uint32_t cp;
    if (c0 < 0x80) {
      cp = c0;
      i += 1;
    } else if (c0 >= 0xC2 && c0 < 0xE0 && i + 1 < text.size() &&
               (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
      cp = ((c0 & 0x1Fu) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3Fu);
      i += 2;
    } else {
      return make_error(ErrorCode::MODEL_BAD_TOKENIZER,
                        "token '" + std::string(text) + "' has a character outside the byte-level alphabet");
    }
    auto b = code_point_to_byte(cp);
    if (!b) {
      return make_error(ErrorCode::MODEL_BAD_TOKENIZER,
                        "token '" + std::string(text) + "' has a character outside the byte-level alphabet");
    }
    out.push_back(static_cast<char>(*b));
  }
  return out;
}

}  // namespace cpipe::model

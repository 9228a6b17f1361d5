// GPT-2's byte-level alphabet: every byte 0..255 is mapped to one printable Unicode character
// (OpenAI's bytes_to_unicode) so that vocab and merges files can spell arbitrary bytes as text.
// The tokenizer works on raw bytes internally; this mapping is only applied at load time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/status.h"

namespace cpipe::model {

// The code point that stands for `byte` (e.g. 0x20 -> U+0120 'Ġ').
uint32_t byte_to_code_point(uint8_t byte);

// Inverse of byte_to_code_point; nullopt for a code point outside the alphabet.
std::optional<uint8_t> code_point_to_byte(uint32_t cp);

// "Ġhello" (UTF-8) -> " hello" bytes. MODEL_BAD_TOKENIZER for invalid UTF-8 or a character
// outside the 256-character alphabet.
Result<std::string> byte_level_decode(std::string_view text);

// " hello" bytes -> "Ġhello" (UTF-8).
std::string byte_level_encode(std::string_view bytes);

}  // namespace cpipe::model

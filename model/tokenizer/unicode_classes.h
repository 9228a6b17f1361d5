// The character classes of the GPT-2 pre-tokenizer regex: \p{L}, \p{N}, JavaScript's \s, and
// everything else. Backed by generated range tables (unicode_tables.cc, from
// gen_unicode_tables.py) so the split does not depend on a regex library or the C locale.
#pragma once

#include <cstdint>

namespace cpipe::model {

struct CodePointRange {
  uint32_t first;
  uint32_t last;  // inclusive
};

enum class CharClass : uint8_t {
  kLetter,  // \p{L}
  kNumber,  // \p{N}
  kSpace,   // \s (ECMAScript: TAB LF VT FF CR, Zs, U+FEFF, U+2028, U+2029)
  kOther,   // [^\s\p{L}\p{N}]; also every byte of invalid UTF-8
};

CharClass classify_code_point(uint32_t cp);

// The Unicode version the tables were generated from ("17.0").
const char* unicode_tables_version();

namespace unicode_tables {
extern const char kUnicodeVersion[];
extern const CodePointRange kLetterRanges[];
extern const int kLetterRangeCount;
extern const CodePointRange kNumberRanges[];
extern const int kNumberRangeCount;
extern const CodePointRange kSpaceRanges[];
extern const int kSpaceRangeCount;
}  // namespace unicode_tables

}  // namespace cpipe::model

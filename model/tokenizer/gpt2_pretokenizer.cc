// The regex's alternatives as a scanner. At each position the first alternative that matches
// wins, as in a backtracking engine:
//   1. an apostrophe followed by s, t, re, ve, m, ll or d (case-sensitive);
//   2-4. an optional U+0020 then a maximal run of one class (letters, numbers, other);
//   5. \s+(?!\S): a whitespace run, minus its last unit when non-space follows (the engine
//      backtracks one unit so that the space can prefix the next word);
//   6. \s+: a single whitespace unit followed by non-space.
#include "model/tokenizer/gpt2_pretokenizer.h"

#include <cstdint>

#include "model/tokenizer/unicode_classes.h"

namespace cpipe::model {
namespace {

constexpr uint32_t kInvalid = 0xFFFFFFFFu;

struct Unit {
  uint32_t cp;  // kInvalid for a byte that is not part of well-formed UTF-8
  uint32_t len;
  CharClass cls;
};

// Decodes one well-formed UTF-8 sequence (no overlongs, surrogates or values past U+10FFFF)
// at `i`, or returns a one-byte invalid unit.
Unit unit_at(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c0 = byte(i);
  if (c0 < 0x80) return {c0, 1, classify_code_point(c0)};
  size_t n = s.size() - i;
  uint32_t cp = 0;
  uint32_t len = 0;
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    len = 2;
    cp = c0 & 0x1Fu;
  } else if (c0 >= 0xE0 && c0 <= 0xEF) {
    len = 3;
    cp = c0 & 0x0Fu;
  } else if (c0 >= 0xF0 && c0 <= 0xF4) {
    len = 4;
    cp = c0 & 0x07u;
  } else {
    return {kInvalid, 1, CharClass::kOther};
  }
  if (n < len) return {kInvalid, 1, CharClass::kOther};
  for (uint32_t k = 1; k < len; ++k) {
    uint8_t c = byte(i + k);
    if ((c & 0xC0) != 0x80) return {kInvalid, 1, CharClass::kOther};
    cp = (cp << 6) | (c & 0x3Fu);
  }
  bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
  bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
  if (overlong || surrogate || cp > 0x10FFFF) return {kInvalid, 1, CharClass::kOther};
  return {cp, len, classify_code_point(cp)};
}

// Length of the contraction at `i` (which holds an apostrophe), or 0.
size_t contraction_length(std::string_view s, size_t i) {
  std::string_view rest = s.substr(i + 1);
  if (rest.empty()) return 0;
  switch (rest[0]) {
    case 's':
    case 't':
    case 'm':
    case 'd':
      return 2;
    case 'r':
      return rest.size() >= 2 && rest[1] == 'e' ? 3 : 0;
    case 'v':
      return rest.size() >= 2 && rest[1] == 'e' ? 3 : 0;
    case 'l':
      return rest.size() >= 2 && rest[1] == 'l' ? 3 : 0;
    default:
      return 0;
  }
}

// End of the maximal run of units of class `cls` starting at `i`.
size_t run_end(std::string_view s, size_t i, CharClass cls) {
  while (i < s.size()) {
    Unit u = unit_at(s, i);
    if (u.cls != cls) break;
    i += u.len;
  }
  return i;
}

}  // namespace

void gpt2_pretokenize(std::string_view text, std::vector<std::string_view>& out) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    Unit u = unit_at(text, i);
    size_t end;
    if (u.cp == '\'' && contraction_length(text, i) > 0) {
      end = i + contraction_length(text, i);
    } else if (u.cp == ' ' && i + 1 < n && unit_at(text, i + 1).cls != CharClass::kSpace) {
      end = run_end(text, i + 1, unit_at(text, i + 1).cls);
    } else if (u.cls != CharClass::kSpace) {
      end = run_end(text, i, u.cls);
    } else {
      // Whitespace run [i, run) whose last unit starts at `last`.
      size_t last = i;
      size_t run = i;
      while (run < n) {
        Unit w = unit_at(text, run);
        if (w.cls != CharClass::kSpace) break;
        last = run;
        run += w.len;
      }
      end = (run == n || last == i) ? run : last;
    }
    out.push_back(text.substr(i, end - i));
    i = end;
  }
}

}  // namespace cpipe::model

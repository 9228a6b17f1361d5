// Code point classification for the GPT-2 pre-tokenizer: a 64K-entry table for the BMP (built
// once from the generated ranges, since nearly all text lives there) and binary search above.
#include "model/tokenizer/unicode_classes.h"

#include <array>

namespace cpipe::model {
namespace {

bool in_ranges(const CodePointRange* ranges, int count, uint32_t cp) {
  int lo = 0;
  int hi = count - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (cp < ranges[mid].first) {
      hi = mid - 1;
    } else if (cp > ranges[mid].last) {
      lo = mid + 1;
    } else {
      return true;
    }
  }
  return false;
}

CharClass classify_slow(uint32_t cp) {
  using namespace unicode_tables;
  if (in_ranges(kLetterRanges, kLetterRangeCount, cp)) return CharClass::kLetter;
  if (in_ranges(kNumberRanges, kNumberRangeCount, cp)) return CharClass::kNumber;
  if (in_ranges(kSpaceRanges, kSpaceRangeCount, cp)) return CharClass::kSpace;
  return CharClass::kOther;
}

struct BmpTable {
  std::array<CharClass, 0x10000> cls;
  BmpTable() {
    for (uint32_t cp = 0; cp < 0x10000; ++cp) cls[cp] = classify_slow(cp);
  }
};

const BmpTable& bmp_table() {
  static const BmpTable table;
  return table;
}

}  // namespace

CharClass classify_code_point(uint32_t cp) {
  if (cp < 0x10000) return bmp_table().cls[cp];
  return classify_slow(cp);
}

const char* unicode_tables_version() { return unicode_tables::kUnicodeVersion; }

}  // namespace cpipe::model

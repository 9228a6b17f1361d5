// Corpus generation. Fragments are spelled with \u escapes where the characters are invisible
// or easily confused (spaces, joiners, marks).
#include "tests/tokenizer/corpus.h"

namespace cpipe::model::testing {
namespace {

// splitmix64: portable, unlike std:: distributions.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
};

const char* const kFragments[] = {
    // Latin, accents, other scripts
    "Hello world", "The quick brown fox jumps over the lazy dog.", "naïve café résumé façade",
    "Straße Øresund Łódź İstanbul ǅemal", "Ελληνικά γράμματα", "Привет, как дела?", "Україна їжак ґанок",
    "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "你好，世界！", "日本語のテキスト、カタカナとひらがな",
    "한국어 텍스트입니다", "ქართული ენა", "Հայերեն", "አማርኛ", "தமிழ் மொழி", "বাংলা", "ગુજરાતી", "ಕನ್ನಡ",
    "മലയാളം", "සිංහල", "ລາວ", "ខ្មែរ", "မြန်မာ", "ᚠᛇᚻ ᛒᛦᚦ", "𐌰𐌱𐌲 Gothic", "Ⲁⲃⲅ Coptic", "ᐃᓄᒃᑎᑐᑦ",
    "ꦗꦮ Javanese", "𑼄𑼅𑼆 Kawi (Unicode 15)", "𱍐𱍑 CJK ext H", "𮯰𮯱 CJK ext I", "𝐀𝐁𝐂 𝕏𝕐 math letters",
    // emoji, ZWJ, flags, skin tones, keycaps, variation selectors
    "hello 👋 world 🌍", "👨\u200d👩\u200d👧\u200d👦 family", "🏳️\u200d🌈 🏴\u200d☠️", "🇺🇸🇯🇵🇩🇪🇫🇷 flags",
    "👍🏽👍🏿 skin", "1️⃣ 2️⃣ #️⃣", "❤️ ❤ ☺️", "🧑\u200d💻 coder", "🫠🫡🪿 new emoji", "emoji🙂glued🙂text",
    // combining marks
    "e\u0301 a\u0308 n\u0303", "Z\u0351\u0352\u0353a\u0300\u0301\u0302l\u0327g\u0328o", "\u0301leading mark",
    "क्षत्रिय", "ที่นี่", "e\u20dd circled",
    // whitespace
    " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r\n\r\n", " \n ", "a  b", "a   b", "a\t\tb", "a \tb",
    "line1\nline2\r\nline3\rline4", "trailing space ", "trailing spaces   ", "   leading", "\n\n\nTitle\n\n",
    "nbsp\u00a0here", "em\u2003space", "ideo\u3000space", "narrow\u202fnbsp", "ogham\u1680space",
    "bom\ufeffinside", "nel\u0085char", "ls\u2028ps\u2029", "mvs\u180e", "fs\u001cgs\u001drs\u001eus\u001f",
    "zw\u200bsp", "vt\u000bff\u000c", " \u00a0 \u2003 x", "\u3000\u3000全角",
    // digits and numbers
    "0", "123", "1234567890", "3.14159", "1,000,000", "2024-01-01T12:34:56Z", "v1.2.3-rc4", "0xDEADBEEF",
    "٣٤٥ arabic-indic", "४२ devanagari", "①②③", "ⅫⅣ roman", "½ ¾ ⅞", "²³¹", "1st 2nd 3rd 42nd", "12abc34",
    // contractions
    "I'm", "you're", "we've", "they'll", "she'd", "it's", "don't", "IT'S", "DON'T", "I'M", "'s", "'S", "''s",
    "'ll've", "o'clock", "rock'n'roll", "it’s (typographic)", "' s", "'", "''", "'''", "x's y'S z'Ll",
    "'re're", "'d'd'd", "Bob's, Alice's and James' cars", " 's", "  's", "\n's",
    // punctuation and symbols
    "!!!", "???", "...", "!?!?", "--->", "<=>", "#!/bin/bash", "a+b=c", "(x)", "[]{}()", "\"quoted\"",
    "«guillemets»", "„German“", "¿Qué?", "¡Hola!", "§¶†‡", "©®™", "€$£¥₹", "@user #tag", "100%", "C++",
    "foo_bar-baz", "~/.config", "http://example.com/path?q=1&r=2#frag", "user@example.com",
    "int main() { return 0; }", "    indented code();", "<|endoftext|>", "<|endoftext|>hi<|endoftext|>",
    "\x01\x02\x7f", "\x1b[31mred\x1b[0m",
};

void append_cp(std::string& out, uint32_t cp) { append_utf8(out, cp); }

// A random code point from a mix of regions (never a surrogate).
uint32_t random_code_point(Rng& r) {
  static const uint32_t kSpaces[] = {0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C, 0xA0, 0x1680, 0x2000, 0x2005, 0x200A,
                                     0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF, 0x85, 0x180E, 0x200B};
  switch (r.below(10)) {
    case 0:
    case 1:
    case 2:
      return 0x20 + r.below(0x5F);  // printable ASCII
    case 3:
      return kSpaces[r.below(sizeof(kSpaces) / sizeof(kSpaces[0]))];
    case 4:
      return r.below(0x100);  // controls and Latin-1
    case 5:
      return 0x100 + r.below(0x2000);  // Latin extended .. Greek .. Indic
    case 6: {
      uint32_t cp = r.below(0x10000);  // anywhere in the BMP
      return (cp >= 0xD800 && cp <= 0xDFFF) ? cp - 0x800 : cp;
    }
    case 7:
      return 0x1F300 + r.below(0x700);  // emoji blocks
    case 8:
      return 0x10000 + r.below(0x30000);  // SMP..TIP, incl. new and unassigned letters
    default:
      return 0x300 + r.below(0x70);  // combining marks
  }
}

}  // namespace

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::vector<std::string> make_tokenizer_corpus(size_t min_count, uint64_t seed) {
  Rng r{seed};
  std::vector<std::string> out;
  const size_t nfrag = sizeof(kFragments) / sizeof(kFragments[0]);
  for (const char* f : kFragments) out.emplace_back(f);
  out.emplace_back("");
  // Very long words: repeated letters, random lowercase, digits, punctuation, CJK.
  out.push_back(std::string(1500, 'a'));
  out.push_back(" " + std::string(700, 'z') + "!");
  std::string s;
  for (int i = 0; i < 1000; ++i) s.push_back(static_cast<char>('a' + r.below(26)));
  out.push_back(s);
  out.push_back(std::string(600, '7'));
  out.push_back(std::string(400, '!') + std::string(300, ','));
  out.push_back("Supercalifragilisticexpialidocious Pneumonoultramicroscopicsilicovolcanoconiosis");
  s.clear();
  for (int i = 0; i < 300; ++i) append_cp(s, 0x4E00 + r.below(0x5000));
  out.push_back(s);
  out.push_back(std::string(200, ' ') + "x" + std::string(100, '\n'));
  const char* const kSeparators[] = {" ", "", "\n", "  ", "\t", ", ", "\r\n", " \n", "'", "-"};
  while (out.size() < min_count) {
    s.clear();
    switch (r.below(3)) {
      case 0: {  // random code points
        uint32_t len = 1 + r.below(40);
        for (uint32_t i = 0; i < len; ++i) append_cp(s, random_code_point(r));
        break;
      }
      case 1: {  // fragments joined by separators
        uint32_t parts = 2 + r.below(6);
        for (uint32_t i = 0; i < parts; ++i) {
          if (i > 0) s += kSeparators[r.below(sizeof(kSeparators) / sizeof(kSeparators[0]))];
          s += kFragments[r.below(static_cast<uint32_t>(nfrag))];
        }
        break;
      }
      default: {  // fragments with random code points spliced in
        s = kFragments[r.below(static_cast<uint32_t>(nfrag))];
        uint32_t extra = 1 + r.below(8);
        for (uint32_t i = 0; i < extra; ++i) {
          if (r.below(2)) s.push_back(' ');
          append_cp(s, random_code_point(r));
        }
        s += kFragments[r.below(static_cast<uint32_t>(nfrag))];
        break;
      }
    }
    out.push_back(s);
  }
  return out;
}

std::vector<std::string> make_invalid_utf8_corpus(size_t count, uint64_t seed) {
  Rng r{seed};
  static const char* const kBad[] = {"\x80", "\xbf", "\xc0\xaf", "\xc1\x81", "\xe0\x80\xaf", "\xed\xa0\x80",
                                     "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\xff", "\xfe", "\xe2\x82",
                                     "\xf0\x9f\x98", "\xc3"};
  std::vector<std::string> out;
  for (size_t n = 0; n < count; ++n) {
    std::string s;
    uint32_t len = 1 + r.below(30);
    for (uint32_t i = 0; i < len; ++i) {
      switch (r.below(4)) {
        case 0:
          s.push_back(static_cast<char>(r.below(256)));  // any byte
          break;
        case 1:
          s += kBad[r.below(sizeof(kBad) / sizeof(kBad[0]))];
          break;
        case 2:
          s.push_back(' ');
          break;
        default:
          append_cp(s, random_code_point(r));
      }
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace cpipe::model::testing

// The generated tokenizer test corpus: deterministic (fixed seed, own PRNG arithmetic, so the
// same strings on every platform), valid UTF-8, covering many scripts, emoji and ZWJ
// sequences, flags, combining marks, whitespace runs, digits, contractions, punctuation runs,
// very long words and random code points. Shared by the round-trip, loader-equivalence and
// npm-oracle tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cpipe::model::testing {

// At least `min_count` strings (the hand-written fragments first, then generated ones).
std::vector<std::string> make_tokenizer_corpus(size_t min_count = 1200, uint64_t seed = 0x9e3779b97f4a7c15ULL);

// Strings that are not valid UTF-8 (for the bytes-are-bytes round trip; no oracle takes them).
std::vector<std::string> make_invalid_utf8_corpus(size_t count = 200, uint64_t seed = 7);

void append_utf8(std::string& out, uint32_t cp);

}  // namespace cpipe::model::testing

// The GPT-2 pre-tokenizer: splits text into the pieces that BPE encodes independently, exactly
// as the regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// does under JavaScript's (and Python's `regex`) leftmost-alternative backtracking semantics,
// but as a hand-written scanner over UTF-8 code points (no regex engine, no locale).
//
// Invalid UTF-8 is not rejected: each byte that does not start a well-formed sequence is one
// unit of class "other" (like punctuation), so every input splits and the pieces concatenate
// back to the input byte for byte.
#pragma once

#include <string_view>
#include <vector>

namespace cpipe::model {

// Appends the pieces of `text` to `out` (views into `text`, in order, covering it exactly).
void gpt2_pretokenize(std::string_view text, std::vector<std::string_view>& out);

}  // namespace cpipe::model

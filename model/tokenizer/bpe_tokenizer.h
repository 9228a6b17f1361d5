// Byte-level BPE tokenizer (GPT-2): pre-tokenize (gpt2_pretokenizer.h), then merge the bytes of
// each piece by rank exactly like OpenAI's encoder.py `bpe()` (repeatedly take the lowest-ranked
// adjacent pair and merge all its non-overlapping occurrences left to right). Decoding
// concatenates the tokens' bytes; the result may be invalid UTF-8 and is returned as bytes.
//
// Loading from files is in tokenizer_files.h; this class takes already-parsed data.
// encode() is thread-safe (the piece cache is behind a mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/status.h"

namespace cpipe::model {

using TokenId = int32_t;

struct BpeTokenizerData {
  // Raw bytes of each token (not the byte-level "Ġ" spelling) and its id.
  std::vector<std::pair<std::string, TokenId>> vocab;
  // Merges in rank order (rank = index), as raw bytes.
  std::vector<std::pair<std::string, std::string>> merges;
  // Tokens that encode_with_special() recognises verbatim in the text (e.g. "<|endoftext|>").
  std::vector<std::pair<std::string, TokenId>> special_tokens;
  // HF ByteLevel add_prefix_space: a space is put in front of text that does not start with one.
  bool add_prefix_space = false;
};

class BpeTokenizer {
 public:
  // Validates the data: ids unique and non-negative, every single byte is a token, every merge's
  // parts and result are tokens. MODEL_BAD_TOKENIZER otherwise.
  static Result<std::shared_ptr<const BpeTokenizer>> create(BpeTokenizerData data);

  // Ids of `text` (any bytes; invalid UTF-8 is encoded byte by byte). Special-token strings
  // are encoded as ordinary text, like encoder.py and gpt-3-encoder.
  std::vector<TokenId> encode(std::string_view text) const;
  // Like encode(), but occurrences of the special tokens map to their ids (HF's behaviour
  // for added tokens; tiktoken's allowed_special="all").
  std::vector<TokenId> encode_with_special(std::string_view text) const;

  // Bytes of the ids, concatenated. OUT_OF_RANGE for an id that is not in the vocabulary.
  Result<std::string> decode(std::span<const TokenId> ids) const;

  // Raw bytes of one token; OUT_OF_RANGE for an unknown id.
  Result<std::string> token_bytes(TokenId id) const;

  // Number of ids in use (50257 for GPT-2); ids run from 0 to max_id().
  size_t vocab_size() const { return vocab_size_; }
  TokenId max_id() const { return static_cast<TokenId>(id_to_bytes_.size()) - 1; }
  size_t merge_count() const { return merge_count_; }
  bool add_prefix_space() const { return add_prefix_space_; }
  // True when every merge ranks after the merges that produce its parts (GPT-2's do); long
  // words then use an O(n log n) merge loop with identical results.
  bool merges_ordered() const;
  const std::vector<std::pair<std::string, TokenId>>& special_tokens() const { return special_; }

  BpeTokenizer(const BpeTokenizer&) = delete;
  BpeTokenizer& operator=(const BpeTokenizer&) = delete;
  ~BpeTokenizer();

 private:
  struct Impl;
  BpeTokenizer();
  void encode_text(std::string_view text, std::vector<TokenId>& out) const;
  void encode_piece(std::string_view piece, std::vector<TokenId>& out) const;

  std::vector<std::string> id_to_bytes_;
  std::vector<bool> id_present_;
  size_t vocab_size_ = 0;
  size_t merge_count_ = 0;
  bool add_prefix_space_ = false;
  std::vector<std::pair<std::string, TokenId>> special_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cpipe::model

// Loading a byte-level BPE tokenizer from its files:
//  - OpenAI's encoder.json + vocab.bpe (HF names them vocab.json + merges.txt), or
//  - HF tokenizer.json (model.vocab + model.merges, merges as "a b" strings or ["a", "b"]
//    pairs; ByteLevel pre-tokenizer; add_prefix_space and added_tokens honoured).
// Every format error is MODEL_BAD_TOKENIZER with the file and what is wrong; a missing file is
// NOT_FOUND; an unreadable one IO_ERROR.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/base/status.h"
#include "model/tokenizer/bpe_tokenizer.h"

namespace cpipe::model {

// Parse file contents (no I/O).
Result<BpeTokenizerData> parse_openai_tokenizer(std::string_view encoder_json, std::string_view vocab_bpe);
Result<BpeTokenizerData> parse_hf_tokenizer_json(std::string_view tokenizer_json);

Result<std::shared_ptr<const BpeTokenizer>> load_openai_tokenizer(const std::string& encoder_json_path,
                                                                  const std::string& vocab_bpe_path);
Result<std::shared_ptr<const BpeTokenizer>> load_hf_tokenizer(const std::string& tokenizer_json_path);

// A directory holding tokenizer.json (preferred), or encoder.json + vocab.bpe, or
// vocab.json + merges.txt. NOT_FOUND when none of these is complete.
Result<std::shared_ptr<const BpeTokenizer>> load_tokenizer_dir(const std::string& dir);

}  // namespace cpipe::model

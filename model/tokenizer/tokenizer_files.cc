// Tokenizer file formats. The vocab and merges spell bytes in GPT-2's byte-level alphabet;
// they are converted to raw bytes here so the tokenizer never sees that spelling.
#include "model/tokenizer/tokenizer_files.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/tokenizer/byte_level.h"

namespace cpipe::model {
namespace {

using nlohmann::json;

Status bad(std::string_view what, std::string_view detail) {
  return make_error(ErrorCode::MODEL_BAD_TOKENIZER, std::string(what) + ": " + std::string(detail));
}

Result<std::string> read_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return make_error(ErrorCode::NOT_FOUND, "tokenizer file not found: " + path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::IO_ERROR, "cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in.good() && !in.eof()) return make_error(ErrorCode::IO_ERROR, "cannot read " + path);
  return ss.str();
}

// vocab: {"token": id, ...} in byte-level spelling.
Status parse_vocab(const json& vocab, std::string_view what, BpeTokenizerData& data) {
  if (!vocab.is_object()) return bad(what, "vocab is not a JSON object");
  data.vocab.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer()) return bad(what, "id of token '" + it.key() + "' is not an integer");
    auto bytes = byte_level_decode(it.key());
    if (!bytes.ok()) return bytes.status().with_context(what);
    data.vocab.emplace_back(std::move(bytes).value(), it.value().get<TokenId>());
  }
  return Status::Ok();
}

Status add_merge(std::string_view a, std::string_view b, std::string_view what, BpeTokenizerData& data) {
  if (a.empty() || b.empty()) return bad(what, "merge " + std::to_string(data.merges.size()) + " has an empty part");
  auto ra = byte_level_decode(a);
  if (!ra.ok()) return ra.status().with_context(what);
  auto rb = byte_level_decode(b);
  if (!rb.ok()) return rb.status().with_context(what);
  data.merges.emplace_back(std::move(ra).value(), std::move(rb).value());
  return Status::Ok();
}

// "a b" with exactly one space.
Status add_merge_line(std::string_view line, std::string_view what, BpeTokenizerData& data) {
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos || line.find(' ', sp + 1) != std::string_view::npos) {
    return bad(what, "merge " + std::to_string(data.merges.size()) + " is not 'a b': '" + std::string(line) + "'");
  }
  return add_merge(line.substr(0, sp), line.substr(sp + 1), what, data);
}

void add_endoftext(BpeTokenizerData& data) {
  for (const auto& [bytes, id] : data.vocab) {
    if (bytes == "<|endoftext|>") data.special_tokens.emplace_back(bytes, id);
  }
}

bool is_file(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec);
}

Result<std::shared_ptr<const BpeTokenizer>> finish(Result<BpeTokenizerData> data,
                                                   const std::string& what) {
  if (!data.ok()) return data.status().with_context(what);
  auto tok = BpeTokenizer::create(std::move(data).value());
  if (!tok.ok()) return tok.status().with_context(what);
  return tok;
}

}  // namespace

Result<BpeTokenizerData> parse_openai_tokenizer(std::string_view encoder_json, std::string_view vocab_bpe) {
  BpeTokenizerData data;
  json vocab = json::parse(encoder_json, nullptr, /*allow_exceptions=*/false);
  if (vocab.is_discarded()) return bad("encoder.json", "not valid JSON");
  CPIPE_RETURN_IF_ERROR(parse_vocab(vocab, "encoder.json", data));
  // One "a b" merge per line after the "#version" line (encoder.py: split("\n")[1:-1]).
  size_t pos = 0;
  size_t line_no = 0;
  while (pos < vocab_bpe.size()) {
    size_t nl = vocab_bpe.find('\n', pos);
    std::string_view line = vocab_bpe.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? vocab_bpe.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1 && line.starts_with("#version")) continue;
    if (line.empty() && pos >= vocab_bpe.size()) break;
    CPIPE_RETURN_IF_ERROR(add_merge_line(line, "vocab.bpe", data));
  }
  add_endoftext(data);
  return data;
}

Result<BpeTokenizerData> parse_hf_tokenizer_json(std::string_view tokenizer_json) {
  constexpr std::string_view kWhat = "tokenizer.json";
  json doc = json::parse(tokenizer_json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return bad(kWhat, "not a JSON object");
  if (!doc.contains("model") || !doc["model"].is_object()) return bad(kWhat, "no model object");
  const json& model = doc["model"];
  if (model.contains("type") && model["type"] != "BPE") return bad(kWhat, "model.type is not BPE");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() && model[key] != "") {
      return bad(kWhat, std::string("model.") + key + " is not supported by byte-level BPE");
    }
  }
  if (model.value("byte_fallback", false) == true) return bad(kWhat, "byte_fallback is not supported");
  if (doc.contains("normalizer") && !doc["normalizer"].is_null()) return bad(kWhat, "normalizers are not supported");

  BpeTokenizerData data;
  const json* pre = doc.contains("pre_tokenizer") ? &doc["pre_tokenizer"] : nullptr;
  if (pre == nullptr || !pre->is_object() || pre->value("type", "") != "ByteLevel") {
    return bad(kWhat, "pre_tokenizer is not ByteLevel");
  }
  if (pre->value("use_regex", true) != true) return bad(kWhat, "ByteLevel use_regex=false is not supported");
  data.add_prefix_space = pre->value("add_prefix_space", false);

  if (!model.contains("vocab")) return bad(kWhat, "no model.vocab");
  CPIPE_RETURN_IF_ERROR(parse_vocab(model["vocab"], kWhat, data));
  if (!model.contains("merges") || !model["merges"].is_array()) return bad(kWhat, "model.merges is not an array");
  for (const json& m : model["merges"]) {
    if (m.is_string()) {
      CPIPE_RETURN_IF_ERROR(add_merge_line(m.get_ref<const std::string&>(), kWhat, data));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      CPIPE_RETURN_IF_ERROR(
          add_merge(m[0].get_ref<const std::string&>(), m[1].get_ref<const std::string&>(), kWhat, data));
    } else {
      return bad(kWhat, "merge " + std::to_string(data.merges.size()) + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  if (doc.contains("added_tokens") && doc["added_tokens"].is_array()) {
    for (const json& t : doc["added_tokens"]) {
      if (!t.is_object() || !t.contains("content") || !t["content"].is_string() || !t.contains("id") ||
          !t["id"].is_number_integer()) {
        return bad(kWhat, "malformed added_tokens entry");
      }
      data.special_tokens.emplace_back(t["content"].get<std::string>(), t["id"].get<TokenId>());
    }
  }
  return data;
}

Result<std::shared_ptr<const BpeTokenizer>> load_openai_tokenizer(const std::string& encoder_json_path,
                                                                  const std::string& vocab_bpe_path) {
  CPIPE_ASSIGN_OR_RETURN(std::string enc, read_file(encoder_json_path));
  CPIPE_ASSIGN_OR_RETURN(std::string bpe, read_file(vocab_bpe_path));
  return finish(parse_openai_tokenizer(enc, bpe), "loading " + encoder_json_path + " + " + vocab_bpe_path);
}

Result<std::shared_ptr<const BpeTokenizer>> load_hf_tokenizer(const std::string& tokenizer_json_path) {
  CPIPE_ASSIGN_OR_RETURN(std::string text, read_file(tokenizer_json_path));
  return finish(parse_hf_tokenizer_json(text), "loading " + tokenizer_json_path);
}

Result<std::shared_ptr<const BpeTokenizer>> load_tokenizer_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path d(dir);
  if (is_file(d / "tokenizer.json")) return load_hf_tokenizer((d / "tokenizer.json").string());
  if (is_file(d / "encoder.json") && is_file(d / "vocab.bpe")) {
    return load_openai_tokenizer((d / "encoder.json").string(), (d / "vocab.bpe").string());
  }
  if (is_file(d / "vocab.json") && is_file(d / "merges.txt")) {
    return load_openai_tokenizer((d / "vocab.json").string(), (d / "merges.txt").string());
  }
  return make_error(ErrorCode::NOT_FOUND,
                    "no tokenizer in " + dir + " (need tokenizer.json, encoder.json + vocab.bpe, or vocab.json + merges.txt)");
}

}  // namespace cpipe::model

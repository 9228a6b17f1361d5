// GPT-2 byte-level BPE: the published gpt-3-encoder expectations, both file formats giving the
// same tokenizer, round trips (invalid UTF-8 included), the pre-tokenizer's split rules, and
// errors for bad files and unknown ids. The comparison with the npm oracle itself is in
// oracle_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "model/tokenizer/byte_level.h"
#include "model/tokenizer/gpt2_pretokenizer.h"
#include "model/tokenizer/tokenizer_files.h"
#include "model/tokenizer/unicode_classes.h"
#include "tests/tokenizer/corpus.h"

namespace cpipe::model {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

const std::string kDir = std::string(CPIPE_SHARED_DATA) + "/gpt2-tokenizer";

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::shared_ptr<const BpeTokenizer> openai() {
  static auto t = [] {
    auto r = load_openai_tokenizer(kDir + "/encoder.json", kDir + "/vocab.bpe");
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : nullptr;
  }();
  return t;
}

std::shared_ptr<const BpeTokenizer> hf() {
  static auto t = [] {
    auto r = load_hf_tokenizer(kDir + "/tokenizer.json");
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : nullptr;
  }();
  return t;
}

std::vector<std::string> pieces(std::string_view text) {
  std::vector<std::string_view> v;
  gpt2_pretokenize(text, v);
  return {v.begin(), v.end()};
}

TEST(Gpt3EncoderCases, BothLoadersMatchPublishedIds) {
  auto cases = nlohmann::json::parse(read(kDir + "/gpt-3-encoder-tests.json"));
  ASSERT_GE(cases["cases"].size(), 6u);
  for (const auto& c : cases["cases"]) {
    std::string text = c["text"];
    std::vector<TokenId> want = c["ids"].get<std::vector<TokenId>>();
    EXPECT_EQ(openai()->encode(text), want) << text;
    EXPECT_EQ(hf()->encode(text), want) << text;
    auto back = openai()->decode(want);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, text);
  }
}

TEST(Loaders, OpenAiAndHfFilesGiveTheSameTokenizer) {
  ASSERT_EQ(openai()->vocab_size(), 50257u);
  EXPECT_EQ(hf()->vocab_size(), 50257u);
  EXPECT_EQ(openai()->merge_count(), 50000u);
  EXPECT_EQ(hf()->merge_count(), 50000u);
  EXPECT_FALSE(hf()->add_prefix_space());
  for (TokenId id = 0; id <= openai()->max_id(); ++id) {
    ASSERT_EQ(*openai()->token_bytes(id), *hf()->token_bytes(id)) << id;
  }
  for (const std::string& s : testing::make_tokenizer_corpus()) {
    ASSERT_EQ(openai()->encode(s), hf()->encode(s)) << s;
  }
}

TEST(Loaders, HfPairFormMergesEqualStringForm) {
  auto doc = nlohmann::json::parse(read(kDir + "/tokenizer.json"));
  for (auto& m : doc["model"]["merges"]) {
    std::string s = m;
    size_t sp = s.find(' ');
    m = nlohmann::json::array({s.substr(0, sp), s.substr(sp + 1)});
  }
  auto data = parse_hf_tokenizer_json(doc.dump());
  ASSERT_TRUE(data.ok()) << data.status().to_string();
  auto pair_form = BpeTokenizer::create(std::move(data).value());
  ASSERT_TRUE(pair_form.ok());
  for (const std::string& s : testing::make_tokenizer_corpus(400)) {
    ASSERT_EQ((*pair_form)->encode(s), hf()->encode(s)) << s;
  }
}

TEST(Loaders, DirectoryPicksWhicheverFilesArePresent) {
  auto dir = load_tokenizer_dir(kDir);
  ASSERT_TRUE(dir.ok()) << dir.status().to_string();
  EXPECT_THAT((*dir)->encode("This is some text"), ElementsAre(1212, 318, 617, 2420));

  namespace fs = std::filesystem;
  fs::path tmp = fs::temp_directory_path() / ("cpipe-tok-dir-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  EXPECT_EQ(load_tokenizer_dir(tmp.string()).code(), ErrorCode::NOT_FOUND);
  // HF model directories name the OpenAI files vocab.json + merges.txt.
  fs::copy_file(kDir + "/encoder.json", tmp / "vocab.json");
  fs::copy_file(kDir + "/vocab.bpe", tmp / "merges.txt");
  auto hf_names = load_tokenizer_dir(tmp.string());
  ASSERT_TRUE(hf_names.ok()) << hf_names.status().to_string();
  EXPECT_THAT((*hf_names)->encode("indivisible"), ElementsAre(521, 452, 12843));
  fs::remove_all(tmp);
}

TEST(RoundTrip, DecodeOfEncodeIsIdentityOnCorpus) {
  for (const std::string& s : testing::make_tokenizer_corpus()) {
    auto ids = openai()->encode(s);
    auto back = openai()->decode(ids);
    ASSERT_TRUE(back.ok());
    ASSERT_EQ(*back, s);
  }
}

TEST(RoundTrip, InvalidUtf8IsEncodedByteByByte) {
  for (const std::string& s : testing::make_invalid_utf8_corpus()) {
    auto ids = openai()->encode(s);
    auto back = openai()->decode(ids);
    ASSERT_TRUE(back.ok());
    ASSERT_EQ(*back, s);
  }
  // A lone continuation byte is one "other" unit: it joins a punctuation run, not a word.
  EXPECT_THAT(pieces("ab\x80!c"), ElementsAre("ab", "\x80!", "c"));
  // A surrogate encoded in UTF-8 is three invalid bytes, not a character.
  EXPECT_THAT(pieces("a\xed\xa0\x80 b"), ElementsAre("a", "\xed\xa0\x80", " b"));
  // Decoding can produce invalid UTF-8: a space and half of an emoji.
  auto half = openai()->decode(std::vector<TokenId>{12520});
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(*half, " \xf0\x9f");
}

TEST(Pretokenizer, WhitespaceRunsLeaveOneSpaceForTheNextWord) {
  EXPECT_THAT(pieces("   a"), ElementsAre("  ", " a"));
  EXPECT_THAT(pieces("\t\ta"), ElementsAre("\t", "\t", "a"));
  EXPECT_THAT(pieces("a  \n\nb"), ElementsAre("a", "  \n", "\n", "b"));
  EXPECT_THAT(pieces("end   "), ElementsAre("end", "   "));
  EXPECT_THAT(pieces("a\r\nb"), ElementsAre("a", "\r", "\n", "b"));
  EXPECT_THAT(pieces("a\r\n"), ElementsAre("a", "\r\n"));
  EXPECT_THAT(pieces("x \u3000y"), ElementsAre("x", " ", "\u3000", "y"));
}

TEST(Pretokenizer, ContractionsAreLowercaseOnlyAndWinAtTheirPosition) {
  EXPECT_THAT(pieces("it's"), ElementsAre("it", "'s"));
  EXPECT_THAT(pieces("IT'S"), ElementsAre("IT", "'", "S"));
  EXPECT_THAT(pieces("they'll've"), ElementsAre("they", "'ll", "'ve"));
  EXPECT_THAT(pieces("'sam"), ElementsAre("'s", "am"));
  EXPECT_THAT(pieces(" 's"), ElementsAre(" '", "s"));
  EXPECT_THAT(pieces("!'s"), ElementsAre("!'", "s"));
  EXPECT_THAT(pieces("it\u2019s"), ElementsAre("it", "\u2019", "s"));
}

TEST(Pretokenizer, ClassesFollowUnicodeCategories) {
  EXPECT_THAT(pieces("abc123 def!!"), ElementsAre("abc", "123", " def", "!!"));
  EXPECT_THAT(pieces("e\u0301"), ElementsAre("e", "\u0301"));  // Mn is not \p{L}
  EXPECT_THAT(pieces("\u00bd\u2163x"), ElementsAre("\u00bd\u2163", "x"));  // No and Nl are \p{N}
  EXPECT_EQ(classify_code_point(0x11F04), CharClass::kLetter);  // Kawi, Unicode 15
  EXPECT_EQ(classify_code_point(0x0085), CharClass::kOther);  // not \s in JavaScript
  EXPECT_EQ(classify_code_point(0xFEFF), CharClass::kSpace);
  EXPECT_EQ(classify_code_point(0x1F600), CharClass::kOther);
}

TEST(ByteLevel, AlphabetIsABijectionOnBytes) {
  std::set<uint32_t> seen;
  for (int b = 0; b < 256; ++b) {
    uint32_t cp = byte_to_code_point(static_cast<uint8_t>(b));
    EXPECT_TRUE(seen.insert(cp).second);
    EXPECT_EQ(code_point_to_byte(cp), b);
  }
  EXPECT_EQ(byte_to_code_point(' '), 0x120u);
  EXPECT_EQ(byte_level_encode(" hi\n"), "\u0120hi\u010a");
  EXPECT_EQ(*byte_level_decode("\u0120hi\u010a"), " hi\n");
  EXPECT_EQ(byte_level_decode("\u4e00").code(), ErrorCode::MODEL_BAD_TOKENIZER);
}

TEST(SpecialTokens, PlainEncodeTreatsThemAsTextLikeEncoderPy) {
  EXPECT_THAT(openai()->encode("<|endoftext|>"), ElementsAre(27, 91, 437, 1659, 5239, 91, 29));
  EXPECT_THAT(openai()->encode_with_special("a<|endoftext|>b"), ElementsAre(64, 50256, 65));
  EXPECT_THAT(hf()->encode_with_special("<|endoftext|><|endoftext|>"), ElementsAre(50256, 50256));
}

TEST(Decode, UnknownIdIsOutOfRange) {
  EXPECT_EQ(openai()->decode(std::vector<TokenId>{50257}).code(), ErrorCode::OUT_OF_RANGE);
  EXPECT_EQ(openai()->decode(std::vector<TokenId>{-1}).code(), ErrorCode::OUT_OF_RANGE);
  EXPECT_EQ(openai()->token_bytes(1 << 20).code(), ErrorCode::OUT_OF_RANGE);
}

TEST(BadFiles, AreModelBadTokenizer) {
  std::string enc = read(kDir + "/encoder.json");
  EXPECT_EQ(parse_openai_tokenizer("{not json", "#version: 0.2\n").code(), ErrorCode::MODEL_BAD_TOKENIZER);
  EXPECT_EQ(parse_openai_tokenizer(R"({"a": "x"})", "").code(), ErrorCode::MODEL_BAD_TOKENIZER);
  EXPECT_EQ(parse_openai_tokenizer(enc, "#version: 0.2\na b c\n").code(), ErrorCode::MODEL_BAD_TOKENIZER);
  EXPECT_EQ(parse_openai_tokenizer(enc, "#version: 0.2\nab\n").code(), ErrorCode::MODEL_BAD_TOKENIZER);
  // Parses, but a vocabulary without all 256 bytes is not byte-level.
  auto small = parse_openai_tokenizer(R"({"a": 0, "b": 1})", "#version: 0.2\na b\n");
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(BpeTokenizer::create(std::move(small).value()).code(), ErrorCode::MODEL_BAD_TOKENIZER);
  // A merge whose result is not a token.
  auto data = parse_openai_tokenizer(enc, "#version: 0.2\nq \u010a\n");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(BpeTokenizer::create(std::move(data).value()).code(), ErrorCode::MODEL_BAD_TOKENIZER);
  EXPECT_EQ(parse_hf_tokenizer_json(R"({"model": {"type": "WordPiece"}})").code(), ErrorCode::MODEL_BAD_TOKENIZER);
  auto sparse = parse_openai_tokenizer(R"({"a": 1000000000})", "#version: 0.2\n");
  ASSERT_TRUE(sparse.ok());
  auto sparse_tok = BpeTokenizer::create(std::move(sparse).value());
  EXPECT_EQ(sparse_tok.code(), ErrorCode::MODEL_BAD_TOKENIZER);
  EXPECT_THAT(sparse_tok.status().message(), ::testing::HasSubstr("sparse"));
  EXPECT_EQ(load_hf_tokenizer("/nonexistent/tokenizer.json").code(), ErrorCode::NOT_FOUND);
}

TEST(Merges, Gpt2MergesAreOrderedSoLongWordsUseTheFastLoop) {
  EXPECT_TRUE(openai()->merges_ordered());
  EXPECT_TRUE(hf()->merges_ordered());
}

TEST(Merges, UnorderedMergesStillFollowEncoderPy) {
  BpeTokenizerData data;
  for (int b = 0; b < 256; ++b) data.vocab.emplace_back(std::string(1, static_cast<char>(b)), b);
  data.vocab.emplace_back("ab", 256);
  data.vocab.emplace_back("bc", 257);
  data.vocab.emplace_back("abc", 258);
  // Rank 0 uses "ab", which only rank 1 produces.
  data.merges = {{"ab", "c"}, {"a", "b"}, {"b", "c"}};
  auto tok = BpeTokenizer::create(std::move(data));
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_FALSE((*tok)->merges_ordered());
  EXPECT_THAT((*tok)->encode("abc"), ElementsAre(258));
  std::vector<TokenId> want;
  for (int i = 0; i < 20; ++i) want.push_back(258);
  std::string text;
  for (int i = 0; i < 20; ++i) text += "abc";
  EXPECT_EQ((*tok)->encode(text), want);
}

TEST(Cache, RepeatedEncodesAgree) {
  std::string text;
  for (const std::string& s : testing::make_tokenizer_corpus(300)) text += s + " ";
  auto first = openai()->encode(text);
  EXPECT_EQ(openai()->encode(text), first);
  // Piece by piece equals the whole (pieces are encoded independently).
  std::vector<TokenId> joined;
  for (const std::string& p : pieces(text)) {
    auto ids = openai()->encode(p);
    joined.insert(joined.end(), ids.begin(), ids.end());
  }
  EXPECT_THAT(joined, ElementsAreArray(first));
}

}  // namespace
}  // namespace cpipe::model

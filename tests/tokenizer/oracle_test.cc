// The npm package gpt-3-encoder 1.1.4 as an oracle: a generated corpus (tests/tokenizer/corpus.h)
// is encoded by it (oracle_encode.js under Node) and by cpipe, and every string is compared.
// Also checks that the generated Unicode class tables are the ones Node's regex uses.
//
// The oracle is installed by ci/install-npm-oracle.sh (a ctest fixture runs it) into
// <build>/npm-oracle, or wherever CPIPE_NPM_ORACLE_DIR points. Missing oracle: the tests fail
// under CI (CI=true) and skip otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/tokenizer/tokenizer_files.h"
#include "model/tokenizer/unicode_classes.h"
#include "tests/tokenizer/corpus.h"

namespace cpipe::model {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kDir = std::string(CPIPE_SHARED_DATA) + "/gpt2-tokenizer";
const std::string kScript = std::string(CPIPE_SOURCE_DIR) + "/tests/tokenizer/oracle_encode.js";

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

bool under_ci() { return env_or("CI", "") == "true"; }
std::string npm_prefix() { return env_or("CPIPE_NPM_ORACLE_DIR", CPIPE_NPM_ORACLE_DIR); }
std::string node_binary() { return env_or("CPIPE_NODE", "node"); }

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("cpipe-tok-oracle-" + std::to_string(::getpid()) + "-" + name);
}

// Why the oracle cannot run, or "" when it can.
std::string oracle_missing() {
  fs::path pkg = fs::path(npm_prefix()) / "node_modules" / "gpt-3-encoder" / "package.json";
  if (!fs::exists(pkg)) return "gpt-3-encoder is not installed in " + npm_prefix() + " (run ci/install-npm-oracle.sh BUILD_DIR)";
  if (std::system((node_binary() + " --version >/dev/null 2>&1").c_str()) != 0) return "node is not runnable";
  return "";
}

#define REQUIRE_ORACLE()                                                  \
  do {                                                                    \
    std::string why = oracle_missing();                                   \
    if (!why.empty()) {                                                   \
      if (under_ci()) FAIL() << "oracle required under CI: " << why;       \
      GTEST_SKIP() << "npm oracle unavailable: " << why;                   \
    }                                                                     \
  } while (0)

Result<json> run_node(const std::string& args, const fs::path& out) {
  std::string cmd = node_binary() + " " + shell_quote(kScript) + " " + args;
  if (std::system(cmd.c_str()) != 0) return make_error(ErrorCode::INTERNAL, "node failed: " + cmd);
  std::ifstream in(out);
  std::ostringstream ss;
  ss << in.rdbuf();
  fs::remove(out);
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return make_error(ErrorCode::PARSE_ERROR, "node wrote bad JSON");
  return j;
}

// Readable and unambiguous: printable ASCII as is, everything else as \u{...}.
std::string escaped(const std::string& s) {
  json j = s;
  std::string dumped = j.dump(-1, ' ', /*ensure_ascii=*/true);
  return dumped.size() > 400 ? dumped.substr(0, 400) + "...\" (" + std::to_string(s.size()) + " bytes)" : dumped;
}

std::string ids_str(const std::vector<TokenId>& ids) { return json(ids).dump(); }

class NpmOracle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    corpus_ = testing::make_tokenizer_corpus();
    if (!oracle_missing().empty()) return;
    fs::path in = temp_path("corpus.json"), out = temp_path("ids.json");
    std::ofstream(in) << json(corpus_).dump();
    auto r = run_node("encode " + shell_quote(npm_prefix()) + " " + shell_quote(in.string()) + " " +
                          shell_quote(out.string()),
                      out);
    fs::remove(in);
    if (!r.ok()) {
      error_ = r.status().to_string();
      return;
    }
    version_ = (*r)["version"];
    for (const json& ids : (*r)["ids"]) {
      std::vector<TokenId> v;
      bool has_null = false;
      for (const json& id : ids) {
        if (id.is_null()) has_null = true;
        v.push_back(id.is_null() ? -1 : id.get<TokenId>());
      }
      oracle_.push_back(has_null ? std::vector<TokenId>{-1} : v);
    }
  }

  static std::vector<std::string> corpus_;
  static std::vector<std::vector<TokenId>> oracle_;
  static std::string version_;
  static std::string error_;
};

std::vector<std::string> NpmOracle::corpus_;
std::vector<std::vector<TokenId>> NpmOracle::oracle_;
std::string NpmOracle::version_;
std::string NpmOracle::error_;

// Every string encodes exactly as gpt-3-encoder does, with either file format.
TEST_F(NpmOracle, CorpusEncodesExactlyLikeGpt3Encoder) {
  REQUIRE_ORACLE();
  ASSERT_TRUE(error_.empty()) << error_;
  EXPECT_EQ(version_, "1.1.4");
  ASSERT_EQ(oracle_.size(), corpus_.size());
  ASSERT_GE(corpus_.size(), 1000u);
  auto openai = load_openai_tokenizer(kDir + "/encoder.json", kDir + "/vocab.bpe");
  auto hf = load_hf_tokenizer(kDir + "/tokenizer.json");
  ASSERT_TRUE(openai.ok()) << openai.status().to_string();
  ASSERT_TRUE(hf.ok()) << hf.status().to_string();
  size_t mismatches = 0;
  size_t tokens = 0;
  for (size_t i = 0; i < corpus_.size() && mismatches < 20; ++i) {
    tokens += oracle_[i].size();
    for (const auto* tok : {&*openai, &*hf}) {
      auto ours = (*tok)->encode(corpus_[i]);
      if (ours != oracle_[i]) {
        ++mismatches;
        ADD_FAILURE() << "string " << i << " " << escaped(corpus_[i]) << "\n  cpipe: " << ids_str(ours)
                      << "\n  npm:   " << ids_str(oracle_[i]);
      }
    }
  }
  EXPECT_EQ(mismatches, 0u);
  std::printf("[ oracle ] %zu strings, %zu tokens compared with gpt-3-encoder %s\n", corpus_.size(), tokens,
              version_.c_str());
}

// The checked-in \p{L} \p{N} \s tables are the ones the oracle's regex engine uses.
TEST(NpmOracleUnicode, TablesMatchNodeRegexClasses) {
  REQUIRE_ORACLE();
  fs::path out = temp_path("classes.json");
  auto r = run_node("classes " + shell_quote(out.string()), out);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::string node_version = (*r)["unicode"];
  auto check = [&](const char* name, const CodePointRange* ranges, int count) {
    std::vector<std::pair<uint32_t, uint32_t>> ours, theirs;
    for (int i = 0; i < count; ++i) ours.emplace_back(ranges[i].first, ranges[i].last);
    for (const json& p : (*r)[name]) theirs.emplace_back(p[0].get<uint32_t>(), p[1].get<uint32_t>());
    EXPECT_EQ(ours, theirs) << "\\p{" << name << "} differs: tables are Unicode " << unicode_tables_version()
                            << ", node's regex Unicode " << node_version
                            << "; regenerate with model/tokenizer/gen_unicode_tables.py";
  };
  check("L", unicode_tables::kLetterRanges, unicode_tables::kLetterRangeCount);
  check("N", unicode_tables::kNumberRanges, unicode_tables::kNumberRangeCount);
  check("S", unicode_tables::kSpaceRanges, unicode_tables::kSpaceRangeCount);
}

}  // namespace
}  // namespace cpipe::model

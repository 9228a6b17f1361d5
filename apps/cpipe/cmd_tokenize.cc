// `cpipe tokenize --tokenizer DIR [--decode] [--special] [--json] ARG...`: GPT-2 byte-level BPE
// from the command line; `cpipe bench tokenize` measures encode throughput. Encoding joins the TEXT arguments with single spaces and prints the
// ids space-separated (or a JSON array); --decode takes ids and prints the decoded bytes as they
// are (they may not be valid UTF-8; with --json they are shown as text with invalid bytes
// replaced, plus the exact bytes in hex).
#include <charconv>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "apps/cpipe/command_registry.h"
#include "core/base/bytes.h"
#include "model/tokenizer/tokenizer_files.h"

namespace cpipe::cli {
namespace {

struct TokenizeOptions {
  std::string dir;
  bool decode = false;
  bool special = false;
  bool json = false;
  std::vector<std::string> args;
};

Result<std::vector<model::TokenId>> parse_ids(const std::vector<std::string>& args) {
  std::vector<model::TokenId> ids;
  for (const std::string& arg : args) {
    // Accept "1 2 3", "1,2,3" and "[1, 2, 3]" in any mix.
    size_t i = 0;
    while (i < arg.size()) {
      char c = arg[i];
      if (c == ' ' || c == ',' || c == '[' || c == ']' || c == '\t' || c == '\n') {
        ++i;
        continue;
      }
      model::TokenId id = 0;
      auto [ptr, ec] = std::from_chars(arg.data() + i, arg.data() + arg.size(), id);
      if (ec != std::errc() || ptr == arg.data() + i) {
        return make_error(ErrorCode::INVALID_ARGUMENT, "not a token id: '" + arg.substr(i) + "'");
      }
      ids.push_back(id);
      i = static_cast<size_t>(ptr - arg.data());
    }
  }
  return ids;
}

int run_tokenize(const TokenizeOptions& opt) {
  auto tok = model::load_tokenizer_dir(opt.dir);
  if (!tok.ok()) return report_error(tok.status(), opt.json);
  if (opt.decode) {
    auto ids = parse_ids(opt.args);
    if (!ids.ok()) return report_error(ids.status(), opt.json);
    auto text = (*tok)->decode(*ids);
    if (!text.ok()) return report_error(text.status(), opt.json);
    if (opt.json) {
      // Invalid UTF-8 cannot be JSON text: "text" has U+FFFD for it, "hex" the exact bytes.
      nlohmann::ordered_json out = {{"ok", true}, {"text", *text}, {"hex", hex_encode(as_bytes(*text))}};
      std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
    } else {
      std::cout.write(text->data(), static_cast<std::streamsize>(text->size()));
      std::cout << std::endl;
    }
    return kExitOk;
  }
  std::string text;
  for (size_t i = 0; i < opt.args.size(); ++i) {
    if (i > 0) text.push_back(' ');
    text += opt.args[i];
  }
  std::vector<model::TokenId> ids = opt.special ? (*tok)->encode_with_special(text) : (*tok)->encode(text);
  if (opt.json) {
    nlohmann::ordered_json out = {{"ok", true}, {"ids", ids}, {"count", ids.size()}};
    std::cout << out.dump() << std::endl;
  } else {
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << std::endl;
  }
  return kExitOk;
}


struct BenchOptions {
  std::string dir;
  std::vector<std::string> files;
  double megabytes = 4.0;
  bool json = false;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Encode throughput on the given files (concatenated and repeated up to --mb), first with a cold
// piece cache, then warm. Without files the text is the decoding of seeded random token ids (a
// worst case for the cache: almost every word is new).
int run_bench(const BenchOptions& opt) {
  auto tok = model::load_tokenizer_dir(opt.dir);
  if (!tok.ok()) return report_error(tok.status(), opt.json);
  std::string source;
  for (const std::string& f : opt.files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) return report_error(make_error(ErrorCode::NOT_FOUND, "cannot read " + f), opt.json);
    std::ostringstream ss;
    ss << in.rdbuf();
    source += ss.str();
  }
  if (source.empty()) {
    uint64_t x = 42;
    std::vector<model::TokenId> ids;
    for (int i = 0; i < 200000; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      ids.push_back(static_cast<model::TokenId>((x >> 33) % 50256));
    }
    source = *(*tok)->decode(ids);
  }
  const size_t target = static_cast<size_t>(opt.megabytes * 1024 * 1024);
  std::string text;
  text.reserve(target + source.size());
  while (text.size() < target) text += source;
  auto t0 = std::chrono::steady_clock::now();
  auto fresh = model::load_tokenizer_dir(opt.dir);  // an empty cache for the cold pass
  double load_s = seconds_since(t0);
  if (!fresh.ok()) return report_error(fresh.status(), opt.json);
  t0 = std::chrono::steady_clock::now();
  size_t tokens = (*fresh)->encode(text).size();
  double cold_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  (*fresh)->encode(text);
  double warm_s = seconds_since(t0);
  const double mb = static_cast<double>(text.size()) / (1024.0 * 1024.0);
  nlohmann::ordered_json out = {{"ok", true},
                                {"bytes", text.size()},
                                {"tokens", tokens},
                                {"load_ms", load_s * 1e3},
                                {"cold_mb_per_s", mb / cold_s},
                                {"warm_mb_per_s", mb / warm_s},
                                {"warm_tokens_per_s", static_cast<double>(tokens) / warm_s}};
  std::cout << (opt.json ? out.dump() : out.dump(2)) << std::endl;
  return kExitOk;
}

CommandRegistrar registrar([](CLI::App& root) {
  auto opt = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = root.add_subcommand("tokenize", "Encode text to GPT-2 BPE ids, or decode ids (--decode)");
  cmd->add_option("--tokenizer", opt->dir,
                  "Directory with tokenizer.json, or encoder.json + vocab.bpe, or vocab.json + merges.txt")
      ->required();
  cmd->add_flag("--decode", opt->decode, "Arguments are token ids; print the text");
  cmd->add_flag("--special", opt->special, "Map special tokens such as <|endoftext|> in the text to their ids");
  cmd->add_flag("--json", opt->json, "Machine-readable output");
  cmd->add_option("args", opt->args, "Text to encode (arguments joined by spaces), or ids with --decode")
      ->expected(0, -1);
  cmd->callback([opt] { set_exit_code(run_tokenize(*opt)); });

  auto bopt = std::make_shared<BenchOptions>();
  CLI::App* bench = group(root, "bench", "Benchmarks (JSON output)")
                        ->add_subcommand("tokenize", "GPT-2 BPE encode throughput");
  bench->add_option("--tokenizer", bopt->dir, "Tokenizer directory")->required();
  bench->add_option("--file", bopt->files, "Text files to encode (concatenated); default: random tokens");
  bench->add_option("--mb", bopt->megabytes, "Repeat the text up to this many MiB")->check(CLI::Range(0.001, 1024.0));
  bench->add_flag("--json", bopt->json, "One-line JSON");
  bench->callback([bopt] { set_exit_code(run_bench(*bopt)); });
});

}  // namespace
}  // namespace cpipe::cli

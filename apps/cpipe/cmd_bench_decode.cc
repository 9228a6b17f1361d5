// `cpipe bench decode`: GPT-2 decode speed against the memory-bandwidth floor measured in the
// same run. Decode at batch 1 streams every weight once per token, so the floor is the time to
// read that many bytes from memory with the same threads; the ratio decode/floor says how close
// the engine gets to the hardware.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "apps/cpipe/command_registry.h"
#include "model/gpt2.h"
#include "model/sampling.h"
#include "model/synth.h"

namespace cpipe::cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = size_t(p * double(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double peak_rss_mb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

struct BenchOptions {
  std::string model;
  std::string dtype = "fp32";
  std::string isa;
  int threads = 0;
  int tokens = 128;
  int prompt = 64;
  int warmup = 8;
  bool json = false;
};

struct StreamCtx {
  const model::KernelTable* k;
  const uint8_t* buf;
  size_t bytes;
  uint64_t sink[64];
};

// One pass over `bytes` with the pool's threads, in the same chunking as the matmuls
// (contiguous pieces claimed by whichever thread is free); returns milliseconds.
double floor_pass(model::ThreadPool& pool, StreamCtx& ctx) {
  auto t0 = Clock::now();
  pool.parallel_for(int64_t(ctx.bytes / 64), 16, [&ctx](int64_t b, int64_t e) {
    uint64_t v = ctx.k->stream_read(ctx.buf + b * 64, size_t(e - b) * 64);
    ctx.sink[(b / 16) % 64] ^= v;
  });
  return ms_since(t0);
}

int run_bench(const BenchOptions& o) {
  if (!o.isa.empty() && !model::set_kernel_isa(o.isa))
    return report_error(make_error(ErrorCode::NOT_SUPPORTED, "this CPU cannot run --isa " + o.isa), o.json);
  model::Gpt2Options opt;
  if (!model::weight_format_from_name(o.dtype, &opt.format))
    return report_error(make_error(ErrorCode::INVALID_ARGUMENT, "--dtype must be fp32, bf16 or int8"), o.json);
  opt.threads = o.threads;
  auto t_load = Clock::now();
  auto loaded = model::Gpt2Model::load(o.model, opt);
  if (!loaded.ok()) return report_error(loaded.status(), o.json);
  const double load_ms = ms_since(t_load);
  model::Gpt2Model& m = **loaded;
  if (!m.is_first() || !m.is_last())
    return report_error(make_error(ErrorCode::INTERNAL, "bench needs the whole model"), o.json);
  if (o.tokens < 1 || o.prompt < 1 || o.warmup < 0 ||
      o.prompt + o.warmup + o.tokens > m.config().n_positions)
    return report_error(make_error(ErrorCode::INVALID_ARGUMENT, "prompt + warmup + tokens must fit the context"),
                        o.json);

  std::vector<int32_t> prompt;
  model::SplitMix64 g(1);
  for (int i = 0; i < o.prompt; ++i) prompt.push_back(int32_t(g.next() % uint64_t(m.config().vocab_size)));
  auto seq = m.new_sequence();
  // One untimed prefill first (pages of the weights fault in), then the timed one.
  if (auto r = m.forward(*seq, prompt); !r.ok()) return report_error(r.status(), o.json);
  seq->reset();
  auto t_pre = Clock::now();
  auto pre = m.forward(*seq, prompt);
  if (!pre.ok()) return report_error(pre.status(), o.json);
  const double prefill_ms = ms_since(t_pre);
  int32_t tok = model::greedy_token(*pre);

  // Peak RSS of the engine itself, before the floor's buffer exists.
  const double rss = peak_rss_mb();
  const size_t bytes = (m.decode_weight_bytes() + 63) / 64 * 64;
  // The same kind of memory the converted weights live in.
  model::WeightMemory mem = model::allocate_weight_memory(bytes);
  std::memset(mem.get(), 1, bytes);
  model::ThreadPool pool(m.threads());
  StreamCtx ctx{&model::kernels(), mem.get(), bytes, {}};

  // Decode steps and floor passes alternate, so both see the same machine (other processes,
  // frequency) and both start with caches holding the other's data, as a real token does.
  std::vector<double> step_ms, floor_samples;
  step_ms.reserve(size_t(o.tokens));
  floor_samples.reserve(size_t(o.tokens));
  for (int i = 0; i < o.warmup + o.tokens; ++i) {
    auto t0 = Clock::now();
    auto r = m.forward(*seq, std::span<const int32_t>(&tok, 1));
    const double dt = ms_since(t0);
    if (!r.ok()) return report_error(r.status(), o.json);
    tok = model::greedy_token(*r);
    const double ft = floor_pass(pool, ctx);
    if (i >= o.warmup) {
      step_ms.push_back(dt);
      floor_samples.push_back(ft);
    }
  }
  volatile uint64_t keep = ctx.sink[0];
  (void)keep;
  const double floor = percentile(floor_samples, 0.5);

  const double med = percentile(step_ms, 0.5), p95 = percentile(step_ms, 0.95);
  double mean = 0;
  for (double v : step_ms) mean += v;
  mean /= double(step_ms.size());
  nlohmann::ordered_json j = {
      {"ok", true},
      {"model", o.model},
      {"dtype", o.dtype},
      {"isa", model::kernels().isa},
      {"threads", m.threads()},
      {"n_layer", m.config().n_layer},
      {"n_embd", m.config().n_embd},
      {"weight_bytes_per_token", m.decode_weight_bytes()},
      {"load_ms", load_ms},
      {"prompt_tokens", o.prompt},
      {"prefill_ms_per_token", prefill_ms / o.prompt},
      {"decode_tokens", o.tokens},
      {"decode_ms_median", med},
      {"decode_ms_p95", p95},
      {"decode_ms_mean", mean},
      {"decode_tokens_per_s", 1000.0 / med},
      {"floor_ms", floor},
      {"floor_gb_per_s", double(bytes) / floor / 1e6},
      {"ratio_decode_to_floor", med / floor},
      {"peak_rss_mb", rss},
  };
  std::cout << (o.json ? j.dump() : j.dump(2)) << std::endl;
  return kExitOk;
}

CommandRegistrar registrar([](CLI::App& root) {
  CLI::App* grp = group(root, "bench", "Benchmarks (JSON output; never timed assertions)");
  auto o = std::make_shared<BenchOptions>();
  CLI::App* c = grp->add_subcommand("decode", "GPT-2 prefill/decode speed vs the memory-bandwidth floor");
  c->add_option("--model", o->model, "Directory with config.json and model.safetensors")->required();
  c->add_option("--dtype", o->dtype, "Weight format: fp32, bf16, int8");
  c->add_option("--threads", o->threads, "Threads (default: one per CPU)");
  c->add_option("--tokens", o->tokens, "Decode tokens measured after warm-up (>= 64 for the report)");
  c->add_option("--prompt", o->prompt, "Prompt tokens for the prefill measurement");
  c->add_option("--warmup", o->warmup, "Decode tokens run before measuring");
  c->add_option("--isa", o->isa, "Force kernels: portable, avx2, avx512");
  c->add_flag("--json", o->json, "One JSON object on stdout");
  c->callback([o] { set_exit_code(run_bench(*o)); });
});

}  // namespace
}  // namespace cpipe::cli

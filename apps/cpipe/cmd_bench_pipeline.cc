// `cpipe bench pipeline --stages 1,2,3 --concurrency 1,2,4,8 --json`: the pipeline as real
// processes over encrypted loopback TCP (mock-dev attestation), measured in real time. Every
// stage count gets its own set of `cpipe stage` processes, all started up front; per-token decode
// latency is then measured INTERLEAVED — round after round, each round visiting every stage
// count (in a rotated order) and every mode — so machine drift hits all stage counts alike. The
// relay overhead per k is (median k-stage - median 1-stage) / median 1-stage, pooled and per
// round (with a bootstrap interval). The relay cost separates the hops from the compute: every
// stage reports the time its forward passes took, and what remains of a request's latency is
// channels, hops and relaying, compared round by round with the 1-stage pipeline. Then throughput (tokens/s) with p50/p99 token latency at each concurrency. Both modes:
// logits back to the orchestrator, and greedy in the last stage (only the token id comes back).
// Every stage process runs --threads model threads (default 1, the 1-stage baseline too): on a
// 2-core machine more would just fight over the cores.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "apps/cpipe/command_registry.h"
#include "apps/cpipe/local_pipeline.h"
#include "apps/cpipe/model_source.h"

namespace cpipe::cli {
namespace {

struct Options {
  std::string stages = "1,2,3";
  std::string concurrency = "1,2,4,8";
  std::string modes = "logits,greedy";
  std::string model_dir, preset = "124M", prompt_ids = "464,2068,7586,21831";
  int tokens = 32;
  int throughput_tokens = 16;
  int rounds = 10;
  int warmup_rounds = 3;
  int threads = 1;
  bool json = false;
  std::string stage_log;  // stage processes' stderr (default: /dev/null)
  std::vector<std::string> stage_args;  // passed to every `cpipe stage` (A/B of stage options)
};

Result<std::vector<int>> parse_list(const std::string& text, const char* flag) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 1 || v > 1000)
      return make_error(ErrorCode::INVALID_ARGUMENT, std::string(flag) + ": '" + item + "' is not a count");
    out.push_back(int(v));
  }
  if (out.empty()) return make_error(ErrorCode::INVALID_ARGUMENT, std::string(flag) + " is empty");
  return out;
}

// Other load on the machine while we measure (the first three /proc/loadavg fields).
std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

struct Pipeline {
  int stages = 0;
  pipeline::Manifest manifest;
  std::string manifest_path;
  std::vector<std::unique_ptr<ChildProcess>> children;
};

struct Series {
  std::vector<double> decode_ms;         // every decode step of every round
  std::vector<double> ttft_ms;
  std::vector<double> round_median_ms;   // one per round
  // One per round: the request's latency per generated token split into the stages' forward
  // passes (their own clocks, reported in pongs) and the rest — channels, hops, the host relay,
  // sampling, queueing. The rest is what a relay costs, without the compute's noise.
  std::vector<double> compute_ms_per_token;
  std::vector<double> other_ms_per_token;
  std::vector<std::vector<double>> stage_compute_ms_per_token;  // [stage][round]
  std::vector<int32_t> tokens;           // the last run's output (all must agree)
};

std::vector<double> stage_p50(const std::vector<std::vector<double>>& per_stage) {
  std::vector<double> out;
  for (const auto& v : per_stage) out.push_back(percentile(v, 50));
  return out;
}

// A 95% interval for the median of `v`: percentile bootstrap, fixed seed (the same data give the
// same interval).
std::pair<double, double> median_interval(const std::vector<double>& v) {
  if (v.size() < 2) return {percentile(v, 50), percentile(v, 50)};
  std::mt19937_64 rng(20261206);
  std::uniform_int_distribution<size_t> pick(0, v.size() - 1);
  std::vector<double> medians, sample(v.size());
  for (int b = 0; b < 2000; ++b) {
    for (double& x : sample) x = v[pick(rng)];
    medians.push_back(percentile(sample, 50));
  }
  return {percentile(medians, 2.5), percentile(medians, 97.5)};
}

nlohmann::ordered_json stats_json(const std::vector<double>& v) {
  double mean = 0;
  for (double x : v) mean += x;
  if (!v.empty()) mean /= double(v.size());
  return {{"p50", percentile(v, 50)}, {"p95", percentile(v, 95)}, {"p99", percentile(v, 99)},
          {"mean", mean},            {"samples", v.size()}};
}

int run(const Options& o) {
  auto stage_counts = parse_list(o.stages, "--stages");
  if (!stage_counts.ok()) return report_error(stage_counts.status(), o.json);
  auto concurrencies = parse_list(o.concurrency, "--concurrency");
  if (!concurrencies.ok()) return report_error(concurrencies.status(), o.json);
  std::vector<bool> greedy_modes;
  for (std::stringstream ss(o.modes); !ss.eof();) {
    std::string m;
    std::getline(ss, m, ',');
    if (m == "logits") greedy_modes.push_back(false);
    else if (m == "greedy") greedy_modes.push_back(true);
    else return report_error(make_error(ErrorCode::INVALID_ARGUMENT, "--modes: logits and/or greedy"), o.json);
  }
  auto dir = resolve_model_dir(o.model_dir, o.preset);
  if (!dir.ok()) return report_error(dir.status(), o.json);
  auto prompt = parse_token_ids(o.prompt_ids);
  if (!prompt.ok()) return report_error(prompt.status(), o.json);
  bool has_baseline = false;
  for (int k : *stage_counts) has_baseline = has_baseline || k == 1;

  // Every pipeline up front (they idle between their turns).
  std::vector<Pipeline> pipes;
  std::string stage_log = o.stage_log.empty() ? "/dev/null" : o.stage_log;
  auto cleanup = [&pipes] {
    for (auto& p : pipes) {
      stop_stages(p.children, 5000);
      std::remove(p.manifest_path.c_str());
    }
  };
  for (int k : *stage_counts) {
    Pipeline p;
    p.stages = k;
    LocalManifestOptions mo;
    mo.model_dir = *dir;
    mo.stages = k;
    auto m = make_local_manifest(mo);
    if (!m.ok()) {
      cleanup();
      return report_error(m.status(), o.json);
    }
    p.manifest = *m;
    p.manifest_path = "/tmp/cpipe-bench-" + std::to_string(::getpid()) + "-" + std::to_string(k) + ".json";
    Status w = write_text_file(p.manifest_path, m->to_json() + "\n");
    StageProcessOptions so;
    so.manifest_path = p.manifest_path;
    so.model_dir = *dir;
    so.threads = o.threads;
    so.stderr_path = stage_log;
    so.extra_args = o.stage_args;
    auto children = w.ok() ? spawn_stages(so, k, 180000) : Result<std::vector<std::unique_ptr<ChildProcess>>>(w);
    if (!children.ok()) {
      cleanup();
      return report_error(children.status(), o.json);
    }
    p.children = std::move(*children);
    pipes.push_back(std::move(p));
  }

  posix::PosixEnvOptions po;
  po.compute_threads = 1;
  po.min_event_level = EventLevel::kError;
  auto posix = posix::make_posix_env(po);
  Status failure;
  nlohmann::ordered_json out;
  {
    LocalClient client(*posix);
    auto one_run = [&](const Pipeline& p, bool greedy, int tokens, int concurrency) -> LocalRunReport {
      LocalRunOptions ro;
      ro.manifest = p.manifest;
      ro.prompt = *prompt;
      ro.max_new_tokens = tokens;
      ro.concurrency = concurrency;
      ro.greedy_in_last_stage = greedy;
      ro.step_timeout = std::chrono::seconds(60);
      LocalRunReport r = client.run(ro);
      if (!r.setup.ok() && failure.ok()) failure = r.setup;
      for (const auto& q : r.requests)
        if (!q.status.ok() && failure.ok()) failure = q.status;
      return r;
    };

    std::string load_before = loadavg();
    // Warm-up rounds, not recorded: weights paged in and settled (the processes started last
    // ran measurably slower for a few seconds in early runs), first handshakes done.
    for (int round = 0; round < o.warmup_rounds && failure.ok(); ++round)
      for (const Pipeline& p : pipes)
        for (bool g : greedy_modes) one_run(p, g, o.tokens, 1);

    // Interleaved latency rounds.
    std::map<std::pair<int, bool>, Series> series;
    for (int round = 0; round < o.rounds && failure.ok(); ++round) {
      for (size_t j = 0; j < pipes.size(); ++j) {
        const Pipeline& p = pipes[(j + size_t(round)) % pipes.size()];
        for (bool g : greedy_modes) {
          LocalRunReport r = one_run(p, g, o.tokens, 1);
          if (!r.all_ok()) continue;
          const auto& res = r.requests[0].result;
          Series& s = series[{p.stages, g}];
          std::vector<double> decode(res.token_ms.begin() + (res.token_ms.empty() ? 0 : 1), res.token_ms.end());
          s.decode_ms.insert(s.decode_ms.end(), decode.begin(), decode.end());
          s.ttft_ms.push_back(res.prompt_ms);
          s.round_median_ms.push_back(percentile(decode, 50));
          double total_ms = 0, compute_ms = 0;
          for (double t : res.token_ms) total_ms += t;
          for (const auto& w : r.stage_work) compute_ms += double(w.compute_us) / 1000.0;
          if (!r.stage_work.empty() && !res.tokens.empty()) {
            double n = double(res.tokens.size());
            s.compute_ms_per_token.push_back(compute_ms / n);
            s.other_ms_per_token.push_back((total_ms - compute_ms) / n);
            s.stage_compute_ms_per_token.resize(r.stage_work.size());
            for (size_t i = 0; i < r.stage_work.size(); ++i)
              s.stage_compute_ms_per_token[i].push_back(double(r.stage_work[i].compute_us) / 1000.0 / n);
          }
          s.tokens = res.tokens;
        }
      }
    }

    out["bench"] = "pipeline";
    out["model_dir"] = *dir;
    if (o.model_dir.empty()) out["preset"] = o.preset;
    out["attestation"] = "mock-dev (DEVELOPMENT ONLY)";
    out["transport"] = "tcp loopback, attested secure channel (ChaCha20-Poly1305 records)";
    out["cpus"] = std::thread::hardware_concurrency();
    out["threads_per_stage_process"] = o.threads;
    out["stage_args"] = o.stage_args;
    out["threads_note"] = "every stage process (the 1-stage baseline too) runs the model on this many threads, "
                          "plus one event-loop thread; the orchestrator is a separate process";
    out["prompt_ids"] = *prompt;
    out["decode_tokens_per_run"] = o.tokens;
    out["rounds"] = o.rounds;
    out["warmup_rounds"] = o.warmup_rounds;
    out["interleaved"] = true;
    out["loadavg_before"] = load_before;
    out["loadavg_after_latency"] = loadavg();
    auto& lat = out["latency"] = nlohmann::ordered_json::array();
    bool same_tokens = true;
    const std::vector<int32_t>* reference = nullptr;
    for (const auto& [key, s] : series) {
      lat.push_back({{"stages", key.first},
                     {"mode", key.second ? "greedy_in_last_stage" : "logits"},
                     {"decode_ms", stats_json(s.decode_ms)},
                     {"ttft_ms", stats_json(s.ttft_ms)},
                     {"round_median_ms", s.round_median_ms},
                     {"compute_ms_per_token", stats_json(s.compute_ms_per_token)},
                     {"non_compute_ms_per_token", stats_json(s.other_ms_per_token)},
                     {"stage_compute_ms_per_token_p50", stage_p50(s.stage_compute_ms_per_token)},
                     {"tokens", s.tokens}});
      if (!reference) reference = &s.tokens;
      same_tokens = same_tokens && s.tokens == *reference;
    }
    out["tokens_identical_across_runs"] = same_tokens;
    auto& over = out["relay_overhead"] = nlohmann::ordered_json::array();
    if (has_baseline) {
      for (const auto& [key, s] : series) {
        if (key.first == 1) continue;
        const Series& base = series[{1, key.second}];
        double b = percentile(base.decode_ms, 50), v = percentile(s.decode_ms, 50);
        double best_b = base.round_median_ms.empty() ? 0 : percentile(base.round_median_ms, 0);
        double best_v = s.round_median_ms.empty() ? 0 : percentile(s.round_median_ms, 0);
        std::vector<double> paired;
        for (size_t r = 0; r < std::min(base.round_median_ms.size(), s.round_median_ms.size()); ++r)
          paired.push_back((s.round_median_ms[r] - base.round_median_ms[r]) / base.round_median_ms[r]);
        auto [paired_lo, paired_hi] = median_interval(paired);
        // The relay's own cost: extra non-compute time per token over the 1-stage pipeline, as a
        // share of the 1-stage decode latency (paired by round, then the median).
        std::vector<double> hop;
        for (size_t r = 0; r < std::min(base.other_ms_per_token.size(), s.other_ms_per_token.size()); ++r)
          hop.push_back(s.other_ms_per_token[r] - base.other_ms_per_token[r]);
        auto [hop_lo, hop_hi] = median_interval(hop);
        double hop_ms = percentile(hop, 50);
        over.push_back({{"stages", key.first},
                        {"mode", key.second ? "greedy_in_last_stage" : "logits"},
                        {"overhead", b > 0 ? (v - b) / b : 0.0},
                        {"overhead_pct", b > 0 ? 100.0 * (v - b) / b : 0.0},
                        {"per_round_overhead", paired},
                        {"per_round_overhead_median", percentile(paired, 50)},
                        {"per_round_overhead_median_95ci", {paired_lo, paired_hi}},
                        {"relay_cost_ms_per_token", hop_ms},
                        {"relay_cost_ms_per_token_95ci", {hop_lo, hop_hi}},
                        {"relay_cost_pct", b > 0 ? 100.0 * hop_ms / b : 0.0},
                        {"relay_cost_pct_95ci", {b > 0 ? 100.0 * hop_lo / b : 0.0, b > 0 ? 100.0 * hop_hi / b : 0.0}},
                        // The least disturbed round of each: robust to other load on a shared box.
                        {"best_round_overhead", best_b > 0 ? (best_v - best_b) / best_b : 0.0},
                        {"definition", "overhead: (median k-stage decode ms - median 1-stage) / median 1-stage; "
                                       "relay_cost: per round, (k-stage - 1-stage) request latency per token "
                                       "not spent in the stages' forward passes, median over rounds, "
                                       "as a share of the median 1-stage decode ms"}});
      }
    }

    // Throughput at each concurrency: C sessions at once, one request each.
    auto& thr = out["throughput"] = nlohmann::ordered_json::array();
    for (const Pipeline& p : pipes) {
      for (bool g : greedy_modes) {
        for (int c : *concurrencies) {
          if (!failure.ok()) break;
          LocalRunReport r = one_run(p, g, o.throughput_tokens, c);
          if (!r.all_ok()) continue;
          std::vector<double> decode, ttft;
          uint64_t tokens = 0;
          for (const auto& q : r.requests) {
            tokens += q.result.tokens.size();
            ttft.push_back(q.result.prompt_ms);
            if (q.result.token_ms.size() > 1)
              decode.insert(decode.end(), q.result.token_ms.begin() + 1, q.result.token_ms.end());
          }
          thr.push_back({{"stages", p.stages},
                         {"mode", g ? "greedy_in_last_stage" : "logits"},
                         {"concurrency", c},
                         {"tokens", tokens},
                         {"wall_ms", r.wall_ms},
                         {"tokens_per_s", r.wall_ms > 0 ? double(tokens) * 1000.0 / r.wall_ms : 0.0},
                         {"token_p50_ms", percentile(decode, 50)},
                         {"token_p99_ms", percentile(decode, 99)},
                         {"ttft_p50_ms", percentile(ttft, 50)}});
        }
      }
    }
    out["throughput_tokens_per_request"] = o.throughput_tokens;
  }
  bool clean = true;
  for (auto& p : pipes) {
    clean = stop_stages(p.children, 5000) && clean;
    std::remove(p.manifest_path.c_str());
  }
  if (!failure.ok()) return report_error(failure, o.json);
  out["ok"] = true;
  out["stages_exited_cleanly"] = clean;
  std::cout << out.dump(2) << std::endl;
  return kExitOk;
}

const CommandRegistrar kRegistrar([](CLI::App& root) {
  CLI::App* grp = group(root, "bench", "Benchmarks (JSON output; never timed assertions)");
  auto opt = std::make_shared<Options>();
  CLI::App* c = grp->add_subcommand("pipeline", "Pipeline stage processes over encrypted loopback TCP: latency, relay overhead, throughput");
  c->add_option("--stages", opt->stages, "Stage counts, e.g. 1,2,3 (include 1 for the overhead)");
  c->add_option("--concurrency", opt->concurrency, "Concurrent sessions for the throughput part, e.g. 1,2,4,8");
  c->add_option("--modes", opt->modes, "logits and/or greedy (greedy in the last stage)");
  c->add_option("--model", opt->model_dir, "Model directory (default: the synthesized --preset)");
  c->add_option("--preset", opt->preset, "Synthesized model when no --model: tiny or 124M");
  c->add_option("--prompt-ids", opt->prompt_ids, "Prompt token ids");
  c->add_option("--tokens", opt->tokens, "Tokens per latency run")->check(CLI::Range(2, 1000));
  c->add_option("--throughput-tokens", opt->throughput_tokens, "Tokens per request in the throughput part")->check(CLI::Range(1, 1000));
  c->add_option("--rounds", opt->rounds, "Interleaved latency rounds")->check(CLI::Range(1, 1000));
  c->add_option("--warmup-rounds", opt->warmup_rounds, "Unrecorded rounds first")->check(CLI::Range(0, 1000));
  c->add_option("--threads", opt->threads, "Model threads in every stage process")->check(CLI::Range(1, 64));
  c->add_option("--stage-arg", opt->stage_args,
                 "Extra argument for every stage process (repeatable), e.g. --stage-arg=--no-inline-decode");
  c->add_option("--stage-log", opt->stage_log, "Append the stage processes' stderr here (default: discarded)");
  c->add_flag("--json", opt->json, "JSON output (the only format)");
  c->callback([opt] { set_exit_code(run(*opt)); });
});

}  // namespace
}  // namespace cpipe::cli

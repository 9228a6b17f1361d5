// `cpipe sim run FILE [--seed N | --seeds A..B] [--json] [--trace OUT]` and
// `cpipe sim shrink FILE --seed N --out MIN.yaml`: YAML scenarios (docs/scenarios.md) run
// deterministically per seed, with the trace hash per seed, the exact replay command of a failing
// seed, a sweep's failures by invariant and its speed; and the reduction of a failing seed to a
// smallest scenario that still fails the same way.
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "apps/cpipe/command_registry.h"
#include "apps/cpipe/scenario_run.h"
#include "apps/cpipe/scenario_shrink.h"

namespace cpipe::cli {
namespace {

struct RunOptions {
  std::string file, seeds, trace;
  uint64_t seed = 1;
  bool json = false;
  bool verbose = false;
};

Result<std::pair<uint64_t, uint64_t>> parse_seeds(const std::string& text) {
  auto dots = text.find("..");
  try {
    if (dots == std::string::npos) throw std::invalid_argument(text);
    size_t used_a = 0, used_b = 0;
    uint64_t a = std::stoull(text.substr(0, dots), &used_a);
    uint64_t b = std::stoull(text.substr(dots + 2), &used_b);
    if (used_a != dots || used_b != text.size() - dots - 2 || b < a) throw std::invalid_argument(text);
    return std::make_pair(a, b);
  } catch (const std::exception&) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "--seeds wants A..B with A <= B, e.g. 1..200");
  }
}

nlohmann::ordered_json seed_json(const ScenarioSeedResult& r, const std::string& file) {
  nlohmann::ordered_json j;
  j["seed"] = r.seed;
  j["ok"] = r.ok();
  j["trace_hash"] = r.report.trace_hash;
  j["virtual_ms"] = r.report.virtual_ms;
  auto& faults = j["faults"] = nlohmann::ordered_json::array();
  for (const SimFault& f : r.faults) faults.push_back(describe_fault(f));
  auto& outcomes = j["requests"] = nlohmann::ordered_json::array();
  for (const auto& q : r.report.requests) outcomes.push_back(q.code);
  j["pipeline_failures"] = r.report.pipeline_failures;
  j["retries"] = r.report.retries;
  if (r.report.sealed) {
    // The key delivery's view: KMS calls, the clients' retries, and injected service errors.
    j["kms_requests"] = r.report.kms_requests;
    j["kms_retries"] = r.report.kms_retries;
    j["s3_retries"] = r.report.s3_retries;
    j["service_errors"] = r.report.service_errors;
  }
  auto& v = j["violations"] = nlohmann::ordered_json::array();
  for (const auto& x : r.violations) v.push_back({{"invariant", x.invariant}, {"detail", x.detail}});
  if (!r.ok()) j["replay"] = replay_command(file, r.seed);
  return j;
}

int run(const RunOptions& opt) {
  auto scenario = load_scenario(opt.file);
  if (!scenario.ok()) return report_error(scenario.status(), opt.json);
  uint64_t first = opt.seed, last = opt.seed;
  if (!opt.seeds.empty()) {
    auto range = parse_seeds(opt.seeds);
    if (!range.ok()) return report_error(range.status(), opt.json);
    std::tie(first, last) = *range;
  }
  std::ofstream trace;
  if (!opt.trace.empty()) {
    if (first != last)
      return report_error(make_error(ErrorCode::INVALID_ARGUMENT, "--trace records one seed: use --seed"), opt.json);
    trace.open(opt.trace, std::ios::binary | std::ios::trunc);
    if (!trace) return report_error(make_error(ErrorCode::IO_ERROR, "cannot write " + opt.trace), opt.json);
  }
  auto start = std::chrono::steady_clock::now();
  std::map<std::string, int> by_invariant;
  std::vector<uint64_t> failing;
  nlohmann::ordered_json seeds = nlohmann::ordered_json::array();
  if (!opt.json)
    std::cout << "cpipe sim run " << opt.file << (scenario->name.empty() ? "" : " (" + scenario->name + ")")
              << ": seeds " << first << ".." << last << "\n";
  for (uint64_t seed = first; seed <= last; ++seed) {
    auto r = run_scenario_seed(*scenario, seed, trace.is_open() ? &trace : nullptr);
    if (!r.ok()) return report_error(r.status(), opt.json);
    std::set<std::string> hit;
    for (const auto& v : r->violations) hit.insert(v.invariant);
    for (const std::string& name : hit) ++by_invariant[name];
    if (!r->ok()) failing.push_back(seed);
    if (opt.json) {
      seeds.push_back(seed_json(*r, opt.file));
      continue;
    }
    if (r->ok() && first != last && !opt.verbose) continue;
    std::cout << "  seed " << seed << ": " << (r->ok() ? "ok" : "FAIL") << "  trace " << r->report.trace_hash
              << "  virtual " << r->report.virtual_ms << " ms\n";
    if (opt.verbose || first == last) {
      for (const SimFault& f : r->faults) std::cout << "    fault: " << describe_fault(f) << "\n";
      for (size_t i = 0; i < r->report.requests.size(); ++i)
        std::cout << "    request " << i << ": " << r->report.requests[i].status << "\n";
    }
    for (const auto& v : r->violations) std::cout << "    violated " << v.invariant << ": " << v.detail << "\n";
    if (!r->ok()) std::cout << "    replay: " << replay_command(opt.file, seed) << "\n";
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t n = last - first + 1;
  double per_s = elapsed > 0 ? double(n) / elapsed : 0;
  if (opt.json) {
    nlohmann::ordered_json j;
    j["ok"] = failing.empty();
    j["scenario"] = opt.file;
    j["name"] = scenario->name;
    j["invariants"] = checked_invariants(*scenario);
    j["seeds"] = std::move(seeds);
    auto& sum = j["summary"];
    sum["seeds"] = n;
    sum["passed"] = n - failing.size();
    sum["failed"] = failing.size();
    sum["by_invariant"] = by_invariant;
    sum["failing_seeds"] = failing;
    if (!failing.empty()) sum["replay"] = replay_command(opt.file, failing.front());
    j["elapsed_s"] = elapsed;
    j["seeds_per_s"] = per_s;
    std::cout << j.dump(2) << std::endl;
  } else {
    std::cout << "  " << n << " seeds, " << n - failing.size() << " passed, " << failing.size() << " failed";
    for (const auto& [name, count] : by_invariant) std::cout << "; " << name << ": " << count;
    std::cout << "\n  " << elapsed << " s, " << per_s << " seeds/s\n";
    if (!failing.empty()) std::cout << "  first failure: " << replay_command(opt.file, failing.front()) << "\n";
  }
  return failing.empty() ? kExitOk : kExitFailure;
}

struct ShrinkOptions {
  std::string file, out;
  uint64_t seed = 1;
  bool json = false;
};

int shrink(const ShrinkOptions& opt) {
  auto scenario = load_scenario(opt.file);
  if (!scenario.ok()) return report_error(scenario.status(), opt.json);
  auto progress = [&](const std::string& step) {
    if (!opt.json) std::cout << "  kept: " << step << "\n";
  };
  if (!opt.json) std::cout << "cpipe sim shrink " << opt.file << " --seed " << opt.seed << "\n";
  auto r = shrink_scenario(*scenario, opt.seed, progress);
  if (!r.ok()) return report_error(r.status(), opt.json);
  std::string yaml = scenario_to_yaml(r->minimal);
  std::ofstream out(opt.out, std::ios::binary | std::ios::trunc);
  if (!(out << yaml))
    return report_error(make_error(ErrorCode::IO_ERROR, "cannot write " + opt.out), opt.json);
  out.close();
  const auto& v = r->final.violations;
  std::string detail;
  for (const auto& x : v)
    if (x.invariant == r->invariant) detail = x.detail;
  if (opt.json) {
    nlohmann::ordered_json j;
    j["ok"] = true;
    j["invariant"] = r->invariant;
    j["detail"] = detail;
    j["out"] = opt.out;
    j["runs"] = r->runs;
    j["steps"] = r->steps;
    j["faults_before"] = r->original.faults.size();
    j["faults_after"] = r->minimal.faults.size();
    j["requests_before"] = scenario->requests.size();
    j["requests_after"] = r->minimal.requests.size();
    j["stages_before"] = scenario->stages;
    j["stages_after"] = r->minimal.stages;
    j["replay"] = replay_command(opt.out, opt.seed);
    std::cout << j.dump(2) << std::endl;
  } else {
    std::cout << "  still fails " << r->invariant << ": " << detail << "\n"
              << "  " << r->original.faults.size() << " -> " << r->minimal.faults.size() << " faults, "
              << scenario->requests.size() << " -> " << r->minimal.requests.size() << " requests, "
              << scenario->stages << " -> " << r->minimal.stages << " stages, " << r->runs << " runs\n"
              << "  wrote " << opt.out << "; replay: " << replay_command(opt.out, opt.seed) << "\n";
  }
  return kExitOk;
}

const CommandRegistrar kRegistrar([](CLI::App& root) {
  CLI::App* sim = group(root, "sim", "Deterministic simulations");
  auto ro = std::make_shared<RunOptions>();
  CLI::App* cmd = sim->add_subcommand("run", "Run a YAML scenario for one seed or a range, checking its invariants");
  cmd->add_option("file", ro->file, "Scenario file (docs/scenarios.md)")->required();
  auto* seed = cmd->add_option("--seed", ro->seed, "One seed");
  cmd->add_option("--seeds", ro->seeds, "A range of seeds: A..B")->excludes(seed);
  cmd->add_option("--trace", ro->trace, "Write the run's trace as JSON lines (one seed)");
  cmd->add_flag("--json", ro->json, "Machine-readable output");
  cmd->add_flag("--verbose", ro->verbose, "Print every seed of a sweep, with its faults and requests");
  cmd->callback([ro] { set_exit_code(run(*ro)); });

  auto so = std::make_shared<ShrinkOptions>();
  CLI::App* sh = sim->add_subcommand("shrink", "Reduce a failing seed's scenario to a smallest one that fails alike");
  sh->add_option("file", so->file, "Scenario file")->required();
  sh->add_option("--seed", so->seed, "The failing seed")->required();
  sh->add_option("--out", so->out, "Where to write the minimal scenario")->required();
  sh->add_flag("--json", so->json, "Machine-readable output");
  sh->callback([so] { set_exit_code(shrink(*so)); });
});

}  // namespace
}  // namespace cpipe::cli

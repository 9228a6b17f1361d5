// One seed of a scenario (scenario_run.h): swarm draws, options, the fault-free reference
// (cached per process: it depends only on the model, the prompt and the token count), the run,
// and the invariant checks.
#include "apps/cpipe/scenario_run.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "apps/cpipe/model_source.h"
#include "apps/cpipe/scenario_receipts.h"
#include "backends/simulated/sim_random.h"

namespace cpipe::cli {
namespace {

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

std::string ids_text(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ' ';
    s += std::to_string(ids[i]);
  }
  return s;
}

Result<std::string> model_dir_of(const Scenario& s) {
  static std::map<std::string, std::string> cache;
  std::string key = s.model_path + "|" + s.model_preset + "|" + std::to_string(s.model_seed);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  CPIPE_ASSIGN_OR_RETURN(std::string dir, resolve_model_dir(s.model_path, s.model_preset, s.model_seed));
  cache[key] = dir;
  return dir;
}

// The fault-free answer to one request: a world of its own with nothing else in it, so neither
// faults nor other requests (a KV cache that leaks between them) can touch it.
Result<std::vector<int32_t>> reference_tokens(const Scenario& s, const SimWorkItem& item) {
  static std::map<std::string, std::vector<int32_t>> cache;
  CPIPE_ASSIGN_OR_RETURN(std::string dir, model_dir_of(s));
  std::string key = dir + "|" + ids_text(item.prompt) + "|" + std::to_string(item.max_new_tokens);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  SimPipelineOptions o;
  o.model_dir = dir;
  o.stages = 1;
  o.seed = 1;
  o.workload = {{0, item.prompt, item.max_new_tokens, 0, ""}};
  o.cost_per_layer_token_ms = s.compute_ms_per_layer_token;
  CPIPE_ASSIGN_OR_RETURN(SimPipelineReport r, run_sim_pipeline(o));
  if (r.requests.size() != 1 || r.requests[0].code != "OK")
    return make_error(ErrorCode::SIM_INVARIANT_VIOLATED,
                      "the fault-free reference run failed: " +
                          (r.requests.empty() ? std::string("no request") : r.requests[0].status));
  cache[key] = r.requests[0].tokens;
  return r.requests[0].tokens;
}

double draw_ms(runtime::Random& r, double lo, double hi) {
  return double(r.uniform_range(int64_t(lo * 1000), int64_t(hi * 1000))) / 1000;
}

}  // namespace

std::vector<SimFault> swarm_faults(const Scenario& s, uint64_t seed) {
  std::vector<SimFault> out;
  if (!s.swarm || s.swarm->kinds.empty()) return out;
  auto rng = sim::SimRandom(seed).fork("scenario.swarm");
  sim::SimRandom& r = *rng;
  // Swarm testing: each seed turns on a random subset of the kinds (at least one), so some
  // seeds hammer one kind of fault and others mix them.
  std::vector<FaultKind> on;
  for (FaultKind k : s.swarm->kinds)
    if (r.chance(1, 2)) on.push_back(k);
  if (on.empty()) on.push_back(s.swarm->kinds[r.uniform(s.swarm->kinds.size())]);
  int forwards = 0;
  for (const SimWorkItem& item : s.requests) forwards += item.max_new_tokens;
  int n = 1 + int(r.uniform(uint64_t(s.swarm->max_faults)));
  for (int i = 0; i < n; ++i) {
    SimFault f;
    f.kind = on[r.uniform(on.size())];
    f.stage = int(r.uniform(uint64_t(s.stages)));
    bool clock = f.kind == FaultKind::kClockSkew || f.kind == FaultKind::kClockJump;
    if (clock && r.chance(1, 3)) f.stage = -1;
    if (f.stage >= 0 && r.chance(1, 2)) f.after_forwards = 1 + int(r.uniform(uint64_t(std::max(1, forwards))));
    else f.at_ms = draw_ms(r, 0, s.swarm->window_ms);
    switch (f.kind) {
      case FaultKind::kKill:
        f.duration_ms = r.chance(1, 8) ? -1 : draw_ms(r, 10, 2000);
        // Sealed: sometimes while the stage's KMS call is in flight (drawn only when sealed, so
        // unsealed scenarios keep their draws).
        if (s.sealed && r.chance(1, 3)) {
          f.at_ms.reset();
          f.after_forwards.reset();
          f.during = FaultEvent::kKmsCall;
        }
        break;
      case FaultKind::kPartition:
      case FaultKind::kStall:
        f.duration_ms = draw_ms(r, 10, 1500);
        f.direction = LinkDirection(r.uniform(3));
        break;
      case FaultKind::kReset:
        break;
      case FaultKind::kLinkLatency:
        f.latency_ms = draw_ms(r, 0.1, 100);
        f.jitter_ms = draw_ms(r, 0, 50);
        f.duration_ms = draw_ms(r, 50, 3000);
        break;
      case FaultKind::kBandwidth:
        f.bandwidth_bytes_per_s = uint64_t(r.uniform_range(10'000, 10'000'000));
        f.duration_ms = draw_ms(r, 50, 3000);
        break;
      case FaultKind::kTamper:
        f.action = kAllTamperActions[r.uniform(std::size(kAllTamperActions))];
        f.channel = TamperChannel(r.uniform(3));
        f.count = 1 + int(r.uniform(3));
        f.skip_segments = int(r.uniform(4));
        f.duration_ms = -1;
        break;
      case FaultKind::kClockSkew:
        f.skew_ppm = r.uniform_range(-5000, 5000);
        f.duration_ms = r.chance(1, 2) ? -1 : draw_ms(r, 100, 5000);
        break;
      case FaultKind::kClockJump:
        // From a second to a day, either way: enough to push evidence out of its freshness
        // window or certificates out of their validity.
        f.jump_ms = double(r.uniform_range(1000, 86'400'000)) * (r.chance(1, 2) ? 1 : -1);
        f.duration_ms = r.chance(1, 2) ? -1 : draw_ms(r, 100, 5000);
        break;
      case FaultKind::kNsmFail:
        f.duration_ms = draw_ms(r, 10, 3000);
        break;
      case FaultKind::kKmsThrottle:  // never drawn (the parser refuses it in swarm kinds)
        break;
      case FaultKind::kKmsError:
      case FaultKind::kS3Error: {
        // A burst of `count` calls from a time, or every call in a window; any error the real
        // service sends, final ones (AccessDenied, NoSuchKey...) included: those must end in an
        // explicit refusal, never a hang.
        const auto& specs = f.kind == FaultKind::kKmsError ? kms_error_specs() : s3_error_specs();
        f.stage = f.kind == FaultKind::kKmsError ? kFaultNodeKms : kFaultNodeS3;
        f.after_forwards.reset();
        f.at_ms = draw_ms(r, 0, s.swarm->window_ms);
        f.error = std::string(specs[r.uniform(specs.size())].code);
        if (r.chance(1, 2)) {
          f.count = 1 + int(r.uniform(4));
          f.duration_ms = -1;
        } else {
          f.count = 0;
          f.duration_ms = draw_ms(r, 10, 1500);
        }
        break;
      }
    }
    out.push_back(f);
  }
  return out;
}

std::vector<std::string> checked_invariants(const Scenario& s) {
  std::vector<std::string> out = s.expect.invariants;
  if (out.empty())
    out = {"run_completes", "explicit_outcome", "outputs_match_reference", "no_plaintext_on_host",
           "only_pinned_enclaves"};
  auto add = [&](const char* name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  if (s.expect.all_ok) add("all_ok");
  if (!s.expect.outcomes.empty()) add("outcome_counts");
  if (s.expect.recovery_within_ms) add("recovery_bound");
  if (s.expect.max_ttft_ms || s.expect.max_token_ms || s.expect.max_virtual_ms) add("latency_bounds");
  if (s.expect.min_pipeline_failures > 0) add("failures_detected");
  if (s.receipts) add("receipts_verify");
  return out;
}

Result<SimPipelineOptions> scenario_options(const Scenario& s, uint64_t seed, std::vector<SimFault> faults) {
  SimPipelineOptions o;
  o.seed = seed;
  CPIPE_ASSIGN_OR_RETURN(o.model_dir, model_dir_of(s));
  o.stages = s.stages;
  o.platform = s.platform;
  o.layer_ranges = s.layer_ranges;
  o.workload = s.requests;
  o.session_limit = s.session_limit;
  o.greedy_in_last_stage = s.greedy_in_last_stage;
  if (s.rogue_stage && (*s.rogue_stage < 0 || *s.rogue_stage >= s.stages))
    return make_error(ErrorCode::INVALID_ARGUMENT, "rogue_stage is not a stage");
  o.rogue_stage = s.rogue_stage;
  o.sealed = s.sealed;
  o.receipts = s.receipts;
  for (const SimFault& f : faults)
    if (f.kind == FaultKind::kKmsThrottle) o.kms_throttle += f.count;
  o.cost_per_layer_token_ms = s.compute_ms_per_layer_token;
  o.nsm_latency = s.nsm_ms;
  double one_way = s.link_rtt_ms / 2;
  o.link_latency = SimLatencyMs{one_way, one_way + s.link_jitter_ms / 2, one_way + s.link_jitter_ms * 0.99,
                                one_way + s.link_jitter_ms};
  o.link_bandwidth_bytes_per_s = s.link_bandwidth_bytes_per_s;
  o.recovery_timeout_ms = s.recovery_timeout_ms;
  o.max_attempts = s.max_attempts;
  o.max_virtual_ms = s.max_virtual_ms;
  o.faults = std::move(faults);
  return o;
}

Result<Scenario> resolve_text_prompts(const Scenario& s) {
  Scenario out = s;
  std::shared_ptr<const model::BpeTokenizer> tokenizer;
  for (SimWorkItem& item : out.requests) {
    if (item.prompt_text.empty() || !item.prompt.empty()) continue;
    if (!tokenizer) {
      // Loaded once per model directory and process: a sweep resolves the same prompts per seed.
      static std::map<std::string, std::shared_ptr<const model::BpeTokenizer>> loaded;
      CPIPE_ASSIGN_OR_RETURN(std::string dir, model_dir_of(s));
      if (auto it = loaded.find(dir); it != loaded.end()) {
        tokenizer = it->second;
      } else {
        auto found = find_tokenizer("", dir);
        if (!found.ok())
          return make_error(found.status().code(), "a text prompt needs the model's tokenizer: " + found.status().message());
        tokenizer = loaded[dir] = *found;
      }
    }
    for (auto id : tokenizer->encode(item.prompt_text)) item.prompt.push_back(int32_t(id));
    if (item.prompt.empty()) return make_error(ErrorCode::INVALID_ARGUMENT, "the prompt '" + item.prompt_text + "' has no tokens");
  }
  return out;
}

Result<ScenarioSeedResult> run_scenario_seed(const Scenario& given, uint64_t seed, std::ostream* trace) {
  CPIPE_ASSIGN_OR_RETURN(const Scenario s, resolve_text_prompts(given));
  ScenarioSeedResult out;
  out.seed = seed;
  out.faults = s.faults;
  for (SimFault& f : swarm_faults(s, seed)) out.faults.push_back(f);
  CPIPE_ASSIGN_OR_RETURN(SimPipelineOptions o, scenario_options(s, seed, out.faults));
  o.trace_out = trace;
  std::vector<std::string> checks = checked_invariants(s);
  auto checking = [&](const char* name) { return std::find(checks.begin(), checks.end(), name) != checks.end(); };
  auto violate = [&](const char* name, std::string detail) {
    if (checking(name)) out.violations.push_back({name, std::move(detail)});
  };

  auto run = run_sim_pipeline(o);
  if (!run.ok()) {
    // A scenario that the simulator refuses is a set-up error; one that never ends is a hang.
    if (run.status().code() == ErrorCode::SIM_LIMIT_EXCEEDED) {
      violate("run_completes", run.status().to_string());
      return out;
    }
    return run.status();
  }
  out.report = std::move(*run);
  const SimPipelineReport& r = out.report;

  std::map<std::string, int> codes;
  for (size_t i = 0; i < r.requests.size(); ++i) {
    const SimPipelineRequest& q = r.requests[i];
    const SimWorkItem& item = s.requests[i];
    std::string who = "request " + std::to_string(i) + " (session " + std::to_string(item.session) + ")";
    ++codes[q.code.empty() ? "<unfinished>" : q.code];
    if (q.code.empty() || q.code == "INTERNAL" || q.code == "UNKNOWN")
      violate("explicit_outcome", who + " ended without an explicit outcome: '" + q.status + "'");
    else if (q.code != "OK" && !q.tokens.empty())
      violate("explicit_outcome", who + " failed (" + q.code + ") but returned " +
                                      std::to_string(q.tokens.size()) + " tokens");
    if (q.code == "OK" && checking("outputs_match_reference")) {
      CPIPE_ASSIGN_OR_RETURN(std::vector<int32_t> want, reference_tokens(s, item));
      if (q.tokens != want)
        violate("outputs_match_reference", who + " returned [" + ids_text(q.tokens) +
                                               "], the fault-free run [" + ids_text(want) + "]");
    }
    if (q.code != "OK") violate("all_ok", who + ": " + q.status);
    if (q.code == "OK" && s.expect.max_ttft_ms && !q.token_ms.empty() && q.token_ms[0] > *s.expect.max_ttft_ms)
      violate("latency_bounds", who + " TTFT " + fmt(q.token_ms[0]) + " ms > " + fmt(*s.expect.max_ttft_ms));
    if (q.code == "OK" && s.expect.max_token_ms)
      for (size_t t = 1; t < q.token_ms.size(); ++t)
        if (q.token_ms[t] > *s.expect.max_token_ms) {
          violate("latency_bounds", who + " token " + std::to_string(t) + " took " + fmt(q.token_ms[t]) +
                                        " ms > " + fmt(*s.expect.max_token_ms));
          break;
        }
  }
  if (r.host_saw_plaintext) violate("no_plaintext_on_host", "the host's recording holds prompt ids or activations");
  if (checking("receipts_verify")) {
    auto signers = receipt_signer_evidence(r);
    if (!signers.ok()) violate("receipts_verify", "stage 0's evidence does not verify: " + signers.status().to_string());
    for (size_t i = 0; i < r.requests.size() && signers.ok(); ++i) {
      if (r.requests[i].code != "OK") continue;
      Status st = check_request_receipt(r, *signers, s.requests[i], r.requests[i]);
      if (!st.ok()) violate("receipts_verify", "request " + std::to_string(i) + ": " + st.to_string());
    }
  }
  if (s.expect.max_virtual_ms && r.virtual_ms > *s.expect.max_virtual_ms)
    violate("latency_bounds", "the run took " + fmt(r.virtual_ms) + " ms > " + fmt(*s.expect.max_virtual_ms));
  if (!s.expect.outcomes.empty()) {
    std::set<std::string> names;
    for (const auto& [c, n] : codes) names.insert(c);
    for (const auto& [c, n] : s.expect.outcomes) names.insert(c);
    for (const std::string& c : names) {
      int want = s.expect.outcomes.count(c) ? s.expect.outcomes.at(c) : 0;
      int got = codes.count(c) ? codes.at(c) : 0;
      if (want != got)
        violate("outcome_counts", c + ": " + std::to_string(got) + " requests, expected " + std::to_string(want));
    }
  }
  if (s.expect.recovery_within_ms) {
    if (r.recovery_ms > *s.expect.recovery_within_ms)
      violate("recovery_bound", "recovery took " + fmt(r.recovery_ms) + " ms > " + fmt(*s.expect.recovery_within_ms));
    bool failed = false;
    for (const SimPipelineRequest& q : r.requests) failed = failed || (q.code != "OK" && q.code != "RESOURCE_EXHAUSTED");
    if (r.unrecovered_breaks > 0 && failed)
      violate("recovery_bound", std::to_string(r.unrecovered_breaks) + " pipeline break(s) never recovered");
  }
  if (s.expect.min_pipeline_failures > 0 && r.pipeline_failures < uint64_t(s.expect.min_pipeline_failures))
    violate("failures_detected", std::to_string(r.pipeline_failures) + " pipeline failures, expected at least " +
                                     std::to_string(s.expect.min_pipeline_failures));
  // Each tampering must be caught by the record layer itself (bad tag, gap, replay, ...), not
  // merely by a timeout later: one integrity failure per tamper fault that altered bytes while
  // requests were still running (bytes altered during shutdown may never be read).
  int effective = 0;
  for (double t : r.tamper_first_ms) effective += r.work_done_ms < 0 || t < r.work_done_ms;
  if (r.integrity_failures < effective)
    violate("tamper_detected", std::to_string(effective) + " tamper faults altered relayed bytes (" +
                                   std::to_string(r.tampered_segments) + " segments); the record layer caught " +
                                   std::to_string(r.integrity_failures));
  if (s.rogue_stage) {
    bool served = r.pipelines_built > 0;
    for (const SimPipelineRequest& q : r.requests) served = served || q.code == "OK";
    if (served)
      violate("only_pinned_enclaves", "stage " + std::to_string(*s.rogue_stage) +
                                          " runs an unpinned enclave image, yet " + std::to_string(r.pipelines_built) +
                                          " pipelines were built");
  }
  return out;
}

std::string replay_command(const std::string& path, uint64_t seed) {
  return "cpipe sim run " + path + " --seed " + std::to_string(seed);
}

}  // namespace cpipe::cli

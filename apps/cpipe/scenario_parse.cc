// Reading a YAML scenario (scenario.h, schema in docs/scenarios.md): the document, its topology,
// costs, workload and expectations (faults: scenario_parse_faults.cc). Every error names the
// file, the line and column, and the key path ("faults.timeline[1].after_token"); a key the
// schema does not know is an error, and so is a key that does not apply to a fault's kind.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "apps/cpipe/scenario.h"
#include "apps/cpipe/scenario_parser.h"

namespace cpipe::cli {
namespace scenario_yaml {

void Parser::topology(const YAML::Node& n, Scenario& s) const {
  map_with_keys(n, "topology", {"platform", "stages", "model", "sealed", "host_proxy",
                                "session_limit", "greedy_in_last_stage", "rogue_stage", "receipts"});
  if (n["platform"]) {
    s.platform = text(n["platform"], "topology.platform");
    if (s.platform != "nitro" && s.platform != "sev-snp" && s.platform != "local")
      fail(n["platform"], "topology.platform", "must be nitro, sev-snp or local");
  }
  if (const YAML::Node st = n["stages"]) {
    if (st.IsSequence()) {
      s.stages = int(st.size());
      for (size_t i = 0; i < st.size(); ++i) {
        std::string p = "topology.stages[" + std::to_string(i) + "]";
        map_with_keys(st[i], p, {"layers"});
        const YAML::Node l = st[i]["layers"];
        if (!l || !l.IsSequence() || l.size() != 2) fail(st[i], p + ".layers", "must be [start, end]");
        s.layer_ranges.emplace_back(uint32_t(at_least(l[0], p + ".layers", 0)),
                                    uint32_t(at_least(l[1], p + ".layers", 1)));
      }
    } else {
      s.stages = int(at_least(st, "topology.stages", 1));
    }
    if (s.stages < 1 || s.stages > 16) fail(st, "topology.stages", "1 to 16 stages");
  }
  if (const YAML::Node m = n["model"]) {
    map_with_keys(m, "topology.model", {"preset", "seed", "path"});
    if (m["preset"]) s.model_preset = text(m["preset"], "topology.model.preset");
    if (m["seed"]) s.model_seed = uint64_t(at_least(m["seed"], "topology.model.seed", 0));
    if (m["path"]) s.model_path = text(m["path"], "topology.model.path");
  }
  if (n["sealed"]) s.sealed = boolean(n["sealed"], "topology.sealed");
  if (n["host_proxy"]) {
    s.host_proxy = boolean(n["host_proxy"], "topology.host_proxy");
    // The host's vsock proxy to KMS and S3 is what a sealed cold start goes through.
    if (s.host_proxy != s.sealed)
      fail(n["host_proxy"], "topology.host_proxy", "the KMS/S3 host proxy comes with (and only with) sealed: true");
  }
  s.host_proxy = s.sealed;
  if (n["session_limit"]) s.session_limit = uint32_t(at_least(n["session_limit"], "topology.session_limit", 1));
  if (n["rogue_stage"]) {
    s.rogue_stage = int(at_least(n["rogue_stage"], "topology.rogue_stage", 0));
    if (*s.rogue_stage >= s.stages) fail(n["rogue_stage"], "topology.rogue_stage", "no such stage");
  }
  if (n["greedy_in_last_stage"])
    s.greedy_in_last_stage = boolean(n["greedy_in_last_stage"], "topology.greedy_in_last_stage");
  // Stage 0 signs a receipt per answer with a key bound into its boot evidence; the
  // receipts_verify invariant then checks each one.
  if (n["receipts"]) s.receipts = boolean(n["receipts"], "topology.receipts");
  // The simulator's key path (SimKms) releases keys only to a Nitro attestation document with a
  // Recipient, as real AWS KMS does; receipts name the signing stage's simulated Nitro evidence.
  if (s.platform != "nitro" && s.sealed)
    fail(n["sealed"], "topology.sealed",
         "sealed: true needs platform nitro: the simulated KMS (the only simulated key path) releases keys "
         "only to Nitro attestation documents with a Recipient, not to " + s.platform + " evidence");
  if (s.platform != "nitro" && s.receipts)
    fail(n["receipts"], "topology.receipts",
         "receipts need platform nitro: receipt evidence is checked against the simulated Nitro root");
}

void Parser::costs(const YAML::Node& n, Scenario& s) const {
  map_with_keys(n, "costs", {"compute_ms_per_layer_token", "nsm_ms", "kms_ms", "s3_ms", "link"});
  if (n["compute_ms_per_layer_token"])
    s.compute_ms_per_layer_token = non_negative(n["compute_ms_per_layer_token"], "costs.compute_ms_per_layer_token");
  if (n["nsm_ms"]) s.nsm_ms = latency(n["nsm_ms"], "costs.nsm_ms");
  if (n["kms_ms"]) s.kms_ms = latency(n["kms_ms"], "costs.kms_ms");
  if (n["s3_ms"]) s.s3_ms = latency(n["s3_ms"], "costs.s3_ms");
  if (const YAML::Node l = n["link"]) {
    map_with_keys(l, "costs.link", {"rtt_ms", "jitter_ms", "bandwidth_bytes_per_s"});
    if (l["rtt_ms"]) s.link_rtt_ms = non_negative(l["rtt_ms"], "costs.link.rtt_ms");
    if (l["jitter_ms"]) s.link_jitter_ms = non_negative(l["jitter_ms"], "costs.link.jitter_ms");
    if (l["bandwidth_bytes_per_s"])
      s.link_bandwidth_bytes_per_s = uint64_t(at_least(l["bandwidth_bytes_per_s"], "costs.link.bandwidth_bytes_per_s", 0));
  }
}

void Parser::workload(const YAML::Node& n, Scenario& s) const {
  map_with_keys(n, "workload", {"sessions", "requests_per_session", "prompts", "tokens",
                                "arrival_gap_ms", "requests"});
  int tokens = n["tokens"] ? int(at_least(n["tokens"], "workload.tokens", 1)) : 8;
  std::vector<SimWorkItem> prompts(1);
  prompts[0].prompt = {464, 2068, 7586, 21831};
  if (const YAML::Node p = n["prompts"]) {
    if (!p.IsSequence() || p.size() == 0) fail(p, "workload.prompts", "must be a list of prompts (texts or token-id lists)");
    prompts.clear();
    for (size_t i = 0; i < p.size(); ++i) prompts.push_back(prompt(p[i], "workload.prompts[" + std::to_string(i) + "]"));
  }
  if (const YAML::Node r = n["requests"]) {
    for (const char* k : {"sessions", "requests_per_session", "arrival_gap_ms"})
      if (n[k]) fail(n[k], std::string("workload.") + k, "not with an explicit requests list");
    if (!r.IsSequence() || r.size() == 0) fail(r, "workload.requests", "must be a non-empty list");
    for (size_t i = 0; i < r.size(); ++i) {
      std::string p = "workload.requests[" + std::to_string(i) + "]";
      map_with_keys(r[i], p, {"session", "prompt", "tokens", "at_ms"});
      SimWorkItem item;
      item.session = r[i]["session"] ? int(at_least(r[i]["session"], p + ".session", 0)) : 0;
      SimWorkItem text_or_ids = r[i]["prompt"] ? prompt(r[i]["prompt"], p + ".prompt") : prompts[i % prompts.size()];
      item.prompt = text_or_ids.prompt;
      item.prompt_text = text_or_ids.prompt_text;
      item.max_new_tokens = r[i]["tokens"] ? int(at_least(r[i]["tokens"], p + ".tokens", 1)) : tokens;
      item.at_ms = r[i]["at_ms"] ? non_negative(r[i]["at_ms"], p + ".at_ms") : 0;
      s.requests.push_back(std::move(item));
    }
    return;
  }
  int sessions = n["sessions"] ? int(at_least(n["sessions"], "workload.sessions", 1)) : 1;
  int per = n["requests_per_session"] ? int(at_least(n["requests_per_session"], "workload.requests_per_session", 1)) : 1;
  double gap = n["arrival_gap_ms"] ? non_negative(n["arrival_gap_ms"], "workload.arrival_gap_ms") : 0;
  s.requests.clear();
  for (int q = 0; q < sessions; ++q)
    for (int r = 0; r < per; ++r) {
      SimWorkItem item = prompts[size_t(q * per + r) % prompts.size()];
      item.session = q;
      item.max_new_tokens = tokens;
      item.at_ms = r * gap;
      s.requests.push_back(std::move(item));
    }
}

void Parser::expect(const YAML::Node& n, Scenario& s) const {
  map_with_keys(n, "expect", {"invariants", "all_ok", "outcomes", "recovery_within_ms", "max_ttft_ms",
                              "max_token_ms", "max_virtual_ms", "min_pipeline_failures"});
  ScenarioExpect& e = s.expect;
  if (const YAML::Node i = n["invariants"]) {
    if (!i.IsSequence()) fail(i, "expect.invariants", "must be a list of invariant names");
    for (size_t k = 0; k < i.size(); ++k) {
      std::string name = text(i[k], "expect.invariants");
      const auto& known = known_invariants();
      if (std::find(known.begin(), known.end(), name) == known.end())
        fail(i[k], "expect.invariants", "unknown invariant '" + name + "'");
      e.invariants.push_back(name);
    }
  }
  if (n["all_ok"]) e.all_ok = boolean(n["all_ok"], "expect.all_ok");
  if (const YAML::Node o = n["outcomes"]) {
    if (!o.IsMap()) fail(o, "expect.outcomes", "must map error codes to counts");
    for (auto it = o.begin(); it != o.end(); ++it)
      e.outcomes[it->first.as<std::string>()] = int(at_least(it->second, "expect.outcomes." + it->first.as<std::string>(), 0));
  }
  if (n["recovery_within_ms"]) e.recovery_within_ms = non_negative(n["recovery_within_ms"], "expect.recovery_within_ms");
  if (n["max_ttft_ms"]) e.max_ttft_ms = non_negative(n["max_ttft_ms"], "expect.max_ttft_ms");
  if (n["max_token_ms"]) e.max_token_ms = non_negative(n["max_token_ms"], "expect.max_token_ms");
  if (n["max_virtual_ms"]) e.max_virtual_ms = non_negative(n["max_virtual_ms"], "expect.max_virtual_ms");
  if (n["min_pipeline_failures"])
    e.min_pipeline_failures = int(at_least(n["min_pipeline_failures"], "expect.min_pipeline_failures", 0));
}

Scenario Parser::parse(const YAML::Node& root) const {
  Scenario s;
  s.source = source_;
  map_with_keys(root, "", {"name", "description", "topology", "costs", "workload", "orchestrator",
                           "faults", "expect", "limits"});
  if (root["name"]) s.name = text(root["name"], "name");
  if (root["description"]) s.description = text(root["description"], "description");
  if (root["topology"]) topology(root["topology"], s);
  // Attestation latency (costs.nsm_ms) defaults to the platform's device: the NSM's 45..90 ms,
  // SEV-SNP firmware's SNP_GET_EXT_REPORT 2..8 ms, mock-dev's 1 ms.
  if (s.platform == "sev-snp") s.nsm_ms = {2, 3, 5, 8};
  if (s.platform == "local") s.nsm_ms = {1, 1, 1, 1};
  if (root["costs"]) costs(root["costs"], s);
  if (root["workload"]) workload(root["workload"], s);
  else s.requests = {{0, {464, 2068, 7586, 21831}, 8, 0, ""}};
  if (const YAML::Node o = root["orchestrator"]) {
    map_with_keys(o, "orchestrator", {"recovery_timeout_ms", "max_attempts"});
    if (o["recovery_timeout_ms"]) s.recovery_timeout_ms = non_negative(o["recovery_timeout_ms"], "orchestrator.recovery_timeout_ms");
    if (o["max_attempts"]) s.max_attempts = int(at_least(o["max_attempts"], "orchestrator.max_attempts", 1));
  }
  if (root["faults"]) faults(root["faults"], s);
  if (root["expect"]) expect(root["expect"], s);
  if (const YAML::Node l = root["limits"]) {
    map_with_keys(l, "limits", {"max_virtual_ms"});
    if (l["max_virtual_ms"]) s.max_virtual_ms = non_negative(l["max_virtual_ms"], "limits.max_virtual_ms");
  }
  return s;
}

}  // namespace scenario_yaml

using scenario_yaml::Parser;
using scenario_yaml::ScenarioError;

const std::vector<std::string>& known_invariants() {
  static const std::vector<std::string> names = {
      "run_completes",   "explicit_outcome", "outputs_match_reference", "no_plaintext_on_host",
      "all_ok",          "outcome_counts",   "recovery_bound",          "latency_bounds",
      "failures_detected", "tamper_detected", "only_pinned_enclaves", "receipts_verify"};
  return names;
}

Result<Scenario> parse_scenario(const std::string& text, const std::string& source) {
  Parser parser(source.empty() ? "<scenario>" : source);
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsDefined() || root.IsNull())
      return make_error(ErrorCode::SIM_SCENARIO_INVALID, (source.empty() ? std::string("<scenario>") : source) + ": empty scenario");
    Scenario s = parser.parse(root);
    s.source = source;
    return s;
  } catch (const ScenarioError& e) {
    return make_error(ErrorCode::SIM_SCENARIO_INVALID, e.message);
  } catch (const YAML::Exception& e) {
    return make_error(ErrorCode::SIM_SCENARIO_INVALID,
                      (source.empty() ? "<scenario>" : source) + ":" + std::to_string(e.mark.line + 1) +
                          ":" + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

Result<Scenario> load_scenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::IO_ERROR, "cannot read scenario " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_scenario(ss.str(), path);
}

}  // namespace cpipe::cli

// Reading a YAML scenario (scenario.h, schema in docs/scenarios.md). Every error names the file,
// the line and column, and the key path ("faults.timeline[1].after_token"); a key the schema
// does not know is an error, and so is a key that does not apply to a fault's kind.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "apps/cpipe/scenario.h"

namespace cpipe::cli {
namespace {

struct ScenarioError {
  std::string message;
};

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& path, const std::string& why) const {
    std::string where = source_;
    if (at.IsDefined() && at.Mark().line >= 0)
      where += ":" + std::to_string(at.Mark().line + 1) + ":" + std::to_string(at.Mark().column + 1);
    throw ScenarioError{where + ": key '" + path + "': " + why};
  }

  void map_with_keys(const YAML::Node& node, const std::string& path, const std::set<std::string>& allowed) const {
    if (!node.IsMap()) fail(node, path, "must be a mapping");
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.as<std::string>();
      if (!allowed.count(key)) {
        std::string known;
        for (const std::string& k : allowed) known += (known.empty() ? "" : ", ") + k;
        fail(it->first, join(path, key), "unknown key (known: " + known + ")");
      }
    }
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  template <typename T>
  T scalar(const YAML::Node& node, const std::string& path, const char* what) const {
    if (!node.IsScalar()) fail(node, path, std::string("must be ") + what);
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(node, path, std::string("must be ") + what + ", not '" + node.Scalar() + "'");
    }
  }
  double number(const YAML::Node& n, const std::string& p) const { return scalar<double>(n, p, "a number"); }
  int64_t integer(const YAML::Node& n, const std::string& p) const { return scalar<int64_t>(n, p, "an integer"); }
  bool boolean(const YAML::Node& n, const std::string& p) const { return scalar<bool>(n, p, "true or false"); }
  std::string text(const YAML::Node& n, const std::string& p) const { return scalar<std::string>(n, p, "a string"); }

  double non_negative(const YAML::Node& n, const std::string& p) const {
    double v = number(n, p);
    if (v < 0) fail(n, p, "must be >= 0");
    return v;
  }
  int64_t at_least(const YAML::Node& n, const std::string& p, int64_t min) const {
    int64_t v = integer(n, p);
    if (v < min) fail(n, p, "must be >= " + std::to_string(min));
    return v;
  }

  // A number (fixed) or {p0, p50, p99, p100}; missing quantiles default around the given ones.
  SimLatencyMs latency(const YAML::Node& n, const std::string& p) const {
    if (n.IsScalar()) return SimLatencyMs::fixed(non_negative(n, p));
    map_with_keys(n, p, {"p0", "p50", "p99", "p100"});
    if (!n["p50"]) fail(n, p, "needs at least p50");
    SimLatencyMs l;
    l.p50 = non_negative(n["p50"], p + ".p50");
    l.p99 = n["p99"] ? non_negative(n["p99"], p + ".p99") : l.p50;
    l.p0 = n["p0"] ? non_negative(n["p0"], p + ".p0") : l.p50 / 2;
    l.p100 = n["p100"] ? non_negative(n["p100"], p + ".p100") : l.p99 * 1.2;
    if (!l.valid()) fail(n, p, "quantiles must not decrease (p0 <= p50 <= p99 <= p100)");
    return l;
  }

  std::vector<int32_t> ids(const YAML::Node& n, const std::string& p) const {
    if (!n.IsSequence() || n.size() == 0) fail(n, p, "must be a non-empty list of token ids");
    std::vector<int32_t> out;
    for (size_t i = 0; i < n.size(); ++i) {
      int64_t v = integer(n[i], p + "[" + std::to_string(i) + "]");
      if (v < 0 || v > INT32_MAX) fail(n[i], p, "token ids are >= 0");
      out.push_back(int32_t(v));
    }
    return out;
  }

  // A prompt: text (tokenized with the model's tokenizer before the run) or token ids.
  SimWorkItem prompt(const YAML::Node& n, const std::string& p) const {
    SimWorkItem item;
    if (n.IsScalar()) {
      item.prompt_text = n.as<std::string>();
      if (item.prompt_text.empty()) fail(n, p, "an empty prompt");
    } else {
      item.prompt = ids(n, p);
    }
    return item;
  }

  void topology(const YAML::Node& n, Scenario& s) const {
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

  void costs(const YAML::Node& n, Scenario& s) const {
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

  void workload(const YAML::Node& n, Scenario& s) const {
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

  SimFault fault(const YAML::Node& n, const std::string& p, int stages, bool sealed) const {
    if (!n.IsMap()) fail(n, p, "must be a mapping");
    if (!n["kind"]) fail(n, p + ".kind", "missing");
    auto kind = parse_fault_kind(text(n["kind"], p + ".kind"));
    if (!kind) fail(n["kind"], p + ".kind", "unknown fault kind");
    SimFault f;
    f.kind = *kind;
    std::set<std::string> keys = {"kind", "stage", "at_ms", "after_token"};
    switch (f.kind) {
      case FaultKind::kKill: keys.insert({"restart_after_ms", "during"}); f.duration_ms = 500; break;
      case FaultKind::kPartition: keys.insert({"duration_ms", "direction"}); f.duration_ms = 1000; break;
      case FaultKind::kStall: keys.insert({"duration_ms", "direction"}); f.duration_ms = 500; break;
      case FaultKind::kReset: break;
      case FaultKind::kLinkLatency: keys.insert({"duration_ms", "latency_ms", "jitter_ms"}); break;
      case FaultKind::kBandwidth: keys.insert({"duration_ms", "bytes_per_s"}); break;
      case FaultKind::kTamper: keys.insert({"duration_ms", "action", "channel", "count", "skip_segments"}); break;
      case FaultKind::kClockSkew: keys.insert({"duration_ms", "ppm", "node"}); break;
      case FaultKind::kClockJump: keys.insert({"duration_ms", "jump_ms", "node"}); break;
      case FaultKind::kNsmFail: keys.insert("duration_ms"); f.duration_ms = 1000; break;
      case FaultKind::kKmsThrottle: keys = {"kind", "count"}; break;
      case FaultKind::kKmsError:
      case FaultKind::kS3Error: keys = {"kind", "node", "at_ms", "duration_ms", "count", "error"}; break;
    }
    bool network = f.kind == FaultKind::kPartition || f.kind == FaultKind::kStall || f.kind == FaultKind::kReset ||
                   f.kind == FaultKind::kLinkLatency || f.kind == FaultKind::kBandwidth;
    if (network) keys.insert("node");
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string key = it->first.as<std::string>();
      if (!keys.count(key))
        fail(it->first, p + "." + key, "does not apply to a " + std::string(fault_kind_name(f.kind)) + " fault");
    }
    if (f.kind == FaultKind::kKmsThrottle) {
      if (!sealed) fail(n["kind"], p + ".kind", "KMS faults need topology.sealed: true");
      if (!n["count"]) fail(n, p + ".count", "missing");
      f.count = int(at_least(n["count"], p + ".count", 1));
      return f;
    }
    if (f.kind == FaultKind::kKmsError || f.kind == FaultKind::kS3Error) return service_fault(n, p, sealed, f);
    if (n["node"]) {
      if (n["stage"]) fail(n["node"], p + ".node", "give stage or node, not both");
      std::string node = text(n["node"], p + ".node");
      if (network && (node == "kms" || node == "s3")) {
        if (!sealed) fail(n["node"], p + ".node", "kms and s3 exist only with topology.sealed: true");
        f.stage = node == "kms" ? kFaultNodeKms : kFaultNodeS3;
      } else if (!network && node == "orchestrator") {
        f.stage = kFaultNodeOrchestrator;
      } else {
        fail(n["node"], p + ".node", network ? "must be kms or s3" : "must be orchestrator");
      }
    } else {
      if (!n["stage"]) fail(n, p + ".stage", "missing");
      f.stage = int(at_least(n["stage"], p + ".stage", 0));
      if (f.stage >= stages) fail(n["stage"], p + ".stage", "no such stage (" + std::to_string(stages) + " stages)");
    }
    if (int(bool(n["at_ms"])) + int(bool(n["after_token"])) + int(bool(n["during"])) > 1)
      fail(n["during"] ? n["during"] : n["after_token"], p + (n["during"] ? ".during" : ".after_token"),
           "give one of at_ms, after_token and during");
    if (n["at_ms"]) f.at_ms = non_negative(n["at_ms"], p + ".at_ms");
    else if (n["after_token"]) f.after_forwards = int(at_least(n["after_token"], p + ".after_token", 1));
    else if (n["during"]) {
      auto e = parse_fault_event(text(n["during"], p + ".during"));
      if (!e) fail(n["during"], p + ".during", "must be kms_call");
      if (!sealed) fail(n["during"], p + ".during", "a KMS call happens only with topology.sealed: true");
      f.during = *e;
    } else {
      fail(n, p + ".at_ms", "a fault needs at_ms or after_token (a kill may instead fire during: kms_call)");
    }
    if (f.after_forwards && f.stage < 0) fail(n, p + ".after_token", "the orchestrator has no forward passes");
    auto duration = [&](const char* key) {
      if (!n[key]) return;
      const YAML::Node d = n[key];
      if (d.IsScalar() && d.Scalar() == "never") f.duration_ms = -1;
      else f.duration_ms = non_negative(d, p + "." + key);
    };
    duration("restart_after_ms");
    duration("duration_ms");
    if (n["direction"]) {
      auto d = parse_link_direction(text(n["direction"], p + ".direction"));
      if (!d) fail(n["direction"], p + ".direction", "must be both, to_stage or from_stage");
      f.direction = *d;
    }
    if (n["action"]) {
      auto a = parse_tamper_action(text(n["action"], p + ".action"));
      if (!a) fail(n["action"], p + ".action", "must be flip, drop, duplicate, reorder, replay or inject");
      f.action = *a;
    }
    if (n["channel"]) {
      auto c = parse_tamper_channel(text(n["channel"], p + ".channel"));
      if (!c) fail(n["channel"], p + ".channel", "must be data_in, control or data_out");
      f.channel = *c;
    }
    if (n["count"]) f.count = int(at_least(n["count"], p + ".count", 0));
    if (n["skip_segments"]) f.skip_segments = int(at_least(n["skip_segments"], p + ".skip_segments", 0));
    if (n["latency_ms"]) f.latency_ms = non_negative(n["latency_ms"], p + ".latency_ms");
    if (n["jitter_ms"]) f.jitter_ms = non_negative(n["jitter_ms"], p + ".jitter_ms");
    if (n["bytes_per_s"]) f.bandwidth_bytes_per_s = uint64_t(at_least(n["bytes_per_s"], p + ".bytes_per_s", 1));
    if (f.kind == FaultKind::kBandwidth && !n["bytes_per_s"]) fail(n, p + ".bytes_per_s", "missing");
    if (n["ppm"]) f.skew_ppm = integer(n["ppm"], p + ".ppm");
    if (n["jump_ms"]) f.jump_ms = number(n["jump_ms"], p + ".jump_ms");
    return f;
  }

  // kms_error / s3_error: the service answers with `error` from at_ms (default 0), for
  // duration_ms (default: the rest of the run) and at most `count` calls (0 or absent: all).
  SimFault service_fault(const YAML::Node& n, const std::string& p, bool sealed, SimFault f) const {
    const bool kms = f.kind == FaultKind::kKmsError;
    if (!sealed) fail(n["kind"], p + ".kind", "KMS and S3 faults need topology.sealed: true");
    f.stage = kms ? kFaultNodeKms : kFaultNodeS3;
    if (n["node"] && text(n["node"], p + ".node") != (kms ? "kms" : "s3"))
      fail(n["node"], p + ".node", kms ? "a kms_error targets kms" : "an s3_error targets s3");
    if (!n["at_ms"] && !n["count"]) fail(n, p + ".at_ms", "give at_ms (a window) or count (calls from the start)");
    f.at_ms = n["at_ms"] ? non_negative(n["at_ms"], p + ".at_ms") : 0.0;
    f.duration_ms = -1;
    if (const YAML::Node d = n["duration_ms"]; d && !(d.IsScalar() && d.Scalar() == "never"))
      f.duration_ms = non_negative(d, p + ".duration_ms");
    f.count = n["count"] ? int(at_least(n["count"], p + ".count", 0)) : 0;
    f.error = kms ? "KMSInternalException" : "InternalError";
    if (n["error"]) f.error = text(n["error"], p + ".error");
    if (!service_error_spec(f.kind, f.error)) {
      std::string known;
      for (const ServiceErrorSpec& e : kms ? kms_error_specs() : s3_error_specs())
        known += (known.empty() ? "" : ", ") + std::string(e.code);
      fail(n["error"], p + ".error", "unknown error (known: " + known + ")");
    }
    return f;
  }

  void faults(const YAML::Node& n, Scenario& s) const {
    map_with_keys(n, "faults", {"timeline", "swarm"});
    if (const YAML::Node t = n["timeline"]) {
      if (!t.IsSequence()) fail(t, "faults.timeline", "must be a list");
      for (size_t i = 0; i < t.size(); ++i)
        s.faults.push_back(fault(t[i], "faults.timeline[" + std::to_string(i) + "]", s.stages, s.sealed));
    }
    if (const YAML::Node w = n["swarm"]) {
      map_with_keys(w, "faults.swarm", {"kinds", "max_faults", "window_ms"});
      ScenarioSwarm sw;
      if (const YAML::Node k = w["kinds"]) {
        if (!k.IsSequence() || k.size() == 0) fail(k, "faults.swarm.kinds", "must be a non-empty list");
        for (size_t i = 0; i < k.size(); ++i) {
          auto kind = parse_fault_kind(text(k[i], "faults.swarm.kinds"));
          if (!kind) fail(k[i], "faults.swarm.kinds", "unknown fault kind '" + k[i].Scalar() + "'");
          if (*kind == FaultKind::kKmsThrottle) fail(k[i], "faults.swarm.kinds", "kms_throttle is not drawn by swarm mode");
          if ((*kind == FaultKind::kKmsError || *kind == FaultKind::kS3Error) && !s.sealed)
            fail(k[i], "faults.swarm.kinds", "KMS and S3 faults need topology.sealed: true");
          sw.kinds.push_back(*kind);
        }
      } else {
        sw.kinds.assign(std::begin(kAllFaultKinds), std::end(kAllFaultKinds));
        if (s.sealed) sw.kinds.insert(sw.kinds.end(), std::begin(kKeyDeliveryFaultKinds), std::end(kKeyDeliveryFaultKinds));
      }
      if (w["max_faults"]) sw.max_faults = int(at_least(w["max_faults"], "faults.swarm.max_faults", 1));
      if (w["window_ms"]) sw.window_ms = non_negative(w["window_ms"], "faults.swarm.window_ms");
      s.swarm = sw;
    }
  }

  void expect(const YAML::Node& n, Scenario& s) const {
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

  Scenario parse(const YAML::Node& root) const {
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

 private:
  std::string source_;
};

}  // namespace

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

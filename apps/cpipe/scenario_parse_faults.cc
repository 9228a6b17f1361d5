// Reading a scenario's faults (scenario_parser.h): the timeline — each fault's kind, target,
// trigger (a time, a forward pass, a KMS call) and the keys its kind allows — and swarm settings.
#include <algorithm>

#include "apps/cpipe/scenario_parser.h"

namespace cpipe::cli::scenario_yaml {

SimFault Parser::fault(const YAML::Node& n, const std::string& p, int stages, bool sealed) const {
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
SimFault Parser::service_fault(const YAML::Node& n, const std::string& p, bool sealed, SimFault f) const {
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

void Parser::faults(const YAML::Node& n, Scenario& s) const {
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

}  // namespace cpipe::cli::scenario_yaml

// Writing a scenario back as YAML (scenario.h): what `cpipe sim shrink --out` produces. Every
// setting is written out explicitly (the workload as its list of requests, faults with all the
// keys their kind takes), so the file does not depend on the parser's defaults.
#include <yaml-cpp/yaml.h>

#include "apps/cpipe/scenario.h"

namespace cpipe::cli {
namespace {

void latency(YAML::Emitter& out, const char* key, const SimLatencyMs& l) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "p0"
      << YAML::Value << l.p0 << YAML::Key << "p50" << YAML::Value << l.p50 << YAML::Key << "p99"
      << YAML::Value << l.p99 << YAML::Key << "p100" << YAML::Value << l.p100 << YAML::EndMap;
}

void duration(YAML::Emitter& out, const char* key, double ms) {
  out << YAML::Key << key << YAML::Value;
  if (ms < 0) out << "never";
  else out << ms;
}

void fault(YAML::Emitter& out, const SimFault& f) {
  out << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << std::string(fault_kind_name(f.kind));
  if (f.kind == FaultKind::kKmsThrottle) {
    out << YAML::Key << "count" << YAML::Value << f.count << YAML::EndMap;
    return;
  }
  if (f.kind == FaultKind::kKmsError || f.kind == FaultKind::kS3Error) {
    out << YAML::Key << "node" << YAML::Value << (f.kind == FaultKind::kKmsError ? "kms" : "s3");
    out << YAML::Key << "at_ms" << YAML::Value << f.at_ms.value_or(0);
    duration(out, "duration_ms", f.duration_ms);
    out << YAML::Key << "count" << YAML::Value << f.count << YAML::Key << "error" << YAML::Value << f.error
        << YAML::EndMap;
    return;
  }
  if (f.stage == kFaultNodeOrchestrator) out << YAML::Key << "node" << YAML::Value << "orchestrator";
  else if (f.stage == kFaultNodeKms) out << YAML::Key << "node" << YAML::Value << "kms";
  else if (f.stage == kFaultNodeS3) out << YAML::Key << "node" << YAML::Value << "s3";
  else out << YAML::Key << "stage" << YAML::Value << f.stage;
  if (f.at_ms) out << YAML::Key << "at_ms" << YAML::Value << *f.at_ms;
  if (f.after_forwards) out << YAML::Key << "after_token" << YAML::Value << *f.after_forwards;
  if (f.during) out << YAML::Key << "during" << YAML::Value << std::string(fault_event_name(*f.during));
  switch (f.kind) {
    case FaultKind::kKill:
      duration(out, "restart_after_ms", f.duration_ms);
      break;
    case FaultKind::kPartition:
    case FaultKind::kStall:
      duration(out, "duration_ms", f.duration_ms);
      out << YAML::Key << "direction" << YAML::Value << std::string(link_direction_name(f.direction));
      break;
    case FaultKind::kReset:
      break;
    case FaultKind::kLinkLatency:
      duration(out, "duration_ms", f.duration_ms);
      out << YAML::Key << "latency_ms" << YAML::Value << f.latency_ms << YAML::Key << "jitter_ms"
          << YAML::Value << f.jitter_ms;
      break;
    case FaultKind::kBandwidth:
      duration(out, "duration_ms", f.duration_ms);
      out << YAML::Key << "bytes_per_s" << YAML::Value << f.bandwidth_bytes_per_s;
      break;
    case FaultKind::kTamper:
      duration(out, "duration_ms", f.duration_ms);
      out << YAML::Key << "action" << YAML::Value << std::string(tamper_action_name(f.action))
          << YAML::Key << "channel" << YAML::Value << std::string(tamper_channel_name(f.channel))
          << YAML::Key << "count" << YAML::Value << f.count << YAML::Key << "skip_segments"
          << YAML::Value << f.skip_segments;
      break;
    case FaultKind::kClockSkew:
      duration(out, "duration_ms", f.duration_ms);
      out << YAML::Key << "ppm" << YAML::Value << f.skew_ppm;
      break;
    case FaultKind::kClockJump:
      duration(out, "duration_ms", f.duration_ms);
      out << YAML::Key << "jump_ms" << YAML::Value << f.jump_ms;
      break;
    case FaultKind::kNsmFail:
      duration(out, "duration_ms", f.duration_ms);
      break;
    case FaultKind::kKmsThrottle:
    case FaultKind::kKmsError:  // written above
    case FaultKind::kS3Error:
      break;
  }
  out << YAML::EndMap;
}

}  // namespace

std::string scenario_to_yaml(const Scenario& s) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  if (!s.name.empty()) out << YAML::Key << "name" << YAML::Value << s.name;
  if (!s.description.empty()) out << YAML::Key << "description" << YAML::Value << s.description;

  out << YAML::Key << "topology" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "platform" << YAML::Value << s.platform;
  out << YAML::Key << "stages" << YAML::Value;
  if (s.layer_ranges.empty()) {
    out << s.stages;
  } else {
    out << YAML::BeginSeq;
    for (const auto& [a, b] : s.layer_ranges)
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "layers" << YAML::Value << YAML::Flow
          << YAML::BeginSeq << a << b << YAML::EndSeq << YAML::EndMap;
    out << YAML::EndSeq;
  }
  out << YAML::Key << "model" << YAML::Value << YAML::Flow << YAML::BeginMap;
  if (s.model_path.empty())
    out << YAML::Key << "preset" << YAML::Value << s.model_preset << YAML::Key << "seed" << YAML::Value << s.model_seed;
  else
    out << YAML::Key << "path" << YAML::Value << s.model_path;
  out << YAML::EndMap;
  if (s.sealed) out << YAML::Key << "sealed" << YAML::Value << true;
  if (s.receipts) out << YAML::Key << "receipts" << YAML::Value << true;
  out << YAML::Key << "session_limit" << YAML::Value << s.session_limit;
  out << YAML::Key << "greedy_in_last_stage" << YAML::Value << s.greedy_in_last_stage;
  if (s.rogue_stage) out << YAML::Key << "rogue_stage" << YAML::Value << *s.rogue_stage;
  out << YAML::EndMap;

  out << YAML::Key << "costs" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "compute_ms_per_layer_token" << YAML::Value << s.compute_ms_per_layer_token;
  latency(out, "nsm_ms", s.nsm_ms);
  latency(out, "kms_ms", s.kms_ms);
  latency(out, "s3_ms", s.s3_ms);
  out << YAML::Key << "link" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "rtt_ms"
      << YAML::Value << s.link_rtt_ms << YAML::Key << "jitter_ms" << YAML::Value << s.link_jitter_ms
      << YAML::Key << "bandwidth_bytes_per_s" << YAML::Value << s.link_bandwidth_bytes_per_s << YAML::EndMap;
  out << YAML::EndMap;

  out << YAML::Key << "workload" << YAML::Value << YAML::BeginMap << YAML::Key << "requests" << YAML::Value
      << YAML::BeginSeq;
  for (const SimWorkItem& r : s.requests) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "session" << YAML::Value << r.session
        << YAML::Key << "prompt" << YAML::Value;
    if (r.prompt_text.empty())
      out << YAML::Flow << r.prompt;
    else
      out << YAML::DoubleQuoted << r.prompt_text;
    out << YAML::Key << "tokens"
        << YAML::Value << r.max_new_tokens << YAML::Key << "at_ms" << YAML::Value << r.at_ms << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;

  out << YAML::Key << "orchestrator" << YAML::Value << YAML::BeginMap << YAML::Key << "recovery_timeout_ms"
      << YAML::Value << s.recovery_timeout_ms << YAML::Key << "max_attempts" << YAML::Value << s.max_attempts
      << YAML::EndMap;

  if (!s.faults.empty() || s.swarm) {
    out << YAML::Key << "faults" << YAML::Value << YAML::BeginMap;
    if (!s.faults.empty()) {
      out << YAML::Key << "timeline" << YAML::Value << YAML::BeginSeq;
      for (const SimFault& f : s.faults) fault(out, f);
      out << YAML::EndSeq;
    }
    if (s.swarm) {
      out << YAML::Key << "swarm" << YAML::Value << YAML::BeginMap << YAML::Key << "kinds" << YAML::Value
          << YAML::Flow << YAML::BeginSeq;
      for (FaultKind k : s.swarm->kinds) out << std::string(fault_kind_name(k));
      out << YAML::EndSeq << YAML::Key << "max_faults" << YAML::Value << s.swarm->max_faults << YAML::Key
          << "window_ms" << YAML::Value << s.swarm->window_ms << YAML::EndMap;
    }
    out << YAML::EndMap;
  }

  const ScenarioExpect& e = s.expect;
  out << YAML::Key << "expect" << YAML::Value << YAML::BeginMap;
  if (!e.invariants.empty()) out << YAML::Key << "invariants" << YAML::Value << YAML::Flow << e.invariants;
  if (e.all_ok) out << YAML::Key << "all_ok" << YAML::Value << true;
  if (!e.outcomes.empty()) {
    out << YAML::Key << "outcomes" << YAML::Value << YAML::Flow << YAML::BeginMap;
    for (const auto& [code, n] : e.outcomes) out << YAML::Key << code << YAML::Value << n;
    out << YAML::EndMap;
  }
  if (e.recovery_within_ms) out << YAML::Key << "recovery_within_ms" << YAML::Value << *e.recovery_within_ms;
  if (e.max_ttft_ms) out << YAML::Key << "max_ttft_ms" << YAML::Value << *e.max_ttft_ms;
  if (e.max_token_ms) out << YAML::Key << "max_token_ms" << YAML::Value << *e.max_token_ms;
  if (e.max_virtual_ms) out << YAML::Key << "max_virtual_ms" << YAML::Value << *e.max_virtual_ms;
  if (e.min_pipeline_failures > 0)
    out << YAML::Key << "min_pipeline_failures" << YAML::Value << e.min_pipeline_failures;
  out << YAML::EndMap;

  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap << YAML::Key << "max_virtual_ms" << YAML::Value
      << s.max_virtual_ms << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace cpipe::cli

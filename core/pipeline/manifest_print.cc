// Manifest printing: platform names, derived endpoints and the canonical JSON form (the Rust
// field order; extensions only when set, so a Rust file round-trips to the same JSON value).
#include <nlohmann/json.hpp>

#include "core/pipeline/manifest.h"

namespace cpipe::pipeline {

std::string_view platform_name(Platform platform) {
  switch (platform) {
    case Platform::kLocal: return "local";
    case Platform::kMockDev: return "mock-dev";
    case Platform::kNitro: return "nitro";
    case Platform::kSevSnp: return "sev-snp";
  }
  return "unknown";
}

std::optional<Platform> platform_from_name(std::string_view name) {
  for (Platform p : {Platform::kLocal, Platform::kMockDev, Platform::kNitro, Platform::kSevSnp}) {
    if (platform_name(p) == name) return p;
  }
  return std::nullopt;
}

bool Manifest::uses_vsock() const {
  return !stages.empty() && stages[0].endpoint.control.kind == runtime::Endpoint::Kind::kVsock;
}

runtime::Endpoint Manifest::result_endpoint() const {
  if (orchestrator_data_in) return *orchestrator_data_in;
  return stages.empty() ? runtime::Endpoint{} : stages.back().endpoint.data_out;
}

namespace {

nlohmann::ordered_json endpoint_json(const runtime::Endpoint& e) {
  if (e.kind == runtime::Endpoint::Kind::kVsock)
    return {{"type", "vsock"}, {"cid", e.cid}, {"port", e.port}};
  std::string host = e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host;
  return {{"type", "tcp"}, {"addr", host + ":" + std::to_string(e.port)}};
}

}  // namespace

std::string endpoint_to_manifest_json(const runtime::Endpoint& endpoint) {
  return endpoint_json(endpoint).dump();
}

std::string Manifest::to_json() const {
  nlohmann::ordered_json j;
  j["model_name"] = model_name;
  j["model_version"] = model_version;
  j["total_layers"] = total_layers;
  j["stages"] = nlohmann::ordered_json::array();
  for (const StageSpec& s : stages) {
    nlohmann::ordered_json st;
    st["stage_idx"] = s.stage_idx;
    st["layer_start"] = s.layer_start;
    st["layer_end"] = s.layer_end;
    st["weight_hashes"] = s.weight_hashes;
    st["expected_measurements"] = nlohmann::ordered_json::object();
    for (const auto& [name, value] : s.expected_measurements)
      st["expected_measurements"][name] = value;
    st["endpoint"] = {{"control", endpoint_json(s.endpoint.control)},
                      {"data_in", endpoint_json(s.endpoint.data_in)},
                      {"data_out", endpoint_json(s.endpoint.data_out)}};
    j["stages"].push_back(std::move(st));
  }
  j["activation_spec"] = {{"dtype", codec::dtype_name(activation_spec.dtype)},
                          {"hidden_dim", activation_spec.hidden_dim},
                          {"max_seq_len", activation_spec.max_seq_len}};
  if (require_weight_hashes) j["require_weight_hashes"] = true;
  if (platform) j["platform"] = platform_name(*platform);
  if (attestation) {
    j["attestation"] = {{"allow_debug", attestation->allow_debug},
                        {"max_evidence_age_ms", attestation->max_evidence_age_ms}};
  }
  if (session_limit != kDefaultSessionLimit) j["session_limit"] = session_limit;
  if (orchestrator_data_in) j["orchestrator"] = {{"data_in", endpoint_json(*orchestrator_data_in)}};
  return j.dump(2);
}

}  // namespace cpipe::pipeline

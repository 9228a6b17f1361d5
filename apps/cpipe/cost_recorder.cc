// Measuring a real deployment's costs for scenarios (cost_recorder.h).
#include "apps/cpipe/cost_recorder.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace cpipe::cli {
namespace {

double to_ms(runtime::Duration d) { return double(d.count()) / 1e6; }

runtime::Task<std::vector<double>> time_attestations(runtime::Env* env, runtime::AttestationProvider* p, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    runtime::AttestationRequest req;
    req.public_key = env->random->bytes(32);
    req.nonce = env->random->bytes(32);
    runtime::MonoTime start = env->clock->now();
    auto ev = co_await p->attest(std::move(req));
    if (ev.ok()) out.push_back(to_ms(env->clock->now() - start));
  }
  co_return out;
}

// A TCP connect is one round trip (SYN, SYN-ACK); the connection is closed at once.
runtime::Task<std::vector<double>> time_connects(runtime::Env* env, runtime::Endpoint ep, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    runtime::MonoTime start = env->clock->now();
    auto s = co_await env->network->connect(ep, std::chrono::seconds(2));
    if (!s.ok()) continue;
    out.push_back(to_ms(env->clock->now() - start));
    (*s)->close();
  }
  co_return out;
}

double pct(std::vector<double> v, double p) { return percentile(std::move(v), p); }

void quantiles(YAML::Emitter& out, const char* key, const std::vector<double>& v) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "p0" << YAML::Value
      << pct(v, 0) << YAML::Key << "p50" << YAML::Value << pct(v, 50) << YAML::Key << "p99" << YAML::Value
      << pct(v, 99) << YAML::Key << "p100" << YAML::Value << pct(v, 100) << YAML::EndMap;
}

}  // namespace

double RecordedCosts::compute_ms_per_layer_token() const {
  if (decode_ms.empty() || total_layers <= 0) return 0;
  double hops = double(stages + 1) * (rtt_ms.empty() ? 0.0 : percentile(rtt_ms, 50) / 2);
  return std::max(0.0, (percentile(decode_ms, 50) - hops) / double(total_layers));
}

Result<RecordedCosts> record_costs(posix::PosixEnv& posix, const pipeline::Manifest& manifest,
                                   const LocalRunReport& run, int samples) {
  RecordedCosts c;
  c.platform = std::string(kLocalAttestation);
  c.stages = int(manifest.stages.size());
  c.total_layers = int(manifest.total_layers);
  for (const LocalRequestOutcome& r : run.requests)
    if (r.status.ok() && r.result.token_ms.size() > 1)
      c.decode_ms.insert(c.decode_ms.end(), r.result.token_ms.begin() + 1, r.result.token_ms.end());
  CPIPE_ASSIGN_OR_RETURN(LocalAttestation att, make_local_attestation(posix.env, /*stage=*/false));
  c.attest_ms = posix.loop.block_on(time_attestations(&posix.env, att.provider.get(), samples));
  for (const pipeline::StageSpec& s : manifest.stages) {
    std::vector<double> rtt = posix.loop.block_on(time_connects(&posix.env, s.endpoint.control, samples));
    c.rtt_ms.insert(c.rtt_ms.end(), rtt.begin(), rtt.end());
  }
  if (c.attest_ms.empty() || c.rtt_ms.empty() || c.decode_ms.empty())
    return make_error(ErrorCode::UNAVAILABLE, "could not measure costs: no successful attestation, connect or decode step");
  return c;
}

std::string costs_yaml(const RecordedCosts& c) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "costs" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "compute_ms_per_layer_token" << YAML::Value << c.compute_ms_per_layer_token();
  quantiles(out, "nsm_ms", c.attest_ms);
  double p50 = percentile(c.rtt_ms, 50);
  out << YAML::Key << "link" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "rtt_ms"
      << YAML::Value << p50 << YAML::Key << "jitter_ms" << YAML::Value << std::max(0.0, percentile(c.rtt_ms, 100) - p50)
      << YAML::EndMap;
  out << YAML::EndMap << YAML::EndMap;
  std::string head =
      "# Costs measured by `cpipe run --record-costs` (docs/scenarios.md): " + std::to_string(c.stages) +
      " stages, " + std::to_string(c.total_layers) + " layers, attestation " + c.platform + ".\n"
      "# nsm_ms: " + std::to_string(c.attest_ms.size()) + " attestations by this platform's provider.\n"
      "# link: " + std::to_string(c.rtt_ms.size()) + " TCP connects to the stages' control endpoints (p50; jitter = max - p50).\n"
      "# compute_ms_per_layer_token: p50 of " + std::to_string(c.decode_ms.size()) +
      " decode steps, less one one-way hop per link crossed, per layer.\n"
      "# kms_ms and s3_ms are not part of a local run: scenarios keep their defaults.\n";
  return head + out.c_str() + "\n";
}

}  // namespace cpipe::cli

// Inside the simulated pipeline (sim_pipeline_session.cc, sim_pipeline_stages.cc,
// sim_pipeline_client.cc; not an interface): the world's addresses and images, the stage model
// tap, and the World every part of a run works on.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/cpipe/sim_attestation.h"
#include "apps/cpipe/sim_fault_injector.h"
#include "apps/cpipe/sim_key_delivery.h"
#include "apps/cpipe/sim_pipeline_session.h"
#include "apps/cpipe/sim_stage_boot.h"
#include "backends/simulated/sim_world.h"
#include "core/pipeline/orchestrator.h"
#include "core/pipeline/stage.h"
#include "core/runtime/oneshot.h"
#include "model/gpt2_config.h"

namespace cpipe::cli::sim_pipeline {

inline constexpr uint32_t kHostCid = 3;
inline constexpr uint32_t kFirstStageCid = 16;
inline const runtime::Endpoint kResultEndpoint = runtime::Endpoint::tcp("client", 9100);
inline runtime::Endpoint stage_control(int i) { return runtime::Endpoint::vsock(kFirstStageCid + uint32_t(i), 5000); }
inline runtime::Endpoint stage_data_in(int i) { return runtime::Endpoint::vsock(kFirstStageCid + uint32_t(i), 5001); }
inline runtime::Endpoint stage_data_out(int i) { return runtime::Endpoint::vsock(kHostCid, 6000 + uint32_t(i)); }
inline runtime::Endpoint host_control_route(int i) { return runtime::Endpoint::tcp("host", 7000 + uint16_t(i)); }
inline const runtime::Endpoint kHostDataRoute = runtime::Endpoint::tcp("host", 7100);

inline runtime::Duration from_ms(double ms) { return runtime::Duration(int64_t(ms * 1e6)); }
inline double to_ms(runtime::Duration d) { return double(d.count()) / 1e6; }

// The images the world's legitimate processes run (a rogue stage runs another).
inline constexpr const char* kStageImage = "cpipe-stage";
inline constexpr const char* kOrchestratorImage = "cpipe-orchestrator";

inline std::string stamp(runtime::MonoTime t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "t=%.3fms", double(t.ns) / 1e6);
  return buf;
}

// A StageModel decorator: counts forward passes (to kill a stage at a chosen point) and keeps
// the first bytes of a few outputs (to probe the host's recording for activations and logits).
class TappedModel final : public pipeline::StageModel {
 public:
  explicit TappedModel(std::unique_ptr<pipeline::StageModel> inner) : inner_(std::move(inner)) {}
  std::function<void(int forwards)> on_forward;
  std::vector<Bytes> samples;

  pipeline::StageShape shape() const override { return inner_->shape(); }
  Result<std::unique_ptr<pipeline::StageSequence>> new_sequence(int64_t capacity) override {
    return inner_->new_sequence(capacity);
  }
  Result<std::span<const float>> forward_tokens(pipeline::StageSequence& seq,
                                                std::span<const int32_t> tokens) override {
    return note(inner_->forward_tokens(seq, tokens));
  }
  Result<std::span<const float>> forward_hidden(pipeline::StageSequence& seq,
                                                std::span<const float> hidden) override {
    return note(inner_->forward_hidden(seq, hidden));
  }
  const std::vector<std::string>& weight_hashes() const override { return inner_->weight_hashes(); }

 private:
  Result<std::span<const float>> note(Result<std::span<const float>> out) {
    ++forwards_;
    if (out.ok() && samples.size() < 4) {
      auto* p = reinterpret_cast<const uint8_t*>(out->data());
      samples.emplace_back(p, p + std::min<size_t>(out->size_bytes(), 64));
    }
    if (on_forward) on_forward(forwards_);
    return out;
  }
  std::unique_ptr<pipeline::StageModel> inner_;
  int forwards_ = 0;
};

struct StageProcess {
  sim::SimNode* node = nullptr;
  runtime::Env env;
  std::unique_ptr<TappedModel> model;  // plaintext; sealed models come with each boot
  SimAttestation attestation;
  std::function<void(int forwards)> on_forward;
  SimStageBootSpec boot_spec;
  std::vector<std::unique_ptr<SimStageBooting>> boots;  // one per incarnation
  std::vector<TappedModel*> tapped;                     // every model this stage ran
  // Every incarnation stays alive until the world is gone (its tasks may still be suspended);
  // the live one is last.
  std::vector<std::unique_ptr<pipeline::Stage>> incarnations;
  bool restart_pending = false;  // killed, and its host restarts it later
};

struct World {
  SimPipelineOptions opt;
  sim::SimWorld* sim = nullptr;
  pipeline::Manifest manifest;
  std::vector<StageProcess> stages;
  sim::SimNode* client = nullptr;
  runtime::Env client_env;
  SimAttestation client_attestation;
  std::unique_ptr<pipeline::Orchestrator> orchestrator;
  SimPipelineReport report;
  std::vector<std::unique_ptr<Bytes>> plaintexts;  // for the host probe
  int sessions_left = 0;
  std::optional<runtime::Oneshot<bool>> all_done;
  std::optional<runtime::MonoTime> killed_at;
  std::unique_ptr<SimFaultInjector> injector;
  std::unique_ptr<SimKeyDelivery> delivery;  // sealed

  void note(const std::string& who, const std::string& what) {
    report.timeline.push_back(stamp(sim->now()) + " " + who + ": " + what);
  }
};

// Stage processes (sim_pipeline_stages.cc): start incarnation i (again, after a kill); kill it
// and restart it `restart_after_ms` later (< 0: never); sealed delivery and every stage's boot
// plan; the boots' outcomes into the report.
Status start_stage(World* w, int i);
void kill_stage(World* w, int i, double restart_after_ms);
Status setup_delivery(World* w, sim::SimWorld& sim, sim::SimNode& host, const model::Gpt2Config& config);
void report_boots(World* w);

// The orchestrator's program (sim_pipeline_client.cc): wait for the first boots, build the
// pipeline, run every session's requests, shut down.
runtime::Task<void> run_client(World* w);

}  // namespace cpipe::cli::sim_pipeline

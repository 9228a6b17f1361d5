// SimFaultInjector: applies a run's faults (sim_fault.h) to a simulated pipeline, each as a
// wrapper around the interface it disturbs — never as a special case inside the code under
// test: link faults through SimNetwork (partitions, holds, resets, link configs), hostile relay
// actions as LinkFilters on the host's links, clock faults through the node's wall clock, NSM
// failures and latency through an AttestationProvider wrapper (FaultyAttestation), KMS and S3
// errors through a SimServiceFilter at the services' request boundary (the service renders the
// error in its own wire format), and process kills through the session's kill/restart hook.
// Faults fire at a virtual time (a traced timer) or at an event: a stage's Nth forward pass, or
// a stage's KMS Decrypt call reaching KMS (seen by the same KMS filter).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apps/cpipe/sim_fault.h"
#include "backends/simulated/sim_network.h"
#include "backends/simulated/sim_random.h"
#include "backends/simulated/sim_service_filter.h"
#include "backends/simulated/sim_world.h"
#include "core/runtime/attestation.h"

namespace cpipe::cli {

// What the injector may touch in a run.
struct SimFaultTargets {
  sim::SimWorld* world = nullptr;
  sim::SimNode* host = nullptr;
  sim::SimNode* orchestrator = nullptr;
  std::vector<sim::SimNode*> stages;
  // The stage-side endpoints of the connections the host relays (tamper filters pick by them):
  // control and data_in listen on the stage; data_out is where the stage dials the host.
  std::vector<runtime::Endpoint> control, data_in, data_out;
  sim::LinkConfig base_link;  // restored when a link fault ends
  // Kills stage i; restarts it restart_after_ms later (< 0: never).
  std::function<void(int stage, double restart_after_ms)> kill;
  std::function<void(const std::string& who, const std::string& what)> note;
  // The stage a KMS request's access key belongs to (-1: none); for "during: kms_call".
  std::function<int(const std::string& access_key_id)> kms_caller_stage;
};

class SimFaultInjector {
 public:
  SimFaultInjector(SimFaultTargets targets, std::vector<SimFault> faults);
  ~SimFaultInjector();  // takes its filters off the network
  SimFaultInjector(const SimFaultInjector&) = delete;
  SimFaultInjector& operator=(const SimFaultInjector&) = delete;

  // INVALID_ARGUMENT naming the fault when a target or a parameter is out of range.
  static Status validate(const std::vector<SimFault>& faults, int stages);

  // Starts the timers of the faults that fire at a time (call once, at virtual time 0).
  void arm();
  // Called after every forward pass of stage `stage` (its count since the run began).
  void on_forward(int stage, int forwards);
  // Whether the stage's NSM is failing now (a nsm_fail fault is active).
  bool nsm_failing(int stage) const;
  // The filters to set on SimKms and SimS3 (sealed deployments): kms_error / s3_error faults
  // and the kms_call trigger. They live as long as the injector.
  sim::SimServiceFilter* kms_filter();
  sim::SimServiceFilter* s3_filter();
  // Every fault fired during a KMS call, with the call's timing.
  const std::vector<SimCallTrigger>& call_triggers() const { return triggers_; }
  // Calls the KMS and S3 filters answered with an injected error.
  uint64_t service_errors() const { return service_errors_; }

  // When each fault was injected (virtual ns), in injection order.
  const std::vector<int64_t>& injected_at() const { return injected_at_; }
  uint64_t tampered_segments() const { return tampered_; }
  // For every tamper fault that altered bytes: when it first did (virtual ms).
  std::vector<double> tamper_first_ms() const;

 private:
  class Tamper;
  class ServiceFaults;
  std::optional<sim::SimInjectedError> on_service_request(FaultKind kind, const sim::SimServiceCall& call);
  void on_service_answer(FaultKind kind, const sim::SimServiceCall& call, int http_status);
  void inject(size_t i);
  void end(size_t i);
  sim::SimNode* node_of(const SimFault& f) const;

  SimFaultTargets t_;
  std::vector<SimFault> faults_;
  std::vector<bool> fired_;
  std::vector<bool> active_;
  std::vector<std::unique_ptr<Tamper>> tampers_;
  std::unique_ptr<sim::SimRandom> random_;
  std::vector<int64_t> injected_at_;
  uint64_t tampered_ = 0;
  std::vector<int> served_;  // kms_error / s3_error: calls answered with the error
  std::unique_ptr<ServiceFaults> kms_filter_, s3_filter_;
  std::vector<SimCallTrigger> triggers_;
  uint64_t service_errors_ = 0;
};

// An AttestationProvider wrapper: extra latency drawn from a distribution (the NSM's 45-90 ms
// instead of a fixed figure) and failures while `failing()` says so.
class FaultyAttestation final : public runtime::AttestationProvider {
 public:
  FaultyAttestation(std::unique_ptr<runtime::AttestationProvider> inner, runtime::Clock& clock,
                    runtime::Random& random, SimLatencyMs extra_latency,
                    std::function<bool()> failing);
  std::string platform() const override { return inner_->platform(); }
  runtime::Task<Result<runtime::Evidence>> attest(runtime::AttestationRequest request) override;

 private:
  std::unique_ptr<runtime::AttestationProvider> inner_;
  runtime::Clock* clock_;
  runtime::Random* random_;
  SimLatencyMs extra_;
  std::function<bool()> failing_;
};

// The simulator's latency distribution for `ms` (integer nanoseconds).
sim::LatencyDistribution to_distribution(const SimLatencyMs& ms);

}  // namespace cpipe::cli

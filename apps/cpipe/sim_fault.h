// The misfortunes a simulated pipeline run can suffer, as plain data: what a scenario's
// `faults:` section (docs/scenarios.md) turns into and what SimFaultInjector
// (sim_fault_injector.h) applies. Kept apart from the injector so that the scenario parser, the
// swarm generator and the shrinker can build, copy and print faults without the simulator.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cpipe::cli {

// A latency distribution in milliseconds through the quantiles p0 (minimum), p50, p99 and p100
// (maximum): the simulator's piecewise-linear inverse CDF.
struct SimLatencyMs {
  double p0 = 0, p50 = 0, p99 = 0, p100 = 0;
  static SimLatencyMs fixed(double ms) { return {ms, ms, ms, ms}; }
  bool valid() const { return p0 >= 0 && p0 <= p50 && p50 <= p99 && p99 <= p100; }
  bool operator==(const SimLatencyMs&) const = default;
};

enum class FaultKind {
  kKill,         // the stage's process dies; restarted `duration_ms` later (< 0: never)
  kPartition,    // the host drops everything between it and the stage; healed after duration_ms
  kStall,        // the host holds everything between it and the stage; released after duration_ms
  kReset,        // the host resets every connection between it and the stage
  kLinkLatency,  // host<->stage latency becomes latency_ms (+ up to jitter_ms) for duration_ms
  kBandwidth,    // host<->stage bandwidth capped at bandwidth_bytes_per_s for duration_ms
  kTamper,       // the host alters relayed bytes of one of the stage's connections
  kClockSkew,    // the node's wall clock runs skew_ppm fast (or slow) for duration_ms
  kClockJump,    // the node's wall clock jumps by jump_ms (back again after duration_ms)
  kNsmFail,      // the stage's NSM fails every attestation for duration_ms
  kKmsThrottle,  // KMS throttles its first `count` requests (sealed cold start; no trigger)
  kKmsError,     // KMS answers calls with `error` from at_ms (for duration_ms; `count` calls)
  kS3Error,      // S3 answers object requests with `error` from at_ms (likewise)
};
inline constexpr FaultKind kAllFaultKinds[] = {
    FaultKind::kKill,      FaultKind::kPartition, FaultKind::kStall,    FaultKind::kReset,
    FaultKind::kLinkLatency, FaultKind::kBandwidth, FaultKind::kTamper, FaultKind::kClockSkew,
    FaultKind::kClockJump, FaultKind::kNsmFail};
// The kinds that disturb the sealed model's delivery (KMS, S3): swarm mode's extra default
// kinds in a sealed deployment.
inline constexpr FaultKind kKeyDeliveryFaultKinds[] = {FaultKind::kKmsError, FaultKind::kS3Error};

// Events a fault can fire at besides a time or a forward pass.
enum class FaultEvent {
  kKmsCall,  // the stage's KMS Decrypt request has reached KMS and its answer has not left yet
};

// An error a key service or object store can answer with, as the real one sends it.
struct ServiceErrorSpec {
  std::string_view code;  // KMS __type / S3 <Code>
  int http_status;
  std::string_view message;
};
// AccessDeniedException, KMSInternalException, ThrottlingException,
// DependencyTimeoutException, KMSInvalidStateException.
const std::vector<ServiceErrorSpec>& kms_error_specs();
// InternalError (500), SlowDown (503), AccessDenied (403), NoSuchKey (404).
const std::vector<ServiceErrorSpec>& s3_error_specs();
// The spec named `code` for a kms_error / s3_error fault; null when it has none by that name.
const ServiceErrorSpec* service_error_spec(FaultKind kind, std::string_view code);
// Targets other than a stage (SimFault::stage): the orchestrator (clock faults), and the key
// service and object store of a sealed deployment (network faults on the host's link to them).
inline constexpr int kFaultNodeOrchestrator = -1;
inline constexpr int kFaultNodeKms = -2;
inline constexpr int kFaultNodeS3 = -3;

// What a hostile host does to the relayed bytes it picks.
enum class TamperAction { kFlip, kDrop, kDuplicate, kReorder, kReplay, kInject };
inline constexpr TamperAction kAllTamperActions[] = {
    TamperAction::kFlip, TamperAction::kDrop, TamperAction::kDuplicate,
    TamperAction::kReorder, TamperAction::kReplay, TamperAction::kInject};

// Which of a stage's relayed connections a tamper fault touches.
enum class TamperChannel { kDataIn, kControl, kDataOut };

// Which direction of the host<->stage link a partition or stall cuts.
enum class LinkDirection { kBoth, kToStage, kFromStage };

struct SimFault {
  FaultKind kind = FaultKind::kKill;
  // The target stage, or kFaultNodeOrchestrator / kFaultNodeKms / kFaultNodeS3.
  int stage = 0;
  // When: at a virtual time, right after the stage's Nth forward pass since the run began
  // (prefill = 1, each generated token one more: "stage 1 after token 7"), or during an event
  // of the stage's (kill only: "during its KMS call"). Exactly one is set.
  std::optional<double> at_ms;
  std::optional<int> after_forwards;
  std::optional<FaultEvent> during;
  // How long the fault lasts (restart, heal, release, restore); < 0: for the rest of the run.
  double duration_ms = -1;
  LinkDirection direction = LinkDirection::kBoth;
  TamperAction action = TamperAction::kFlip;
  TamperChannel channel = TamperChannel::kDataIn;
  int skip_segments = 2;  // tamper: leave each connection's first segments (the handshake) alone
  int count = 1;          // tamper: segments to alter; kms_error/s3_error: calls to answer
                          // with the error (0: every one while active)
  std::string error;      // kms_error / s3_error: the error's code (service_error_spec)
  double latency_ms = 0, jitter_ms = 0;  // link_latency (one way)
  uint64_t bandwidth_bytes_per_s = 0;    // bandwidth
  int64_t skew_ppm = 0;                  // clock_skew
  double jump_ms = 0;                    // clock_jump
  bool operator==(const SimFault&) const = default;
};

// A fault fired during a service call (SimFault::during): which call, and when it arrived at
// the service, when the fault fired, and when the service's answer left (-1: not yet).
struct SimCallTrigger {
  int fault = 0;  // index in the run's faults
  int stage = 0;
  uint64_t call = 0;
  double arrived_ms = -1, fired_ms = -1, answered_ms = -1;
};

std::string_view fault_kind_name(FaultKind kind);  // "kill", "partition", "link_latency", ...
std::optional<FaultKind> parse_fault_kind(std::string_view name);
std::string_view tamper_action_name(TamperAction action);
std::optional<TamperAction> parse_tamper_action(std::string_view name);
std::string_view tamper_channel_name(TamperChannel channel);
std::optional<TamperChannel> parse_tamper_channel(std::string_view name);
std::string_view link_direction_name(LinkDirection direction);
std::optional<LinkDirection> parse_link_direction(std::string_view name);
std::string_view fault_event_name(FaultEvent event);  // "kms_call"
std::optional<FaultEvent> parse_fault_event(std::string_view name);
// One line for timelines and reports: "kill stage1 after forward 3, restart after 400 ms".
std::string describe_fault(const SimFault& fault);

// One request of a workload: session `session` runs its requests one after another, each no
// earlier than its arrival time.
struct SimWorkItem {
  int session = 0;
  std::vector<int32_t> prompt;
  int max_new_tokens = 8;
  double at_ms = 0;
  // A text prompt (scenarios): `prompt` is empty until the model's tokenizer turns this into ids
  // (resolve_text_prompts, scenario_run.h).
  std::string prompt_text;
  bool operator==(const SimWorkItem&) const = default;
};

}  // namespace cpipe::cli

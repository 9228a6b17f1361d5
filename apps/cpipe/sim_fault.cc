// Names of fault kinds, tamper actions, channels and directions (the words scenarios use), and
// the one-line description of a fault (sim_fault.h).
#include "apps/cpipe/sim_fault.h"

#include <cstdio>

namespace cpipe::cli {
namespace {

template <typename E, size_t N>
std::optional<E> lookup(std::string_view name, const std::pair<E, std::string_view> (&table)[N]) {
  for (const auto& [value, text] : table)
    if (text == name) return value;
  return std::nullopt;
}

template <typename E, size_t N>
std::string_view name_of(E value, const std::pair<E, std::string_view> (&table)[N]) {
  for (const auto& [v, text] : table)
    if (v == value) return text;
  return "?";
}

const std::pair<FaultKind, std::string_view> kKinds[] = {
    {FaultKind::kKill, "kill"},
    {FaultKind::kPartition, "partition"},
    {FaultKind::kStall, "stall"},
    {FaultKind::kReset, "reset"},
    {FaultKind::kLinkLatency, "link_latency"},
    {FaultKind::kBandwidth, "bandwidth"},
    {FaultKind::kTamper, "tamper"},
    {FaultKind::kClockSkew, "clock_skew"},
    {FaultKind::kClockJump, "clock_jump"},
    {FaultKind::kNsmFail, "nsm_fail"},
    {FaultKind::kKmsThrottle, "kms_throttle"},
    {FaultKind::kKmsError, "kms_error"},
    {FaultKind::kS3Error, "s3_error"},
};
const std::pair<FaultEvent, std::string_view> kEvents[] = {
    {FaultEvent::kKmsCall, "kms_call"},
};
const std::pair<TamperAction, std::string_view> kActions[] = {
    {TamperAction::kFlip, "flip"},         {TamperAction::kDrop, "drop"},
    {TamperAction::kDuplicate, "duplicate"}, {TamperAction::kReorder, "reorder"},
    {TamperAction::kReplay, "replay"},     {TamperAction::kInject, "inject"},
};
const std::pair<TamperChannel, std::string_view> kChannels[] = {
    {TamperChannel::kDataIn, "data_in"},
    {TamperChannel::kControl, "control"},
    {TamperChannel::kDataOut, "data_out"},
};
const std::pair<LinkDirection, std::string_view> kDirections[] = {
    {LinkDirection::kBoth, "both"},
    {LinkDirection::kToStage, "to_stage"},
    {LinkDirection::kFromStage, "from_stage"},
};

std::string ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g ms", v);
  return buf;
}

}  // namespace

std::string_view fault_kind_name(FaultKind kind) { return name_of(kind, kKinds); }
std::optional<FaultKind> parse_fault_kind(std::string_view name) { return lookup(name, kKinds); }
std::string_view tamper_action_name(TamperAction a) { return name_of(a, kActions); }
std::optional<TamperAction> parse_tamper_action(std::string_view name) { return lookup(name, kActions); }
std::string_view tamper_channel_name(TamperChannel c) { return name_of(c, kChannels); }
std::optional<TamperChannel> parse_tamper_channel(std::string_view name) {
  return lookup(name, kChannels);
}
std::string_view link_direction_name(LinkDirection d) { return name_of(d, kDirections); }
std::optional<LinkDirection> parse_link_direction(std::string_view name) {
  return lookup(name, kDirections);
}

std::string_view fault_event_name(FaultEvent e) { return name_of(e, kEvents); }
std::optional<FaultEvent> parse_fault_event(std::string_view name) { return lookup(name, kEvents); }

// The messages are AWS's own for these errors, so a log line reads like production's.
const std::vector<ServiceErrorSpec>& kms_error_specs() {
  static const std::vector<ServiceErrorSpec> specs = {
      {"AccessDeniedException", 400,
       "The ciphertext refers to a customer master key that does not exist, does not exist in this region, "
       "or you are not allowed to access."},
      {"KMSInternalException", 500, "The request processing has failed because of an unknown error, exception or failure."},
      {"ThrottlingException", 400, "Rate exceeded"},
      {"DependencyTimeoutException", 503, "The system timed out while trying to fulfill the request. The request can be retried."},
      {"KMSInvalidStateException", 400, "The key is pending deletion and cannot be used for this operation."},
  };
  return specs;
}

const std::vector<ServiceErrorSpec>& s3_error_specs() {
  static const std::vector<ServiceErrorSpec> specs = {
      {"InternalError", 500, "We encountered an internal error. Please try again."},
      {"SlowDown", 503, "Please reduce your request rate."},
      {"AccessDenied", 403, "Access Denied"},
      {"NoSuchKey", 404, "The specified key does not exist."},
  };
  return specs;
}

const ServiceErrorSpec* service_error_spec(FaultKind kind, std::string_view code) {
  if (kind != FaultKind::kKmsError && kind != FaultKind::kS3Error) return nullptr;
  for (const ServiceErrorSpec& e : kind == FaultKind::kKmsError ? kms_error_specs() : s3_error_specs())
    if (e.code == code) return &e;
  return nullptr;
}

std::string describe_fault(const SimFault& f) {
  std::string s(fault_kind_name(f.kind));
  if (f.kind == FaultKind::kKmsThrottle) return s + " first " + std::to_string(f.count) + " requests";
  s += f.stage == kFaultNodeOrchestrator ? " orchestrator"
       : f.stage == kFaultNodeKms        ? " kms"
       : f.stage == kFaultNodeS3         ? " s3"
                                         : " stage" + std::to_string(f.stage);
  if (f.at_ms) s += " at " + ms(*f.at_ms);
  if (f.after_forwards) s += " after forward " + std::to_string(*f.after_forwards);
  if (f.during) s += " during " + std::string(fault_event_name(*f.during));
  switch (f.kind) {
    case FaultKind::kKmsError:
    case FaultKind::kS3Error:
      s += " " + f.error + " x" + (f.count == 0 ? std::string("all") : std::to_string(f.count));
      break;
    case FaultKind::kTamper:
      s += " " + std::string(tamper_action_name(f.action)) + " on " +
           std::string(tamper_channel_name(f.channel)) + " x" +
           (f.count == 0 ? std::string("all") : std::to_string(f.count));
      break;
    case FaultKind::kPartition:
    case FaultKind::kStall:
      s += " " + std::string(link_direction_name(f.direction));
      break;
    case FaultKind::kLinkLatency:
      s += " " + ms(f.latency_ms) + " +" + ms(f.jitter_ms);
      break;
    case FaultKind::kBandwidth:
      s += " " + std::to_string(f.bandwidth_bytes_per_s) + " B/s";
      break;
    case FaultKind::kClockSkew:
      s += " " + std::to_string(f.skew_ppm) + " ppm";
      break;
    case FaultKind::kClockJump:
      s += " by " + ms(f.jump_ms);
      break;
    default:
      break;
  }
  if (f.duration_ms >= 0)
    s += (f.kind == FaultKind::kKill ? ", restart after " : ", for ") + ms(f.duration_ms);
  else if (f.kind == FaultKind::kKill)
    s += ", never restarted";
  return s;
}

}  // namespace cpipe::cli

// Applying faults to a simulated pipeline (sim_fault_injector.h): timers and forward-pass
// triggers, the network faults, the hostile relay's tamper filters, clock faults, and the
// attestation wrapper.
#include "apps/cpipe/sim_fault_injector.h"

#include <map>

namespace cpipe::cli {
namespace {

runtime::Duration from_ms(double ms) { return runtime::Duration(int64_t(ms * 1e6)); }

}  // namespace

sim::LatencyDistribution to_distribution(const SimLatencyMs& ms) {
  return sim::LatencyDistribution::quantiles(from_ms(ms.p0), from_ms(ms.p50), from_ms(ms.p99),
                                             from_ms(ms.p100));
}

// The hostile host on one of a stage's relayed connections: leaves each connection's first
// segments (the handshake) alone, then alters `count` data segments (0: all while active).
class SimFaultInjector::Tamper final : public sim::LinkFilter {
 public:
  Tamper(const SimFault& fault, runtime::Endpoint target, sim::SimRandom& random, uint64_t& tampered,
         std::function<int64_t()> now_ns)
      : f_(fault), target_(std::move(target)), random_(random), tampered_(tampered), now_ns_(std::move(now_ns)) {}
  bool active = false;

  Verdict on_segment(const sim::SegmentInfo& info, Bytes& data) override {
    if (info.kind != sim::SegmentKind::kData || data.empty()) return {};
    // The target is the listening end: the stage's control/data_in, or the host's data_out port.
    if (info.to != target_) return {};
    // Counted while inactive too: the skipped segments are each connection's first (handshake).
    if (++seen_[info.connection_id] <= f_.skip_segments || !active) return {};
    if (f_.count > 0 && done_ >= f_.count) return {};
    switch (f_.action) {
      case TamperAction::kFlip:
        data[random_.uniform(data.size())] ^= uint8_t(1u << random_.uniform(8));
        return done();
      case TamperAction::kDrop:
        done();
        return {.drop = true};
      case TamperAction::kDuplicate: {
        Bytes copy = data;
        data.insert(data.end(), copy.begin(), copy.end());
        return done();
      }
      case TamperAction::kReorder: {
        // Hold this segment back and send it after the connection's next one.
        auto held = held_.find(info.connection_id);
        if (held == held_.end()) {
          held_.emplace(info.connection_id, data);
          return {.drop = true};
        }
        data.insert(data.end(), held->second.begin(), held->second.end());
        held_.erase(held);
        return done();
      }
      case TamperAction::kReplay: {
        // Remember the first eligible segment; send it again in front of the next one.
        auto old = held_.find(info.connection_id);
        if (old == held_.end()) {
          held_.emplace(info.connection_id, data);
          return {};
        }
        data.insert(data.begin(), old->second.begin(), old->second.end());
        held_.erase(old);
        return done();
      }
      case TamperAction::kInject: {
        Bytes junk(1 + random_.uniform(64));
        random_.fill(junk);
        data.insert(data.begin() + ptrdiff_t(random_.uniform(data.size() + 1)), junk.begin(),
                    junk.end());
        return done();
      }
    }
    return {};
  }

  int altered() const { return done_; }
  int64_t first_ns = -1;  // when it first altered a segment

 private:
  Verdict done() {
    if (done_ == 0) first_ns = now_ns_();
    ++done_;
    ++tampered_;
    return {};
  }
  const SimFault& f_;
  runtime::Endpoint target_;
  sim::SimRandom& random_;
  uint64_t& tampered_;
  std::function<int64_t()> now_ns_;
  int done_ = 0;
  std::map<uint64_t, int> seen_;
  std::map<uint64_t, Bytes> held_;
};

// The injector's face at a service's request boundary (SimKms or SimS3).
class SimFaultInjector::ServiceFaults final : public sim::SimServiceFilter {
 public:
  ServiceFaults(SimFaultInjector* owner, FaultKind kind) : owner_(owner), kind_(kind) {}
  std::optional<sim::SimInjectedError> on_request(const sim::SimServiceCall& call) override {
    return owner_->on_service_request(kind_, call);
  }
  void on_answer(const sim::SimServiceCall& call, int http_status) override {
    owner_->on_service_answer(kind_, call, http_status);
  }

 private:
  SimFaultInjector* owner_;
  FaultKind kind_;  // kKmsError or kS3Error: which service this filter sits in front of
};

SimFaultInjector::SimFaultInjector(SimFaultTargets targets, std::vector<SimFault> faults)
    : t_(std::move(targets)), faults_(std::move(faults)), fired_(faults_.size()),
      active_(faults_.size()), tampers_(faults_.size()),
      random_(t_.world->root_random().fork("faults")), served_(faults_.size()) {
  for (size_t i = 0; i < faults_.size(); ++i) {
    const SimFault& f = faults_[i];
    if (f.kind != FaultKind::kTamper) continue;
    size_t s = size_t(f.stage);
    bool stage_sends = f.channel == TamperChannel::kDataOut;
    runtime::Endpoint target = f.channel == TamperChannel::kControl  ? t_.control[s]
                               : f.channel == TamperChannel::kDataIn ? t_.data_in[s]
                                                                     : t_.data_out[s];
    tampers_[i] = std::make_unique<Tamper>(f, target, *random_, tampered_,
                                           [w = t_.world] { return w->now().ns; });
    if (stage_sends)
      t_.world->network().add_filter(*t_.stages[s], *t_.host, tampers_[i].get());
    else
      t_.world->network().add_filter(*t_.host, *t_.stages[s], tampers_[i].get());
  }
}

SimFaultInjector::~SimFaultInjector() {
  for (auto& tamper : tampers_)
    if (tamper) t_.world->network().remove_filter(tamper.get());
}

Status SimFaultInjector::validate(const std::vector<SimFault>& faults, int stages) {
  for (size_t i = 0; i < faults.size(); ++i) {
    const SimFault& f = faults[i];
    auto bad = [&](const std::string& why) {
      return make_error(ErrorCode::INVALID_ARGUMENT,
                        "fault " + std::to_string(i) + " (" + describe_fault(f) + "): " + why);
    };
    if (f.kind == FaultKind::kKmsThrottle) {
      if (f.count < 1) return bad("count must be >= 1");
      continue;  // SimKms's own throttling (sim_key_delivery.h), not an injected fault
    }
    bool clock = f.kind == FaultKind::kClockSkew || f.kind == FaultKind::kClockJump;
    bool network = f.kind == FaultKind::kPartition || f.kind == FaultKind::kStall || f.kind == FaultKind::kReset ||
                   f.kind == FaultKind::kLinkLatency || f.kind == FaultKind::kBandwidth;
    bool service = f.kind == FaultKind::kKmsError || f.kind == FaultKind::kS3Error;
    if (f.stage >= stages || f.stage < kFaultNodeS3) return bad("no such stage");
    if (f.stage == kFaultNodeOrchestrator && !clock) return bad("the orchestrator takes clock faults only");
    if (f.kind == FaultKind::kKmsError && f.stage != kFaultNodeKms) return bad("kms_error targets kms");
    if (f.kind == FaultKind::kS3Error && f.stage != kFaultNodeS3) return bad("s3_error targets s3");
    if ((f.stage == kFaultNodeKms || f.stage == kFaultNodeS3) && !network && !service)
      return bad("kms and s3 take network and service-error faults only");
    if (service && !service_error_spec(f.kind, f.error)) return bad("unknown error '" + f.error + "'");
    if (service && f.count < 0) return bad("count must be >= 0");
    if (int(f.at_ms.has_value()) + int(f.after_forwards.has_value()) + int(f.during.has_value()) != 1)
      return bad("needs exactly one of at_ms, after_forwards and during");
    if (f.during && (f.kind != FaultKind::kKill || f.stage < 0)) return bad("only a stage's kill fires during an event");
    if (service && !f.at_ms) return bad("service errors start at a time");
    if (f.at_ms && *f.at_ms < 0) return bad("at_ms is negative");
    if (f.after_forwards && *f.after_forwards < 1) return bad("after_forwards must be >= 1");
    if (f.after_forwards && f.stage < 0) return bad("the orchestrator has no forward passes");
    if (f.kind == FaultKind::kTamper && (f.count < 0 || f.skip_segments < 0))
      return bad("count and skip_segments must be >= 0");
    if (f.kind == FaultKind::kLinkLatency && (f.latency_ms < 0 || f.jitter_ms < 0))
      return bad("latency and jitter must be >= 0");
    if (f.kind == FaultKind::kBandwidth && f.bandwidth_bytes_per_s == 0)
      return bad("bandwidth must be > 0");
  }
  return Status::Ok();
}

void SimFaultInjector::arm() {
  for (size_t i = 0; i < faults_.size(); ++i) {
    if (!faults_[i].at_ms) continue;
    runtime::Duration after = from_ms(*faults_[i].at_ms) - (t_.world->now() - runtime::MonoTime{0});
    t_.world->start_timer("host", std::max(after, runtime::Duration(0)), [this, i] { inject(i); });
  }
}

void SimFaultInjector::on_forward(int stage, int forwards) {
  for (size_t i = 0; i < faults_.size(); ++i) {
    const SimFault& f = faults_[i];
    if (fired_[i] || f.stage != stage || f.after_forwards != forwards) continue;
    fired_[i] = true;  // now: a second forward pass before the post runs must not fire it again
    // After the forward pass returns to the stage, never in the middle of the model call.
    t_.world->post([this, i] { inject(i); });
  }
}

std::vector<double> SimFaultInjector::tamper_first_ms() const {
  std::vector<double> out;
  for (const auto& t : tampers_)
    if (t && t->altered() > 0) out.push_back(double(t->first_ns) / 1e6);
  return out;
}

bool SimFaultInjector::nsm_failing(int stage) const {
  for (size_t i = 0; i < faults_.size(); ++i)
    if (active_[i] && faults_[i].kind == FaultKind::kNsmFail && faults_[i].stage == stage) return true;
  return false;
}

sim::SimServiceFilter* SimFaultInjector::kms_filter() {
  if (!kms_filter_) kms_filter_ = std::make_unique<ServiceFaults>(this, FaultKind::kKmsError);
  return kms_filter_.get();
}

sim::SimServiceFilter* SimFaultInjector::s3_filter() {
  if (!s3_filter_) s3_filter_ = std::make_unique<ServiceFaults>(this, FaultKind::kS3Error);
  return s3_filter_.get();
}

std::optional<sim::SimInjectedError> SimFaultInjector::on_service_request(FaultKind kind,
                                                                          const sim::SimServiceCall& call) {
  sim::SimWorld& w = *t_.world;
  // "during: kms_call": the stage's Decrypt request is at KMS now, and its answer leaves only
  // after KMS's latency; the fault fires right after this handler (same virtual time).
  if (kind == FaultKind::kKmsError && call.op == "Decrypt" && t_.kms_caller_stage) {
    const int stage = t_.kms_caller_stage(call.caller);
    for (size_t i = 0; i < faults_.size(); ++i) {
      const SimFault& f = faults_[i];
      if (fired_[i] || f.during != FaultEvent::kKmsCall || f.stage != stage) continue;
      fired_[i] = true;
      triggers_.push_back({int(i), stage, call.id, double(w.now().ns) / 1e6, -1, -1});
      t_.note("kms", "Decrypt call " + std::to_string(call.id) + " from stage" + std::to_string(stage) +
                         " arrived (it is in flight until KMS answers)");
      const size_t record = triggers_.size() - 1;
      w.post([this, i, record] {
        triggers_[record].fired_ms = double(t_.world->now().ns) / 1e6;
        inject(i);
      });
    }
  }
  for (size_t i = 0; i < faults_.size(); ++i) {
    const SimFault& f = faults_[i];
    if (f.kind != kind || !active_[i] || (f.count > 0 && served_[i] >= f.count)) continue;
    const ServiceErrorSpec* spec = service_error_spec(kind, f.error);
    if (!spec) continue;  // validate() refuses these
    ++served_[i];
    ++service_errors_;
    w.trace().record_fault(w.now(), "service_error", describe_fault(f) + ": call " + std::to_string(call.id) +
                                                         " " + call.op + " answered " + std::string(spec->code));
    if (f.count > 0 && served_[i] >= f.count) end(i);  // the burst is over
    return sim::SimInjectedError{spec->http_status, std::string(spec->code), std::string(spec->message)};
  }
  return std::nullopt;
}

void SimFaultInjector::on_service_answer(FaultKind kind, const sim::SimServiceCall& call, int http_status) {
  if (kind != FaultKind::kKmsError) return;
  for (SimCallTrigger& t : triggers_) {
    if (t.call != call.id || t.answered_ms >= 0) continue;
    t.answered_ms = double(t_.world->now().ns) / 1e6;
    t_.note("kms", "answered Decrypt call " + std::to_string(call.id) + " (HTTP " + std::to_string(http_status) +
                       ") after its caller, stage" + std::to_string(t.stage) + ", was killed");
  }
}

sim::SimNode* SimFaultInjector::node_of(const SimFault& f) const {
  switch (f.stage) {
    case kFaultNodeOrchestrator: return t_.orchestrator;
    case kFaultNodeKms: return t_.world->find_node("kms");  // only in sealed deployments
    case kFaultNodeS3: return t_.world->find_node("s3");
    default: return t_.stages[size_t(f.stage)];
  }
}

void SimFaultInjector::inject(size_t i) {
  fired_[i] = true;
  active_[i] = true;
  const SimFault& f = faults_[i];
  sim::SimWorld& w = *t_.world;
  sim::SimNetwork& net = w.network();
  if (node_of(f) == nullptr) {
    t_.note("host", "fault skipped (no such node in this deployment): " + describe_fault(f));
    active_[i] = false;
    return;
  }
  sim::SimNode& node = *node_of(f);
  injected_at_.push_back(w.now().ns);
  w.trace().record_fault(w.now(), "scenario_fault", describe_fault(f));
  t_.note("host", "fault: " + describe_fault(f));
  switch (f.kind) {
    case FaultKind::kKill:
      t_.kill(f.stage, f.duration_ms);
      active_[i] = false;
      return;  // the session restarts it
    case FaultKind::kPartition:
    case FaultKind::kStall: {
      auto mode = f.kind == FaultKind::kStall ? sim::PartitionMode::kHold : sim::PartitionMode::kDrop;
      if (f.direction != LinkDirection::kFromStage) net.partition_directed(*t_.host, node, mode);
      if (f.direction != LinkDirection::kToStage) net.partition_directed(node, *t_.host, mode);
      break;
    }
    case FaultKind::kReset:
      net.reset_between(*t_.host, node);
      active_[i] = false;
      return;
    case FaultKind::kLinkLatency: {
      sim::LinkConfig c = t_.base_link;
      c.latency = to_distribution({f.latency_ms, f.latency_ms + f.jitter_ms / 2,
                                   f.latency_ms + f.jitter_ms * 0.99, f.latency_ms + f.jitter_ms});
      net.set_link(*t_.host, node, c);
      break;
    }
    case FaultKind::kBandwidth: {
      sim::LinkConfig c = t_.base_link;
      c.bandwidth_bytes_per_s = f.bandwidth_bytes_per_s;
      net.set_link(*t_.host, node, c);
      break;
    }
    case FaultKind::kTamper:
      tampers_[i]->active = true;
      break;
    case FaultKind::kClockSkew:
      node.set_wall_skew_ppm(node.wall_skew_ppm() + f.skew_ppm);
      break;
    case FaultKind::kClockJump:
      node.set_wall_offset(node.wall_offset() + from_ms(f.jump_ms));
      break;
    case FaultKind::kNsmFail:
    case FaultKind::kKmsThrottle:
    case FaultKind::kKmsError:  // the service filters answer while the fault is active
    case FaultKind::kS3Error:
      break;
  }
  if (f.duration_ms >= 0) w.start_timer("host", from_ms(f.duration_ms), [this, i] { end(i); });
}

void SimFaultInjector::end(size_t i) {
  if (!active_[i]) return;
  active_[i] = false;
  const SimFault& f = faults_[i];
  sim::SimWorld& w = *t_.world;
  sim::SimNode& node = *node_of(f);
  w.trace().record_fault(w.now(), "scenario_fault_end", describe_fault(f));
  t_.note("host", "fault over: " + describe_fault(f));
  switch (f.kind) {
    case FaultKind::kPartition:
    case FaultKind::kStall:
      w.network().heal(*t_.host, node);
      break;
    case FaultKind::kLinkLatency:
    case FaultKind::kBandwidth:
      w.network().set_link(*t_.host, node, t_.base_link);
      break;
    case FaultKind::kTamper:
      tampers_[i]->active = false;
      break;
    case FaultKind::kClockSkew:
      node.set_wall_skew_ppm(node.wall_skew_ppm() - f.skew_ppm);
      break;
    case FaultKind::kClockJump:
      node.set_wall_offset(node.wall_offset() - from_ms(f.jump_ms));
      break;
    default:
      break;
  }
}

FaultyAttestation::FaultyAttestation(std::unique_ptr<runtime::AttestationProvider> inner,
                                     runtime::Clock& clock, runtime::Random& random,
                                     SimLatencyMs extra_latency, std::function<bool()> failing)
    : inner_(std::move(inner)), clock_(&clock), random_(&random), extra_(extra_latency),
      failing_(std::move(failing)) {}

runtime::Task<Result<runtime::Evidence>> FaultyAttestation::attest(runtime::AttestationRequest request) {
  if (extra_.p100 > 0) {
    runtime::Duration extra = to_distribution(extra_).sample(*random_);
    co_await runtime::sleep_for(*clock_, extra);
  }
  if (failing_ && failing_())
    co_return make_error(ErrorCode::UNAVAILABLE, "NSM: attestation request failed (injected fault)");
  co_return co_await inner_->attest(std::move(request));
}

}  // namespace cpipe::cli

// The event queue and run loop. Events live in an ordered map keyed by (time, sequence), which
// gives FIFO order at equal times and O(log n) cancellation of timers.
#include "backends/simulated/sim_world.h"

#include <cassert>

#include "backends/simulated/sim_network.h"

namespace cpipe::sim {
namespace {

class WorldEventSink final : public EventSink {
 public:
  explicit WorldEventSink(SimWorld& world) : world_(world) {}
  void emit(const Event& event) override { world_.record_event("", event); }

 private:
  SimWorld& world_;
};

}  // namespace

SimWorld::SimWorld(uint64_t seed) : SimWorld(WorldOptions{.seed = seed}) {}

SimWorld::SimWorld(WorldOptions options)
    : options_(options), root_random_(std::make_unique<SimRandom>(options.seed)) {
  if (options_.route_libsodium) sodium_scope_.emplace(fork_random("libsodium"));
  world_sink_ = std::make_unique<WorldEventSink>(*this);
  network_ = std::make_unique<SimNetwork>(*this, fork_random("network"));
}

SimWorld::~SimWorld() {
  // Teardown must not run simulation code: detach streams and listeners from the network (so
  // closing them touches nothing), then drop pending events without running them. Coroutines
  // still suspended at this point are leaked by design (they can never resume).
  shutting_down_ = true;
  network_->detach_all();
  std::map<Key, Entry> pending = std::move(queue_);
  queue_.clear();
  pending.clear();
  nodes_.clear();
  network_.reset();
  sodium_scope_.reset();
}

SimNode& SimWorld::add_node(std::string name, NodeOptions options) {
  assert(find_node(name) == nullptr && "node names are unique");
  if (options.host.empty()) options.host = name;
  nodes_.push_back(std::make_unique<SimNode>(*this, nodes_.size(), std::move(name), options));
  return *nodes_.back();
}

SimNode* SimWorld::find_node(std::string_view name) {
  for (auto& n : nodes_) {
    if (n->name() == name) return n.get();
  }
  return nullptr;
}

SimRandom& SimWorld::fork_random(std::string label) {
  auto child = root_random_->fork(label);
  SimRandom& ref = *child;
  forks_.emplace_back(std::move(label), std::move(child));
  return ref;
}

uint64_t SimWorld::enqueue(int64_t at, Entry entry) {
  if (shutting_down_) return 0;
  at = std::max(at, now_.ns);
  uint64_t seq = next_seq_++;
  if (entry.timer_node >= 0) timers_.emplace(seq, at);
  queue_.emplace(Key{at, seq}, std::move(entry));
  return seq;
}

void SimWorld::post(std::function<void()> fn) { enqueue(now_.ns, Entry{std::move(fn), -1}); }

uint64_t SimWorld::schedule_at(runtime::MonoTime at, std::function<void()> fn) {
  return enqueue(at.ns, Entry{std::move(fn), -1});
}

uint64_t SimWorld::start_timer(std::string_view node_name, runtime::Duration after,
                               std::function<void()> fn) {
  int name_index = -1;
  for (size_t i = 0; i < timer_names_.size(); ++i) {
    if (timer_names_[i] == node_name) name_index = int(i);
  }
  if (name_index < 0) {
    timer_names_.emplace_back(node_name);
    name_index = int(timer_names_.size() - 1);
  }
  int64_t after_ns = std::max<int64_t>(after.count(), 0);
  return enqueue(now_.ns + after_ns, Entry{std::move(fn), name_index});
}

bool SimWorld::cancel_timer(uint64_t id) {
  if (shutting_down_) return false;
  auto it = timers_.find(id);
  if (it == timers_.end()) return false;
  queue_.erase(Key{it->second, id});
  timers_.erase(it);
  return true;
}

Status SimWorld::check_limits(int64_t next_time) const {
  if (events_run_ >= options_.max_events) {
    return make_error(ErrorCode::SIM_LIMIT_EXCEEDED,
                      "event limit of " + std::to_string(options_.max_events) +
                          " reached at t=" + std::to_string(now_.ns) + "ns (livelock?)");
  }
  if (next_time > options_.max_time.count()) {
    return make_error(ErrorCode::SIM_LIMIT_EXCEEDED,
                      "virtual-time limit of " + std::to_string(options_.max_time.count()) +
                          "ns reached (livelock, or a periodic timer under run_until_idle?)");
  }
  return Status::Ok();
}

void SimWorld::run_one() {
  auto it = queue_.begin();
  now_ = runtime::MonoTime{it->first.first};
  uint64_t seq = it->first.second;
  Entry entry = std::move(it->second);
  queue_.erase(it);
  ++events_run_;
  if (entry.timer_node >= 0) {
    timers_.erase(seq);
    trace_.record_timer(now_, timer_names_[size_t(entry.timer_node)], seq);
  }
  if (entry.fn) entry.fn();
}

bool SimWorld::step() {
  if (queue_.empty() || !check_limits(queue_.begin()->first.first).ok()) return false;
  run_one();
  return true;
}

Status SimWorld::run_until_idle() {
  while (!queue_.empty()) {
    CPIPE_RETURN_IF_ERROR(check_limits(queue_.begin()->first.first));
    run_one();
  }
  return Status::Ok();
}

Status SimWorld::run_until(runtime::MonoTime t) {
  while (!queue_.empty() && queue_.begin()->first.first <= t.ns) {
    CPIPE_RETURN_IF_ERROR(check_limits(queue_.begin()->first.first));
    run_one();
  }
  CPIPE_RETURN_IF_ERROR(check_limits(t.ns));
  if (t > now_) now_ = t;
  return Status::Ok();
}

void SimWorld::record_event(std::string_view node, const Event& event) {
  trace_.record_event(now_, node, event);
  if (!keep_events_ && !event_printer_) return;
  TimedEvent te{now_, std::string(node), event};
  if (event_printer_) event_printer_(te);
  if (keep_events_) kept_events_.push_back(std::move(te));
}

uint64_t SimWorld::unseed() {
  Bytes summary;
  ByteWriter w(summary);
  for (const auto& [label, rng] : forks_) {
    w.var32(ByteSpan(reinterpret_cast<const uint8_t*>(label.data()), label.size()));
    w.u64_le(rng->bytes_drawn());
  }
  w.u64_le(root_random_->bytes_drawn());
  root_random_->mix(summary);
  return root_random_->next_u64();
}

}  // namespace cpipe::sim

// SimWorld: the deterministic simulator's event loop. One thread, virtual time: every callback,
// coroutine resumption, timer, packet arrival and compute completion is an event ordered by
// (virtual time ns, sequence number), so events at the same instant run FIFO in the order they
// were scheduled. Nothing reads a real clock or OS randomness; a run is a pure function of the
// seed (and the build). The world owns the simulated processes (SimNode), the network, the
// root random stream and the trace recorder.
//
//   SimWorld world(seed);
//   SimNode& node = world.add_node("stage0", {.host = "stage0", .cid = 16});
//   runtime::spawn(node, serve(node.env()));
//   Status st = world.run_until_idle();   // or run_until(t) / run_for(d)
//   std::cout << world.trace_hash() << " " << world.unseed();
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "backends/simulated/sim_node.h"
#include "backends/simulated/sim_random.h"
#include "backends/simulated/trace.h"
#include "core/base/event.h"
#include "core/base/status.h"
#include "core/runtime/clock.h"
#include "core/runtime/executor.h"

namespace cpipe::sim {

class SimNetwork;

struct WorldOptions {
  uint64_t seed = 1;
  // Wall time of virtual instant 0 (before each node's own offset): 2026-01-01T00:00:00Z.
  runtime::WallTime epoch{1767225600LL * 1'000'000'000};
  // Safety limits over the world's whole life: running past either is SIM_LIMIT_EXCEEDED, so a
  // livelock (e.g. a retry loop without backoff, a periodic timer under run_until_idle) ends
  // with an error instead of hanging the test.
  uint64_t max_events = 50'000'000;
  runtime::Duration max_time = std::chrono::hours(24 * 30);
  // Route libsodium's randombytes_* through the world's root stream while the world exists.
  bool route_libsodium = true;
};

// A structured event as the world saw it: stamped with virtual time and the emitting node.
struct TimedEvent {
  runtime::MonoTime time;
  std::string node;
  Event event;
};

class SimWorld final : public runtime::Executor {
 public:
  explicit SimWorld(uint64_t seed);
  explicit SimWorld(WorldOptions options);
  ~SimWorld() override;
  SimWorld(const SimWorld&) = delete;
  SimWorld& operator=(const SimWorld&) = delete;

  // Adds a simulated process. Names are unique (asserted); host defaults to the name.
  SimNode& add_node(std::string name, NodeOptions options = {});
  SimNode* find_node(std::string_view name);
  SimNode& node(size_t index) { return *nodes_[index]; }
  size_t node_count() const { return nodes_.size(); }

  // --- running -------------------------------------------------------------------------------
  // Runs events until none is left.
  Status run_until_idle();
  // Runs every event at or before `t`, then sets the clock to `t`.
  Status run_until(runtime::MonoTime t);
  Status run_for(runtime::Duration d) { return run_until(now_ + d); }
  // Runs exactly one event; false when the queue is empty or a limit is hit.
  bool step();

  runtime::MonoTime now() const { return now_; }
  runtime::WallTime epoch() const { return options_.epoch; }
  uint64_t events_run() const { return events_run_; }
  size_t events_pending() const { return queue_.size(); }

  // --- scheduling (used by nodes, the network and fault injectors) ----------------------------
  // Executor: an event at the current virtual time, after those already scheduled for it.
  void post(std::function<void()> fn) override;
  // An untraced internal event at `at` (clamped to now). Returns its id.
  uint64_t schedule_at(runtime::MonoTime at, std::function<void()> fn);
  // A timer owned by `node_name`: traced when it fires, cancellable.
  uint64_t start_timer(std::string_view node_name, runtime::Duration after,
                       std::function<void()> fn);
  bool cancel_timer(uint64_t id);

  // --- determinism -----------------------------------------------------------------------------
  SimRandom& root_random() { return *root_random_; }
  // A named child of the root stream, registered so that unseed() accounts for its draws.
  SimRandom& fork_random(std::string label);
  TraceRecorder& trace() { return trace_; }
  const TraceRecorder& trace() const { return trace_; }
  std::string trace_hash() const { return trace_.trace_hash(); }
  // FoundationDB's "unseed": folds how many bytes every registered stream drew into the root
  // stream, then makes one final draw from it. Two runs with the same seed that consumed
  // randomness differently get different unseeds even when their traces agree. Call once, at
  // the end of a run (it changes the root stream).
  uint64_t unseed();

  // --- events (structured logging) ---------------------------------------------------------------
  // The world-level sink (node name ""); nodes have their own sinks that tag their name.
  EventSink& events() { return *world_sink_; }
  void record_event(std::string_view node, const Event& event);
  // Keep every event (with virtual time) in memory; off by default.
  void set_keep_events(bool keep) { keep_events_ = keep; }
  const std::vector<TimedEvent>& kept_events() const { return kept_events_; }
  // Called for every event (e.g. to print "t=1.000200s stage0 info channel ...").
  void set_event_printer(std::function<void(const TimedEvent&)> printer) {
    event_printer_ = std::move(printer);
  }

  SimNetwork& network() { return *network_; }
  const WorldOptions& options() const { return options_; }

 private:
  struct Entry {
    std::function<void()> fn;
    int timer_node = -1;  // index into timer_names_ when this event is a node timer
  };
  using Key = std::pair<int64_t, uint64_t>;  // (time ns, sequence)

  uint64_t enqueue(int64_t at, Entry entry);
  Status check_limits(int64_t next_time) const;
  void run_one();

  WorldOptions options_;
  bool shutting_down_ = false;
  runtime::MonoTime now_{0};
  uint64_t next_seq_ = 1;
  uint64_t events_run_ = 0;
  std::map<Key, Entry> queue_;
  std::unordered_map<uint64_t, int64_t> timers_;  // pending timer id -> its time
  std::vector<std::string> timer_names_;          // node names referenced by timer entries

  std::unique_ptr<SimRandom> root_random_;
  std::vector<std::pair<std::string, std::unique_ptr<SimRandom>>> forks_;
  std::optional<SodiumRandomScope> sodium_scope_;
  TraceRecorder trace_;

  std::unique_ptr<EventSink> world_sink_;
  bool keep_events_ = false;
  std::vector<TimedEvent> kept_events_;
  std::function<void(const TimedEvent&)> event_printer_;

  std::unique_ptr<SimNetwork> network_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
};

}  // namespace cpipe::sim

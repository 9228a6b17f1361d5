// SimNode: one simulated process ("stage0", "kms", "client"). It has a name, a network identity
// (a TCP host name and/or a VSock CID), its own view of the clock (a wall-clock offset and skew
// that fault injection can change: the host owns the enclave's wall clock), its own random
// stream forked from the world's seed, one simulated core for Compute, and an EventSink that
// tags its events with its name. env() bundles these as the runtime::Env that core code runs on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "backends/simulated/sim_compute.h"
#include "backends/simulated/sim_random.h"
#include "core/base/event.h"
#include "core/runtime/clock.h"
#include "core/runtime/env.h"
#include "core/runtime/executor.h"
#include "core/runtime/transport.h"

namespace cpipe::sim {

class SimWorld;

struct NodeOptions {
  std::string host{};      // TCP host name; empty = the node's name
  uint32_t cid = 0;        // VSock CID; 0 = the node has no VSock address
  runtime::Duration wall_offset{0};  // added to its wall clock
  int64_t wall_skew_ppm = 0;         // its wall clock runs (1 + ppm/1e6) times virtual time
  int compute_threads = 1;           // simulated cores for Compute
};

class SimNode;

// The node's Clock: monotonic time is the world's virtual time; wall time is the world epoch
// plus virtual time scaled by the skew, plus the offset (integer arithmetic only).
class SimClock final : public runtime::Clock {
 public:
  explicit SimClock(SimNode& node) : node_(node) {}
  runtime::MonoTime now() const override;
  runtime::WallTime wall_now() const override;
  runtime::TimerId start_timer(runtime::Duration after, std::function<void()> fn) override;
  bool cancel_timer(runtime::TimerId id) override;

 private:
  SimNode& node_;
};

class SimNode final : public runtime::Executor {
 public:
  SimNode(SimWorld& world, size_t index, std::string name, NodeOptions options);
  ~SimNode() override;

  const std::string& name() const { return name_; }
  size_t index() const { return index_; }
  const std::string& host() const { return options_.host; }
  uint32_t cid() const { return options_.cid; }
  SimWorld& world() { return world_; }

  // Executor: events at the current virtual time on the world's queue.
  void post(std::function<void()> fn) override;

  runtime::Clock& clock() { return clock_; }
  SimRandom& random() { return *random_; }
  SimCompute& compute() { return compute_; }
  EventSink& events() { return *sink_; }
  Logger logger(std::string component) { return Logger(sink_.get(), std::move(component)); }

  // The node's network as core code sees it: the outermost installed wrapper, or the raw
  // simulated network.
  runtime::Network& network() { return *network_top_; }
  runtime::Network& raw_network() { return *network_; }
  // Installs a wrapper (e.g. a fault injector built over `network()`); the node keeps it alive.
  // Install before taking env(): Env holds plain pointers.
  void install_network(std::unique_ptr<runtime::Network> outer);

  runtime::Env env();

  // Fault hooks on the node's wall clock (the host controls it); recorded in the trace.
  void set_wall_offset(runtime::Duration offset);
  void set_wall_skew_ppm(int64_t ppm);
  runtime::Duration wall_offset() const { return options_.wall_offset; }
  int64_t wall_skew_ppm() const { return options_.wall_skew_ppm; }

 private:
  friend class SimClock;
  SimWorld& world_;
  size_t index_;
  std::string name_;
  NodeOptions options_;
  SimClock clock_;
  SimRandom* random_;  // owned by the world (registered for unseed)
  SimCompute compute_;
  std::unique_ptr<EventSink> sink_;
  std::unique_ptr<runtime::Network> network_;
  std::vector<std::unique_ptr<runtime::Network>> wrappers_;
  runtime::Network* network_top_;
};

}  // namespace cpipe::sim

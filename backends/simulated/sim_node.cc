// A simulated process: its clock view, executor, event sink and Env.
#include "backends/simulated/sim_node.h"

#include "backends/simulated/sim_network.h"
#include "backends/simulated/sim_world.h"

namespace cpipe::sim {
namespace {

class NodeEventSink final : public EventSink {
 public:
  explicit NodeEventSink(SimNode& node) : node_(node) {}
  void emit(const Event& event) override { node_.world().record_event(node_.name(), event); }

 private:
  SimNode& node_;
};

}  // namespace

runtime::MonoTime SimClock::now() const { return node_.world_.now(); }

runtime::WallTime SimClock::wall_now() const {
  int64_t v = node_.world_.now().ns;
  // 128-bit intermediate: ppm scaling of a month of nanoseconds overflows 64 bits otherwise.
  __int128 skewed = (__int128)v * node_.options_.wall_skew_ppm / 1'000'000;
  return runtime::WallTime{node_.world_.epoch().unix_ns + v + int64_t(skewed) +
                           node_.options_.wall_offset.count()};
}

runtime::TimerId SimClock::start_timer(runtime::Duration after, std::function<void()> fn) {
  return node_.world_.start_timer(node_.name_, after, std::move(fn));
}

bool SimClock::cancel_timer(runtime::TimerId id) { return node_.world_.cancel_timer(id); }

SimNode::SimNode(SimWorld& world, size_t index, std::string name, NodeOptions options)
    : world_(world),
      index_(index),
      name_(std::move(name)),
      options_(std::move(options)),
      clock_(*this),
      random_(&world.fork_random("node:" + name_)),
      compute_(world, options_.compute_threads),
      sink_(std::make_unique<NodeEventSink>(*this)),
      network_(world.network().make_node_network(*this)),
      network_top_(network_.get()) {}

SimNode::~SimNode() = default;

void SimNode::post(std::function<void()> fn) { world_.post(std::move(fn)); }

void SimNode::install_network(std::unique_ptr<runtime::Network> outer) {
  network_top_ = outer.get();
  wrappers_.push_back(std::move(outer));
}

void SimNode::set_wall_offset(runtime::Duration offset) {
  options_.wall_offset = offset;
  world_.trace().record_fault(world_.now(), "wall_offset",
                              name_ + " " + std::to_string(offset.count()) + "ns");
}

void SimNode::set_wall_skew_ppm(int64_t ppm) {
  options_.wall_skew_ppm = ppm;
  world_.trace().record_fault(world_.now(), "wall_skew", name_ + " " + std::to_string(ppm) + "ppm");
}

runtime::Env SimNode::env() {
  runtime::Env env;
  env.executor = this;
  env.clock = &clock_;
  env.random = random_;
  env.network = network_top_;
  env.compute = &compute_;
  env.events = sink_.get();
  return env;
}

}  // namespace cpipe::sim

// The simulated fabric's public face: latency distributions, link configuration and the fault
// hooks. The machinery lives in sim_network_impl.h; streams and listeners in sim_stream.cc.
#include "backends/simulated/sim_network.h"

#include <cassert>

#include "backends/simulated/sim_network_impl.h"

namespace cpipe::sim {

// ---- latency -------------------------------------------------------------------------------

LatencyDistribution LatencyDistribution::fixed(Duration d) {
  return {d.count(), d.count(), d.count(), d.count()};
}

LatencyDistribution LatencyDistribution::quantiles(Duration p0, Duration p50, Duration p99,
                                                   Duration p100) {
  return {p0.count(), p50.count(), p99.count(), p100.count()};
}

bool LatencyDistribution::valid() const {
  return p0_ns >= 0 && p0_ns <= p50_ns && p50_ns <= p99_ns && p99_ns <= p100_ns;
}

int64_t LatencyDistribution::at_ppm(uint64_t ppm) const {
  static constexpr int64_t kX[4] = {0, 500'000, 990'000, 1'000'000};
  const int64_t y[4] = {p0_ns, p50_ns, p99_ns, p100_ns};
  int64_t x = int64_t(std::min<uint64_t>(ppm, 1'000'000));
  for (int i = 0; i < 3; ++i) {
    if (x <= kX[i + 1]) {
      __int128 dy = __int128(y[i + 1] - y[i]) * (x - kX[i]);
      return y[i] + int64_t(dy / (kX[i + 1] - kX[i]));
    }
  }
  return p100_ns;
}

Duration LatencyDistribution::sample(runtime::Random& random) const {
  if (p0_ns == p100_ns) return Duration(p0_ns);  // fixed: no draw
  return Duration(at_ppm(random.uniform(1'000'001)));
}

std::string_view segment_kind_name(SegmentKind kind) {
  switch (kind) {
    case SegmentKind::kSyn: return "syn";
    case SegmentKind::kSynAck: return "syn-ack";
    case SegmentKind::kRefuse: return "refuse";
    case SegmentKind::kData: return "data";
    case SegmentKind::kFin: return "fin";
    case SegmentKind::kRst: return "rst";
  }
  return "unknown";
}

// ---- SimNetwork ------------------------------------------------------------------------------

SimNetwork::SimNetwork(SimWorld& world, SimRandom& random)
    : impl_(std::make_unique<Impl>(world, random)) {}

SimNetwork::~SimNetwork() { detach_all(); }

void SimNetwork::set_default_link(const LinkConfig& config) {
  assert(config.latency.valid());
  impl_->default_link = config;
}

void SimNetwork::set_link(const SimNode& a, const SimNode& b, const LinkConfig& config) {
  set_link_directed(a, b, config);
  set_link_directed(b, a, config);
}

void SimNetwork::set_link_directed(const SimNode& from, const SimNode& to,
                                   const LinkConfig& config) {
  assert(config.latency.valid());
  impl_->links[{from.index(), to.index()}] = config;
}

const LinkConfig& SimNetwork::link_config(size_t from, size_t to) const {
  return impl_->link(from, to);
}

void SimNetwork::refuse(const Endpoint& endpoint, bool on) {
  SimNode* target = nullptr;
  for (SimNode* n : impl_->nodes) {
    bool match = endpoint.kind == Endpoint::Kind::kTcp ? n->host() == endpoint.host
                                                       : (n->cid() != 0 && n->cid() == endpoint.cid);
    if (match) target = n;
  }
  if (!target) return;
  ListenKey key = listen_key(target->index(), endpoint);
  if (on) {
    impl_->refused.insert(key);
  } else {
    impl_->refused.erase(key);
  }
  impl_->world.trace().record_fault(impl_->world.now(), on ? "refuse" : "unrefuse",
                                    endpoint.to_string());
}

bool SimNetwork::reset_connection(uint64_t id) {
  auto it = impl_->conns.find(id);
  if (it == impl_->conns.end()) return false;
  std::shared_ptr<Conn> c = it->second.lock();
  if (!c || c->reset) return false;
  impl_->world.trace().record_fault(impl_->world.now(), "reset",
                                    c->side[0].local_text + "<->" + c->side[1].local_text);
  impl_->do_reset(c);
  return true;
}

int SimNetwork::reset_between(const SimNode& a, const SimNode& b) {
  std::vector<uint64_t> ids;
  for (const ConnectionInfo& info : connections()) {
    bool ab = info.client_node == a.index() && info.server_node == b.index();
    bool ba = info.client_node == b.index() && info.server_node == a.index();
    if (ab || ba) ids.push_back(info.id);
  }
  int n = 0;
  for (uint64_t id : ids) n += reset_connection(id) ? 1 : 0;
  return n;
}

void SimNetwork::partition(const SimNode& a, const SimNode& b, PartitionMode mode) {
  partition_directed(a, b, mode);
  partition_directed(b, a, mode);
}

void SimNetwork::partition_directed(const SimNode& from, const SimNode& to, PartitionMode mode) {
  auto& p = impl_->partitions[{from.index(), to.index()}];
  p.mode = mode;
  impl_->world.trace().record_fault(
      impl_->world.now(), mode == PartitionMode::kDrop ? "partition_drop_on" : "partition_hold_on",
      from.name() + "->" + to.name());
}

void SimNetwork::heal(const SimNode& a, const SimNode& b) {
  heal_directed(a, b);
  heal_directed(b, a);
}

void SimNetwork::heal_directed(const SimNode& from, const SimNode& to) {
  impl_->heal_link({from.index(), to.index()});
}

void SimNetwork::add_filter(const SimNode& from, const SimNode& to, LinkFilter* filter) {
  impl_->filters[{from.index(), to.index()}].push_back(filter);
}

void SimNetwork::add_global_filter(LinkFilter* filter) { impl_->global_filters.push_back(filter); }

void SimNetwork::remove_filter(LinkFilter* filter) {
  std::erase(impl_->global_filters, filter);
  for (auto& [key, list] : impl_->filters) std::erase(list, filter);
}

std::vector<ConnectionInfo> SimNetwork::connections() const {
  std::vector<ConnectionInfo> out;
  for (const auto& [id, weak] : impl_->conns) {
    std::shared_ptr<Conn> c = weak.lock();
    if (!c || c->reset || (c->side[0].closed && c->side[1].closed)) continue;
    out.push_back({id, c->side[0].node->index(), c->side[1].node->index(), c->side[0].local,
                   c->side[1].local});
  }
  return out;
}

void SimNetwork::detach_all() {
  for (auto& [id, weak] : impl_->conns) {
    if (std::shared_ptr<Conn> c = weak.lock()) {
      c->net = nullptr;
      for (Side& side : c->side) {
        side.reader.reset();
        side.writer.reset();
      }
    }
  }
  for (auto& [key, weak] : impl_->listeners) {
    if (std::shared_ptr<ListenerState> l = weak.lock()) {
      l->net = nullptr;
      l->acceptor.reset();
    }
  }
  for (auto& [key, p] : impl_->partitions) p.held.clear();
}

}  // namespace cpipe::sim

// SimNetwork: the simulated TCP/VSock fabric between SimNodes. Byte streams follow the
// semantics documented in core/runtime/transport.h (refused after one round trip, unreachable,
// connect/read timeouts, EOF, reset, CANCELLED on local close, in-order delivery per
// direction). Links between nodes have a latency distribution, a bandwidth (serialization delay
// on a FIFO queue, so a big write delays later ones) and a segment size (large writes arrive in
// several deliveries). Every delivery is recorded in the world's trace.
//
// Fault hooks, used by tests now and by the fault injector later: refuse an endpoint, reset
// connections, partition two nodes (drop or hold what crosses), and LinkFilters that see every
// segment on a link and may drop, delay or alter it. NetworkWrapper (network_wrapper.h) is the
// other extension point: it wraps a node's runtime::Network.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/runtime/clock.h"
#include "core/runtime/endpoint.h"
#include "core/runtime/random.h"
#include "core/runtime/transport.h"

namespace cpipe::sim {

class SimWorld;
class SimNode;
class SimRandom;

// Latency as a piecewise-linear inverse CDF through the quantiles p0 (minimum), p50, p99 and
// p100 (maximum), in ns. Integer arithmetic only, so the same draw gives the same latency on
// every platform.
struct LatencyDistribution {
  int64_t p0_ns = 0;
  int64_t p50_ns = 0;
  int64_t p99_ns = 0;
  int64_t p100_ns = 0;

  static LatencyDistribution fixed(runtime::Duration d);
  static LatencyDistribution quantiles(runtime::Duration p0, runtime::Duration p50,
                                       runtime::Duration p99, runtime::Duration p100);
  // Non-negative and non-decreasing.
  bool valid() const;
  // The latency at quantile ppm/1e6, ppm in [0, 1'000'000].
  int64_t at_ppm(uint64_t ppm) const;
  runtime::Duration sample(runtime::Random& random) const;
};

struct LinkConfig {
  LatencyDistribution latency = LatencyDistribution::fixed(std::chrono::microseconds(100));
  uint64_t bandwidth_bytes_per_s = 0;  // 0 = unlimited
  size_t segment_size = 16 * 1024;     // a write is delivered in chunks of at most this
};

enum class SegmentKind : uint8_t { kSyn, kSynAck, kRefuse, kData, kFin, kRst };
std::string_view segment_kind_name(SegmentKind kind);

// What a LinkFilter sees of a segment.
struct SegmentInfo {
  SegmentKind kind;
  size_t from_node;
  size_t to_node;
  uint64_t connection_id;  // 0 for segments before a connection exists (syn, refuse)
  runtime::Endpoint from;
  runtime::Endpoint to;
};

// Sees every segment when it is sent on a link, in send order. May change data bytes (a
// corrupting host), drop the segment, or delay it. A delayed segment still arrives in order
// with the rest of its connection (later segments queue behind it, as TCP's would).
class LinkFilter {
 public:
  struct Verdict {
    bool drop = false;
    runtime::Duration extra_delay{0};
  };
  virtual ~LinkFilter() = default;
  virtual Verdict on_segment(const SegmentInfo& info, Bytes& data) = 0;
};

enum class PartitionMode {
  kDrop,  // segments crossing are lost (recorded as faults); connects time out
  kHold,  // segments wait and cross, in order, when the partition heals
};

struct ConnectionInfo {
  uint64_t id;
  size_t client_node;
  size_t server_node;
  runtime::Endpoint client;
  runtime::Endpoint server;
};

class SimNetwork {
 public:
  SimNetwork(SimWorld& world, SimRandom& random);
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // --- links ---------------------------------------------------------------------------------
  void set_default_link(const LinkConfig& config);
  // Both directions between a and b (a == b: the node's loopback).
  void set_link(const SimNode& a, const SimNode& b, const LinkConfig& config);
  void set_link_directed(const SimNode& from, const SimNode& to, const LinkConfig& config);
  const LinkConfig& link_config(size_t from, size_t to) const;

  // --- faults --------------------------------------------------------------------------------
  // Connections to `endpoint` are refused even when something listens there.
  void refuse(const runtime::Endpoint& endpoint, bool on = true);
  // Both ends see TRANSPORT_RESET at once; bytes in flight are discarded.
  bool reset_connection(uint64_t id);
  // Resets every live connection between a and b (either direction); returns how many.
  int reset_between(const SimNode& a, const SimNode& b);
  void partition(const SimNode& a, const SimNode& b, PartitionMode mode);
  void partition_directed(const SimNode& from, const SimNode& to, PartitionMode mode);
  // Lifts the partition in both directions; held segments cross now (after link latency).
  void heal(const SimNode& a, const SimNode& b);
  void heal_directed(const SimNode& from, const SimNode& to);
  // Filters see segments on one directed link, or on every link (`add_global_filter`). The
  // network does not own them; remove before destroying.
  void add_filter(const SimNode& from, const SimNode& to, LinkFilter* filter);
  void add_global_filter(LinkFilter* filter);
  void remove_filter(LinkFilter* filter);

  std::vector<ConnectionInfo> connections() const;

  // --- plumbing for SimNode and the stream implementation ----------------------------------------
  std::unique_ptr<runtime::Network> make_node_network(SimNode& node);
  // Makes every stream and listener inert (world teardown).
  void detach_all();

  struct Impl;  // connection machinery, in sim_network.cc

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cpipe::sim

// Internal to backends/simulated (sim_network.cc, sim_stream.cc): the fabric's state — sides,
// connections, segments, listeners — and SimNetwork::Impl, which moves segments across links.
// Every piece of per-connection state lives in a shared_ptr captured by the events that need it,
// so a completion that fires after a stream was dropped never touches freed memory.
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "backends/simulated/sim_network.h"
#include "backends/simulated/sim_node.h"
#include "backends/simulated/sim_random.h"
#include "backends/simulated/sim_world.h"
#include "core/runtime/oneshot.h"

namespace cpipe::sim {

using runtime::Duration;
using runtime::Endpoint;
using runtime::MonoTime;
using runtime::Oneshot;
using runtime::Task;
using StreamResult = Result<std::shared_ptr<runtime::Stream>>;

// ---- state ---------------------------------------------------------------------------------

namespace netimpl {

using LinkKey = std::pair<size_t, size_t>;
using ListenKey = std::tuple<size_t, int, uint16_t>;  // node, endpoint kind, port

inline ListenKey listen_key(size_t node, const Endpoint& ep) { return {node, int(ep.kind), ep.port}; }

struct Side {
  SimNode* node = nullptr;
  Endpoint local;
  Endpoint peer;
  std::string local_text;
  Bytes rx;
  size_t rx_off = 0;
  bool eof = false;     // the peer's FIN arrived
  bool closed = false;  // closed locally
  std::optional<Oneshot<ErrorCode>> reader;  // OK = state changed; TIMEOUT; CANCELLED
  std::optional<Oneshot<Status>> writer;

  size_t buffered() const { return rx.size() - rx_off; }
};

struct Seg;

struct Conn {
  uint64_t id = 0;
  SimNetwork::Impl* net = nullptr;  // null once detached (world teardown)
  Side side[2];                     // [0] client, [1] server
  bool reset = false;
  // Per direction (indexed by the sending side): in-order delivery even when partitions or
  // filter delays would let a later segment overtake an earlier one.
  int64_t last_arrival[2] = {0, 0};
  uint64_t next_send_seq[2] = {0, 0};
  uint64_t next_deliver_seq[2] = {0, 0};
  std::map<uint64_t, std::shared_ptr<Seg>> out_of_order[2];
};

struct Seg {
  SegmentKind kind = SegmentKind::kData;
  size_t from = 0;
  size_t to = 0;
  Endpoint src;
  Endpoint dst;
  Bytes data;
  std::shared_ptr<Conn> conn;  // null for syn / refuse
  int dir = 0;                 // sending side of conn
  uint64_t seq = 0;
  bool tombstone = false;  // lost in a partition: advances the sequence, delivers nothing
  std::optional<Oneshot<StreamResult>> connect_done;
};

struct ListenerState {
  SimNetwork::Impl* net = nullptr;
  size_t node = 0;
  Endpoint endpoint;
  std::deque<std::shared_ptr<Conn>> backlog;  // server sides not accepted yet
  std::optional<Oneshot<int>> acceptor;
  bool closed = false;
};

}  // namespace netimpl

using netimpl::Conn;
using netimpl::LinkKey;
using netimpl::ListenerState;
using netimpl::ListenKey;
using netimpl::listen_key;
using netimpl::Seg;
using netimpl::Side;

struct SimNetwork::Impl {
  Impl(SimWorld& w, SimRandom& r) : world(w), random(r) {}

  SimWorld& world;
  SimRandom& random;
  std::vector<SimNode*> nodes;
  LinkConfig default_link;
  std::map<LinkKey, LinkConfig> links;
  std::map<LinkKey, int64_t> link_free_at;
  struct Partition {
    PartitionMode mode;
    std::vector<std::shared_ptr<Seg>> held;
  };
  std::map<LinkKey, Partition> partitions;
  std::map<LinkKey, std::vector<LinkFilter*>> filters;
  std::vector<LinkFilter*> global_filters;
  std::set<ListenKey> refused;
  std::map<ListenKey, std::weak_ptr<ListenerState>> listeners;
  std::map<uint64_t, std::weak_ptr<Conn>> conns;
  std::map<std::pair<size_t, int>, uint16_t> next_port;
  uint64_t next_conn_id = 1;

  const LinkConfig& link(size_t from, size_t to) const {
    auto it = links.find({from, to});
    return it == links.end() ? default_link : it->second;
  }

  uint16_t ephemeral_port(size_t node, Endpoint::Kind kind) {
    uint16_t& next = next_port.try_emplace({node, int(kind)}, uint16_t(49152)).first->second;
    for (int tries = 0; tries < 16384; ++tries) {
      uint16_t port = next;
      next = next == 65535 ? uint16_t(49152) : uint16_t(next + 1);
      auto it = listeners.find({node, int(kind), port});
      if (it == listeners.end() || it->second.expired()) return port;
    }
    return 0;
  }

  void trace_control(const Seg& s, std::string_view what) {
    world.trace().record_control(world.now(), s.src.to_string(), s.dst.to_string(), what);
  }

  // Sends a segment: filters, then the link's FIFO serialization, then latency. Returns when
  // the link has finished putting it on the wire (what write_all waits for).
  int64_t transmit(std::shared_ptr<Seg> s) {
    int64_t now = world.now().ns;
    Duration extra{0};
    bool drop = false;
    auto link_filters = filters.find({s->from, s->to});
    bool filtered = !global_filters.empty() ||
                    (link_filters != filters.end() && !link_filters->second.empty());
    if (filtered) {
      SegmentInfo info{s->kind, s->from, s->to, s->conn ? s->conn->id : 0, s->src, s->dst};
      auto run_filter = [&](LinkFilter* f) {
        LinkFilter::Verdict v = f->on_segment(info, s->data);
        extra += v.extra_delay;
        return v.drop;
      };
      for (LinkFilter* f : global_filters) drop = drop || run_filter(f);
      if (link_filters != filters.end()) {
        for (LinkFilter* f : link_filters->second) drop = drop || run_filter(f);
      }
    }
    if (drop) {
      world.trace().record_fault(world.now(), "filter_drop",
                                 std::string(segment_kind_name(s->kind)) + " " +
                                     s->src.to_string() + "->" + s->dst.to_string() + " len=" +
                                     std::to_string(s->data.size()));
      return now;
    }
    if (s->conn) s->seq = s->conn->next_send_seq[s->dir]++;
    const LinkConfig& cfg = link(s->from, s->to);
    int64_t& free_at = link_free_at[{s->from, s->to}];
    int64_t start = std::max(now, free_at);
    int64_t serialize = 0;
    if (cfg.bandwidth_bytes_per_s > 0 && !s->data.empty()) {
      __int128 num = __int128(s->data.size()) * 1'000'000'000 + cfg.bandwidth_bytes_per_s - 1;
      serialize = int64_t(num / cfg.bandwidth_bytes_per_s);
    }
    int64_t done = start + serialize;
    free_at = done;
    schedule_arrival(std::move(s), done + extra.count());
    return done;
  }

  void schedule_arrival(std::shared_ptr<Seg> s, int64_t base) {
    int64_t arrival = base + link(s->from, s->to).latency.sample(random).count();
    if (s->conn) {
      int64_t& last = s->conn->last_arrival[s->dir];
      arrival = std::max(arrival, last);
      last = arrival;
    }
    world.schedule_at(MonoTime{arrival}, [this, s] { arrive(s); });
  }

  void arrive(const std::shared_ptr<Seg>& s) {
    if (auto it = partitions.find({s->from, s->to}); it != partitions.end()) {
      if (it->second.mode == PartitionMode::kHold) {
        it->second.held.push_back(s);
        return;
      }
      world.trace().record_fault(world.now(), "partition_drop",
                                 std::string(segment_kind_name(s->kind)) + " " +
                                     s->src.to_string() + "->" + s->dst.to_string() + " len=" +
                                     std::to_string(s->data.size()));
      if (!s->conn) return;
      s->tombstone = true;
    }
    if (!s->conn) {
      dispatch(s);
      return;
    }
    // Reassemble per direction: deliver in send order whatever the arrival order.
    Conn& c = *s->conn;
    int d = s->dir;
    if (s->seq != c.next_deliver_seq[d]) {
      c.out_of_order[d].emplace(s->seq, s);
      return;
    }
    std::shared_ptr<Seg> cur = s;
    for (;;) {
      ++c.next_deliver_seq[d];
      if (!cur->tombstone) dispatch(cur);
      auto it = c.out_of_order[d].find(c.next_deliver_seq[d]);
      if (it == c.out_of_order[d].end()) break;
      cur = it->second;
      c.out_of_order[d].erase(it);
    }
  }

  void dispatch(const std::shared_ptr<Seg>& s) {
    switch (s->kind) {
      case SegmentKind::kSyn: on_syn(s); break;
      case SegmentKind::kSynAck: on_syn_ack(s); break;
      case SegmentKind::kRefuse:
        trace_control(*s, "refuse");
        s->connect_done->set(make_error(ErrorCode::TRANSPORT_REFUSED,
                                        "connection to " + s->src.to_string() + " refused"));
        break;
      case SegmentKind::kData: on_data(s); break;
      case SegmentKind::kFin: on_fin(s); break;
      case SegmentKind::kRst:
        trace_control(*s, "rst");
        do_reset(s->conn);
        break;
    }
  }

  std::shared_ptr<Seg> conn_segment(const std::shared_ptr<Conn>& c, int dir, SegmentKind kind) {
    auto s = std::make_shared<Seg>();
    s->kind = kind;
    s->from = c->side[dir].node->index();
    s->to = c->side[1 - dir].node->index();
    s->src = c->side[dir].local;
    s->dst = c->side[dir].peer;
    s->conn = c;
    s->dir = dir;
    return s;
  }

  void on_syn(const std::shared_ptr<Seg>& s) {
    trace_control(*s, "syn");
    ListenKey key = listen_key(s->to, s->dst);
    std::shared_ptr<ListenerState> l;
    if (auto it = listeners.find(key); it != listeners.end()) l = it->second.lock();
    if (!l || l->closed || refused.count(key)) {
      auto reply = std::make_shared<Seg>();
      reply->kind = SegmentKind::kRefuse;
      reply->from = s->to;
      reply->to = s->from;
      reply->src = s->dst;
      reply->dst = s->src;
      reply->connect_done = s->connect_done;
      transmit(reply);
      return;
    }
    auto c = std::make_shared<Conn>();
    c->id = next_conn_id++;
    c->net = this;
    init_side(c->side[0], nodes[s->from], s->src, s->dst);
    init_side(c->side[1], nodes[s->to], s->dst, s->src);
    register_conn(c);
    l->backlog.push_back(c);
    if (l->acceptor) l->acceptor->set(0);
    auto reply = conn_segment(c, 1, SegmentKind::kSynAck);
    reply->connect_done = s->connect_done;
    transmit(reply);
  }

  void on_syn_ack(const std::shared_ptr<Seg>& s) {
    trace_control(*s, "syn-ack");
    std::shared_ptr<Conn> c = s->conn;
    if (c->reset) {
      s->connect_done->set(make_error(ErrorCode::TRANSPORT_RESET,
                                      "connection to " + s->src.to_string() + " reset"));
      return;
    }
    std::shared_ptr<runtime::Stream> client = make_stream(c, 0);
    if (!s->connect_done->set(client)) {
      // The connect already timed out: the client is gone, so the server side gets a reset.
      world.trace().record_control(world.now(), s->dst.to_string(), s->src.to_string(),
                                   "rst-abandoned");
      do_reset(c);
    }
  }

  void on_data(const std::shared_ptr<Seg>& s) {
    Conn& c = *s->conn;
    if (c.reset) return;
    Side& dst = c.side[1 - s->dir];
    world.trace().record_delivery(world.now(), c.side[s->dir].local_text, dst.local_text,
                                  s->data);
    if (dst.closed) {
      // Nobody will ever read this: like TCP, answer with a reset.
      if (c.net) transmit(conn_segment(s->conn, 1 - s->dir, SegmentKind::kRst));
      return;
    }
    if (dst.rx_off == dst.rx.size()) {
      dst.rx.clear();
      dst.rx_off = 0;
    }
    dst.rx.insert(dst.rx.end(), s->data.begin(), s->data.end());
    if (dst.reader) dst.reader->set(ErrorCode::OK);
  }

  void on_fin(const std::shared_ptr<Seg>& s) {
    trace_control(*s, "fin");
    Conn& c = *s->conn;
    if (c.reset) return;
    Side& dst = c.side[1 - s->dir];
    dst.eof = true;
    if (dst.reader) dst.reader->set(ErrorCode::OK);
  }

  void do_reset(const std::shared_ptr<Conn>& c) {
    if (c->reset) return;
    c->reset = true;
    for (Side& side : c->side) {
      if (side.reader) side.reader->set(ErrorCode::OK);
      if (side.writer) {
        side.writer->set(make_error(ErrorCode::TRANSPORT_RESET,
                                    "connection " + side.local_text + " reset"));
      }
    }
  }

  void init_side(Side& side, SimNode* node, const Endpoint& local, const Endpoint& peer) {
    side.node = node;
    side.local = local;
    side.peer = peer;
    side.local_text = local.to_string();
  }

  void register_conn(const std::shared_ptr<Conn>& c) {
    conns[c->id] = c;
    if (conns.size() % 256 == 0) std::erase_if(conns, [](auto& e) { return e.second.expired(); });
  }

  std::shared_ptr<runtime::Stream> make_stream(std::shared_ptr<Conn> c, int side);

  void close_side(const std::shared_ptr<Conn>& c, int s) {
    Side& me = c->side[s];
    if (me.closed) return;
    me.closed = true;
    me.rx.clear();
    me.rx_off = 0;
    if (me.reader) me.reader->set(ErrorCode::CANCELLED);
    if (me.writer) me.writer->set(make_error(ErrorCode::CANCELLED, "stream closed locally"));
    if (!c->reset && c->net) transmit(conn_segment(c, s, SegmentKind::kFin));
  }

  void heal_link(const LinkKey& key) {
    auto it = partitions.find(key);
    if (it == partitions.end()) return;
    std::vector<std::shared_ptr<Seg>> held = std::move(it->second.held);
    partitions.erase(it);
    world.trace().record_fault(world.now(), "heal",
                               nodes[key.first]->name() + "->" + nodes[key.second]->name() +
                                   " held=" + std::to_string(held.size()));
    for (auto& s : held) schedule_arrival(s, world.now().ns);
  }
};

}  // namespace cpipe::sim

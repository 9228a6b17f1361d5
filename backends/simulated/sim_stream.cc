// Streams, listeners and the node-facing runtime::Network of the simulated fabric. Coroutines
// here hold the shared state (Conn, ListenerState) by shared_ptr and never touch the SimStream
// or SimListener object after a suspension, so dropping one mid-operation is safe. Pending
// operations wait on Oneshots, which resume through the node's executor, never inline.
#include <cassert>

#include "backends/simulated/sim_network_impl.h"

namespace cpipe::sim {

// ---- streams -------------------------------------------------------------------------------

namespace {

Task<Result<size_t>> read_impl(std::shared_ptr<Conn> c, int s, MutableByteSpan buffer,
                               Duration timeout) {
  Side& me = c->side[s];
  if (me.closed) co_return make_error(ErrorCode::TRANSPORT_CLOSED, "stream closed locally");
  if (me.reader) co_return make_error(ErrorCode::FAILED_PRECONDITION, "a read is pending");
  if (buffer.empty()) co_return size_t(0);
  if (me.buffered() == 0 && !c->reset && !me.eof) {
    if (!c->net) co_return make_error(ErrorCode::CANCELLED, "network detached");
    Oneshot<ErrorCode> wake(*me.node);
    me.reader = wake;
    runtime::ScopedTimer timer;
    if (timeout > Duration::zero()) {
      timer = runtime::ScopedTimer(me.node->clock(), timeout,
                                   [wake] { wake.set(ErrorCode::TRANSPORT_TIMEOUT); });
    }
    ErrorCode why = co_await wake;
    me.reader.reset();
    if (me.closed) co_return make_error(ErrorCode::CANCELLED, "stream closed while reading");
    if (why == ErrorCode::TRANSPORT_TIMEOUT && me.buffered() == 0 && !c->reset && !me.eof) {
      co_return make_error(ErrorCode::TRANSPORT_TIMEOUT, "no data within the read timeout");
    }
  }
  if (c->reset) co_return make_error(ErrorCode::TRANSPORT_RESET, "connection reset");
  if (me.buffered() > 0) {
    size_t n = std::min(buffer.size(), me.buffered());
    std::copy_n(me.rx.begin() + ptrdiff_t(me.rx_off), n, buffer.begin());
    me.rx_off += n;
    co_return n;
  }
  if (me.eof) co_return make_error(ErrorCode::TRANSPORT_CLOSED, "peer closed the stream");
  co_return make_error(ErrorCode::INTERNAL, "read woke without a reason");
}

Task<Status> write_impl(std::shared_ptr<Conn> c, int s, ByteSpan data) {
  Side& me = c->side[s];
  if (me.closed) co_return make_error(ErrorCode::TRANSPORT_CLOSED, "stream closed locally");
  if (c->reset) co_return make_error(ErrorCode::TRANSPORT_RESET, "connection reset");
  if (me.writer) co_return make_error(ErrorCode::FAILED_PRECONDITION, "a write is pending");
  SimNetwork::Impl* net = c->net;
  if (!net) co_return make_error(ErrorCode::CANCELLED, "network detached");
  if (data.empty()) co_return Status::Ok();
  // Copy and segment now: the caller's bytes need only live until write_all returns.
  size_t mtu =
      std::max<size_t>(net->link(me.node->index(), c->side[1 - s].node->index()).segment_size, 1);
  int64_t done = net->world.now().ns;
  for (size_t off = 0; off < data.size(); off += mtu) {
    auto seg = net->conn_segment(c, s, SegmentKind::kData);
    ByteSpan chunk = data.subspan(off, std::min(mtu, data.size() - off));
    seg->data.assign(chunk.begin(), chunk.end());
    done = net->transmit(seg);
  }
  Oneshot<Status> finished(*me.node);
  me.writer = finished;
  net->world.schedule_at(MonoTime{done}, [finished] { finished.set(Status::Ok()); });
  Status st = co_await finished;
  me.writer.reset();
  co_return st;
}

class SimStream final : public runtime::Stream {
 public:
  SimStream(std::shared_ptr<Conn> c, int side) : c_(std::move(c)), side_(side) {}
  ~SimStream() override { close(); }
  Task<Result<size_t>> read_some(MutableByteSpan buffer, Duration timeout) override {
    return read_impl(c_, side_, buffer, timeout);
  }
  Task<Status> write_all(ByteSpan data) override { return write_impl(c_, side_, data); }
  void close() override {
    if (c_->net) {
      c_->net->close_side(c_, side_);
    } else {
      c_->side[side_].closed = true;
    }
  }
  Endpoint local_endpoint() const override { return c_->side[side_].local; }
  Endpoint peer_endpoint() const override { return c_->side[side_].peer; }

 private:
  std::shared_ptr<Conn> c_;
  int side_;
};

// ---- listeners -----------------------------------------------------------------------------

Task<StreamResult> accept_impl(std::shared_ptr<ListenerState> l) {
  if (l->closed) co_return make_error(ErrorCode::CANCELLED, "listener closed");
  if (l->acceptor) co_return make_error(ErrorCode::FAILED_PRECONDITION, "an accept is pending");
  if (l->backlog.empty()) {
    if (!l->net) co_return make_error(ErrorCode::CANCELLED, "network detached");
    Oneshot<int> wake(*l->net->nodes[l->node]);
    l->acceptor = wake;
    co_await wake;
    l->acceptor.reset();
    if (l->closed) co_return make_error(ErrorCode::CANCELLED, "listener closed");
    if (l->backlog.empty()) co_return make_error(ErrorCode::INTERNAL, "accept woke empty");
  }
  std::shared_ptr<Conn> c = std::move(l->backlog.front());
  l->backlog.pop_front();
  if (!l->net) co_return make_error(ErrorCode::CANCELLED, "network detached");
  co_return l->net->make_stream(std::move(c), 1);
}

class SimListener final : public runtime::Listener {
 public:
  explicit SimListener(std::shared_ptr<ListenerState> l) : l_(std::move(l)) {}
  ~SimListener() override { close(); }
  Task<StreamResult> accept() override { return accept_impl(l_); }
  void close() override {
    if (l_->closed) return;
    l_->closed = true;
    if (l_->acceptor) l_->acceptor->set(0);
    SimNetwork::Impl* net = l_->net;
    if (!net) return;
    net->listeners.erase(listen_key(l_->node, l_->endpoint));
    // Connections nobody accepted are reset, as a TCP stack does when the socket closes.
    std::deque<std::shared_ptr<Conn>> backlog = std::move(l_->backlog);
    l_->backlog.clear();
    for (auto& c : backlog) {
      net->world.trace().record_control(net->world.now(), c->side[1].local_text,
                                        c->side[0].local_text, "rst-listener-closed");
      net->do_reset(c);
      c->side[1].closed = true;
    }
  }
  Endpoint local_endpoint() const override { return l_->endpoint; }

 private:
  std::shared_ptr<ListenerState> l_;
};

}  // namespace

std::shared_ptr<runtime::Stream> SimNetwork::Impl::make_stream(std::shared_ptr<Conn> c, int side) {
  return std::make_shared<SimStream>(std::move(c), side);
}

// ---- the node-facing runtime::Network ---------------------------------------------------------

namespace {

bool is_any_host(const std::string& host) { return host == "0.0.0.0" || host == "::"; }
bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "127.0.0.1" || host == "::1";
}
constexpr uint32_t kVsockCidAny = 0xffffffffu;
constexpr uint32_t kVsockCidLocal = 1;

// Which node an endpoint names, from `self`'s point of view; nullopt when nothing does.
std::optional<size_t> resolve(const SimNetwork::Impl& net, const SimNode& self,
                              const Endpoint& ep) {
  if (ep.kind == Endpoint::Kind::kTcp) {
    if (is_loopback_host(ep.host)) return self.index();
    for (SimNode* n : net.nodes) {
      if (n->host() == ep.host) return n->index();
    }
    return std::nullopt;
  }
  if (ep.cid == kVsockCidLocal && self.cid() != 0) return self.index();
  for (SimNode* n : net.nodes) {
    if (n->cid() != 0 && n->cid() == ep.cid) return n->index();
  }
  return std::nullopt;
}

// The node's own address for endpoints of `kind`, with `port`.
std::optional<Endpoint> own_endpoint(const SimNode& node, Endpoint::Kind kind, uint16_t port) {
  if (kind == Endpoint::Kind::kTcp) return Endpoint::tcp(node.host(), port);
  if (node.cid() == 0) return std::nullopt;
  return Endpoint::vsock(node.cid(), port);
}

Task<StreamResult> connect_impl(SimNetwork::Impl* net, SimNode* node, Endpoint ep,
                                Duration timeout) {
  std::optional<size_t> target = resolve(*net, *node, ep);
  if (!target) {
    co_return make_error(ErrorCode::TRANSPORT_UNREACHABLE,
                         "no route to " + ep.to_string() + " from " + node->name());
  }
  std::optional<Endpoint> local = own_endpoint(*node, ep.kind, 0);
  if (!local) {
    co_return make_error(ErrorCode::TRANSPORT_UNREACHABLE,
                         node->name() + " has no vsock cid to reach " + ep.to_string());
  }
  local->port = net->ephemeral_port(node->index(), ep.kind);
  Endpoint dst = ep;
  if (std::optional<Endpoint> canonical = own_endpoint(*net->nodes[*target], ep.kind, ep.port)) {
    dst = *canonical;  // "localhost:80" and "vsock:1:80" name the node's own address
  }
  Oneshot<StreamResult> done(*node);
  auto syn = std::make_shared<Seg>();
  syn->kind = SegmentKind::kSyn;
  syn->from = node->index();
  syn->to = *target;
  syn->src = *local;
  syn->dst = dst;
  syn->connect_done = done;
  net->transmit(syn);
  runtime::ScopedTimer timer;
  if (timeout > Duration::zero()) {
    timer = runtime::ScopedTimer(node->clock(), timeout, [done, ep] {
      done.set(make_error(ErrorCode::TRANSPORT_TIMEOUT, "connect to " + ep.to_string() +
                                                            " timed out"));
    });
  }
  co_return co_await done;
}

class NodeNetwork final : public runtime::Network {
 public:
  NodeNetwork(SimNetwork::Impl& net, SimNode& node) : net_(net), node_(node) {}

  Result<std::unique_ptr<runtime::Listener>> listen(const Endpoint& endpoint) override {
    std::optional<Endpoint> bound = own_endpoint(node_, endpoint.kind, endpoint.port);
    if (!bound) {
      return make_error(ErrorCode::NOT_SUPPORTED, node_.name() + " has no vsock cid");
    }
    bool mine = endpoint.kind == Endpoint::Kind::kTcp
                    ? (endpoint.host == node_.host() || is_any_host(endpoint.host) ||
                       is_loopback_host(endpoint.host))
                    : (endpoint.cid == node_.cid() || endpoint.cid == kVsockCidAny ||
                       endpoint.cid == kVsockCidLocal);
    if (!mine) {
      return make_error(ErrorCode::INVALID_ARGUMENT,
                        endpoint.to_string() + " is not an address of " + node_.name());
    }
    if (bound->port == 0) {
      bound->port = net_.ephemeral_port(node_.index(), endpoint.kind);
      if (bound->port == 0) {
        return make_error(ErrorCode::RESOURCE_EXHAUSTED, "no free ephemeral port");
      }
    }
    ListenKey key = listen_key(node_.index(), *bound);
    if (auto it = net_.listeners.find(key); it != net_.listeners.end() && !it->second.expired()) {
      return make_error(ErrorCode::TRANSPORT_ADDRESS_IN_USE,
                        bound->to_string() + " is already listened on");
    }
    auto state = std::make_shared<ListenerState>();
    state->net = &net_;
    state->node = node_.index();
    state->endpoint = *bound;
    net_.listeners[key] = state;
    return std::unique_ptr<runtime::Listener>(new SimListener(std::move(state)));
  }

  Task<StreamResult> connect(const Endpoint& endpoint, Duration timeout) override {
    return connect_impl(&net_, &node_, endpoint, timeout);
  }

 private:
  SimNetwork::Impl& net_;
  SimNode& node_;
};

}  // namespace

std::unique_ptr<runtime::Network> SimNetwork::make_node_network(SimNode& node) {
  assert(node.index() == impl_->nodes.size());
  impl_->nodes.push_back(&node);
  return std::make_unique<NodeNetwork>(*impl_, node);
}

}  // namespace cpipe::sim

// Sockets on the EventLoop: SocketStream, SocketListener and the connect procedure, over Asio
// generic stream sockets (TCP and AF_VSOCK share the code; only addresses differ).
//
// Every pending Asio operation holds the shared state (socket included) of its stream or
// listener, so a Stream or Listener may be closed or dropped at any time: the operation then
// completes with operation_aborted, which resumes the waiting coroutine with CANCELLED.
#include "backends/posix/tcp_network.h"

#include <linux/vm_sockets.h>
#include <sys/socket.h>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/runtime/oneshot.h"

namespace cpipe::posix {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using Proto = asio::generic::stream_protocol;
using runtime::Duration;
using runtime::Endpoint;
using runtime::Oneshot;
using runtime::ScopedTimer;
using runtime::Task;

enum class Phase { kConnect, kIo, kListen };

bool is_errno(const error_code& ec, int value) {
  return ec.category() == boost::system::system_category() && ec.value() == value;
}

// One mapping from OS errors to cpipe codes. During connect, a reset means the peer refused
// (vsock answers a connect to a closed port with a reset) and ETIMEDOUT is our timeout code.
Status socket_error(const error_code& ec, Phase phase, const std::string& what) {
  std::string msg = what + ": " + ec.message();
  if (ec == asio::error::operation_aborted) return make_error(ErrorCode::CANCELLED, msg);
  if (ec == asio::error::eof) return make_error(ErrorCode::TRANSPORT_CLOSED, msg);
  if (ec == asio::error::connection_refused) return make_error(ErrorCode::TRANSPORT_REFUSED, msg);
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
      ec == asio::error::connection_aborted) {
    return make_error(phase == Phase::kConnect ? ErrorCode::TRANSPORT_REFUSED
                                               : ErrorCode::TRANSPORT_RESET,
                      msg);
  }
  if (ec == asio::error::timed_out) {
    return make_error(phase == Phase::kConnect ? ErrorCode::TRANSPORT_TIMEOUT
                                               : ErrorCode::TRANSPORT_RESET,
                      msg);
  }
  if (ec == asio::error::network_unreachable || ec == asio::error::host_unreachable ||
      ec == asio::error::network_down || ec == asio::error::host_not_found ||
      ec == asio::error::host_not_found_try_again || is_errno(ec, ENODEV)) {
    return make_error(ErrorCode::TRANSPORT_UNREACHABLE, msg);
  }
  if (ec == asio::error::address_in_use) return make_error(ErrorCode::TRANSPORT_ADDRESS_IN_USE, msg);
  if (ec == asio::error::address_family_not_supported || is_errno(ec, EPROTONOSUPPORT)) {
    return make_error(ErrorCode::NOT_SUPPORTED, msg);
  }
  if (is_errno(ec, EADDRNOTAVAIL)) return make_error(ErrorCode::TRANSPORT_BAD_ENDPOINT, msg);
  return make_error(ErrorCode::IO_ERROR, msg);
}

bool is_ip_family(int family) { return family == AF_INET || family == AF_INET6; }

Endpoint to_endpoint(const Proto::endpoint& ep) {
  const sockaddr* sa = ep.data();
  if (ep.size() >= sizeof(sa_family_t) && is_ip_family(sa->sa_family)) {
    asio::ip::tcp::endpoint ip;
    if (ep.size() > ip.capacity()) return Endpoint{};
    std::memcpy(ip.data(), sa, ep.size());
    ip.resize(ep.size());
    return Endpoint::tcp(ip.address().to_string(), ip.port());
  }
  if (ep.size() >= sizeof(sockaddr_vm) && sa->sa_family == AF_VSOCK) {
    sockaddr_vm vm;
    std::memcpy(&vm, sa, sizeof(vm));
    return Endpoint::vsock(vm.svm_cid, uint16_t(vm.svm_port));
  }
  return Endpoint{};
}

Proto::endpoint vsock_endpoint(uint32_t cid, uint32_t port) {
  sockaddr_vm vm;
  std::memset(&vm, 0, sizeof(vm));
  vm.svm_family = AF_VSOCK;
  vm.svm_cid = cid;
  vm.svm_port = port;
  return Proto::endpoint(&vm, sizeof(vm), 0);
}

// ---- streams ----------------------------------------------------------------------------

struct ReadWake {
  enum Kind { kReady, kTimeout, kError } kind = kReady;
  error_code ec;
};

struct StreamState {
  StreamState(EventLoop* l, Proto::socket s) : loop(l), socket(std::move(s)) {}
  EventLoop* loop;
  Proto::socket socket;
  Endpoint local;
  Endpoint peer;
  bool closed = false;
  bool reading = false;
  bool writing = false;
  // A readiness wait outlives a read that timed out: the next read reuses it, so timeouts
  // never cancel anything on the socket (Asio's cancel() would also cancel a pending write).
  bool read_wait_pending = false;
  std::optional<Oneshot<ReadWake>> read_waiter;
};

// Marks an operation outstanding for the scope of a coroutine body.
class OpFlag {
 public:
  explicit OpFlag(bool* flag) : flag_(flag) { *flag_ = true; }
  ~OpFlag() { *flag_ = false; }
  OpFlag(const OpFlag&) = delete;
  OpFlag& operator=(const OpFlag&) = delete;

 private:
  bool* flag_;
};

void close_state(StreamState& s) {
  if (s.closed) return;
  s.closed = true;
  if (!s.socket.is_open()) return;
  error_code ignored;
  // FIN first: closing with unread input makes the kernel send a reset, and without a FIN
  // ahead of it the peer would read TRANSPORT_RESET instead of the promised EOF.
  s.socket.shutdown(asio::socket_base::shutdown_send, ignored);
  s.socket.close(ignored);  // aborts the pending wait/write: their coroutines get CANCELLED
}

void arm_read_wait(const std::shared_ptr<StreamState>& s) {
  if (s->read_wait_pending) return;
  s->read_wait_pending = true;
  s->socket.async_wait(asio::socket_base::wait_read, [st = s](const error_code& ec) {
    st->read_wait_pending = false;
    if (st->read_waiter) {
      st->read_waiter->set(ec ? ReadWake{ReadWake::kError, ec} : ReadWake{ReadWake::kReady, {}});
    }
  });
}

Task<Result<size_t>> read_impl(std::shared_ptr<StreamState> s, MutableByteSpan buf,
                               Duration timeout) {
  if (s->closed) co_return make_error(ErrorCode::TRANSPORT_CLOSED, "read_some: stream is closed");
  if (s->reading) {
    co_return make_error(ErrorCode::FAILED_PRECONDITION, "read_some: a read is already pending");
  }
  if (buf.empty()) co_return size_t(0);
  OpFlag reading(&s->reading);
  bool timed_out = false;  // declared before the timer: the timer dies first
  ScopedTimer deadline;
  if (timeout > Duration(0)) {
    StreamState* raw = s.get();
    bool* flag = &timed_out;
    deadline = ScopedTimer(*s->loop, timeout, [raw, flag] {
      *flag = true;
      if (raw->read_waiter) raw->read_waiter->set(ReadWake{ReadWake::kTimeout, {}});
    });
  }
  bool waited = false;
  for (;;) {
    error_code ec;
    size_t n = s->socket.read_some(asio::buffer(buf.data(), buf.size()), ec);
    if (!ec) {
      // Data was already there: still complete through the loop, so that a fast peer cannot
      // starve every other task of this thread.
      if (!waited) co_await runtime::yield_now(*s->loop);
      co_return n;
    }
    if (ec != asio::error::would_block && ec != asio::error::try_again) {
      co_return socket_error(ec, Phase::kIo, "read from " + s->peer.to_string());
    }
    if (timed_out) {
      co_return make_error(ErrorCode::TRANSPORT_TIMEOUT,
                           "read from " + s->peer.to_string() + ": no data within the timeout");
    }
    Oneshot<ReadWake> wake(*s->loop);
    s->read_waiter = wake;
    arm_read_wait(s);
    ReadWake w = co_await wake;
    s->read_waiter.reset();
    waited = true;
    if (s->closed) co_return make_error(ErrorCode::CANCELLED, "read_some: stream closed locally");
    if (w.kind == ReadWake::kError) {
      co_return socket_error(w.ec, Phase::kIo, "read from " + s->peer.to_string());
    }
    // kReady: read again (may be spurious); kTimeout: one last non-blocking try, then timeout.
  }
}

Task<Status> write_impl(std::shared_ptr<StreamState> s, ByteSpan data) {
  if (s->closed) co_return make_error(ErrorCode::TRANSPORT_CLOSED, "write_all: stream is closed");
  if (s->writing) {
    co_return make_error(ErrorCode::FAILED_PRECONDITION, "write_all: a write is already pending");
  }
  OpFlag writing(&s->writing);
  if (data.empty()) co_return Status::Ok();
  Oneshot<error_code> done(*s->loop);
  asio::async_write(s->socket, asio::buffer(data.data(), data.size()),
                    [st = s, done](const error_code& ec, size_t) { done.set(ec); });
  error_code ec = co_await done;
  if (!ec) co_return Status::Ok();
  if (s->closed) co_return make_error(ErrorCode::CANCELLED, "write_all: stream closed locally");
  co_return socket_error(ec, Phase::kIo, "write to " + s->peer.to_string());
}

class SocketStream final : public runtime::Stream {
 public:
  explicit SocketStream(std::shared_ptr<StreamState> s) : s_(std::move(s)) {}
  ~SocketStream() override { close_state(*s_); }
  Task<Result<size_t>> read_some(MutableByteSpan buffer, Duration timeout) override {
    return read_impl(s_, buffer, timeout);
  }
  Task<Status> write_all(ByteSpan data) override { return write_impl(s_, data); }
  void close() override { close_state(*s_); }
  Endpoint local_endpoint() const override { return s_->local; }
  Endpoint peer_endpoint() const override { return s_->peer; }

 private:
  std::shared_ptr<StreamState> s_;
};

std::shared_ptr<runtime::Stream> make_stream(EventLoop* loop, Proto::socket socket) {
  error_code ignored;
  Proto::endpoint local = socket.local_endpoint(ignored);
  if (is_ip_family(local.data()->sa_family)) {
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  }
  socket.non_blocking(true, ignored);  // read_some must report would_block, never block
  auto state = std::make_shared<StreamState>(loop, std::move(socket));
  state->local = to_endpoint(local);
  state->peer = to_endpoint(state->socket.remote_endpoint(ignored));
  return std::make_shared<SocketStream>(std::move(state));
}

// ---- listeners --------------------------------------------------------------------------

struct ListenerState {
  explicit ListenerState(EventLoop* l) : loop(l), acceptor(l->io_context()) {}
  EventLoop* loop;
  asio::basic_socket_acceptor<Proto> acceptor;
  Endpoint local;
  bool closed = false;
};

struct AcceptResult {
  error_code ec;
  std::optional<Proto::socket> socket;
};

Task<Result<std::shared_ptr<runtime::Stream>>> accept_impl(std::shared_ptr<ListenerState> l) {
  for (;;) {
    if (l->closed) co_return make_error(ErrorCode::CANCELLED, "accept: listener closed");
    Oneshot<AcceptResult> done(*l->loop);
    l->acceptor.async_accept([st = l, done](const error_code& ec, Proto::socket peer) {
      AcceptResult r;
      r.ec = ec;
      if (!ec) r.socket.emplace(std::move(peer));
      done.set(std::move(r));
    });
    AcceptResult r = co_await done;
    if (l->closed) co_return make_error(ErrorCode::CANCELLED, "accept: listener closed");
    if (!r.ec) co_return make_stream(l->loop, std::move(*r.socket));
    // A connection that died in the backlog is the client's problem, not the listener's.
    if (r.ec == asio::error::connection_aborted || r.ec == asio::error::connection_reset) continue;
    co_return socket_error(r.ec, Phase::kListen, "accept on " + l->local.to_string());
  }
}

class SocketListener final : public runtime::Listener {
 public:
  explicit SocketListener(std::shared_ptr<ListenerState> s) : s_(std::move(s)) {}
  ~SocketListener() override { close(); }
  Task<Result<std::shared_ptr<runtime::Stream>>> accept() override { return accept_impl(s_); }
  void close() override {
    if (s_->closed) return;
    s_->closed = true;
    error_code ignored;
    s_->acceptor.close(ignored);
  }
  Endpoint local_endpoint() const override { return s_->local; }

 private:
  std::shared_ptr<ListenerState> s_;
};

// ---- connect ----------------------------------------------------------------------------

struct ConnectOp {
  explicit ConnectOp(asio::io_context& io) : resolver(io), socket(io) {}
  asio::ip::tcp::resolver resolver;
  Proto::socket socket;
  bool timed_out = false;
};

struct ResolveResult {
  error_code ec;
  asio::ip::tcp::resolver::results_type results;
};

Status connect_timeout(const Endpoint& ep) {
  return make_error(ErrorCode::TRANSPORT_TIMEOUT,
                    "connect to " + ep.to_string() + ": no connection within the timeout");
}

Task<Result<std::shared_ptr<runtime::Stream>>> connect_impl(EventLoop* loop, Endpoint ep,
                                                             Duration timeout) {
  auto op = std::make_shared<ConnectOp>(loop->io_context());
  // On timeout abort whatever step is in flight; that step's completion sees timed_out.
  ScopedTimer deadline;
  if (timeout > Duration(0)) {
    deadline = ScopedTimer(*loop, timeout, [op] {
      op->timed_out = true;
      op->resolver.cancel();
      error_code ignored;
      op->socket.close(ignored);
    });
  }

  std::vector<Proto::endpoint> targets;
  if (ep.kind == Endpoint::Kind::kVsock) {
    targets.push_back(vsock_endpoint(ep.cid, ep.port));
  } else {
    error_code ec;
    asio::ip::address addr = asio::ip::make_address(ep.host, ec);
    if (!ec) {
      targets.emplace_back(asio::ip::tcp::endpoint(addr, ep.port));
    } else {
      Oneshot<ResolveResult> resolved(*loop);
      op->resolver.async_resolve(
          ep.host, std::to_string(ep.port), asio::ip::tcp::resolver::numeric_service,
          [op, resolved](const error_code& rec, asio::ip::tcp::resolver::results_type results) {
            resolved.set(ResolveResult{rec, std::move(results)});
          });
      ResolveResult r = co_await resolved;
      if (op->timed_out) co_return connect_timeout(ep);
      if (r.ec) {
        co_return make_error(ErrorCode::TRANSPORT_UNREACHABLE,
                             "connect to " + ep.to_string() + ": cannot resolve host: " +
                                 r.ec.message());
      }
      for (const auto& entry : r.results) targets.emplace_back(entry.endpoint());
    }
  }

  Status last = make_error(ErrorCode::TRANSPORT_UNREACHABLE,
                           "connect to " + ep.to_string() + ": host has no address");
  for (const Proto::endpoint& target : targets) {
    if (op->timed_out) break;
    error_code ec;
    if (op->socket.is_open()) op->socket.close(ec);
    op->socket.open(target.protocol(), ec);
    if (ec) {
      last = socket_error(ec, Phase::kConnect, "connect to " + ep.to_string());
      continue;
    }
    Oneshot<error_code> connected(*loop);
    op->socket.async_connect(target, [op, connected](const error_code& cec) { connected.set(cec); });
    ec = co_await connected;
    if (op->timed_out) break;
    if (!ec) co_return make_stream(loop, std::move(op->socket));
    last = socket_error(ec, Phase::kConnect,
                        "connect to " + ep.to_string() + " (" + to_endpoint(target).to_string() + ")");
  }
  if (op->timed_out) co_return connect_timeout(ep);
  co_return last;
}

Result<asio::ip::address> listen_address(asio::io_context& io, const std::string& host) {
  error_code ec;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (!ec) return addr;
  asio::ip::tcp::resolver resolver(io);
  auto results = resolver.resolve(host, "0", asio::ip::tcp::resolver::passive |
                                                 asio::ip::tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return make_error(ErrorCode::TRANSPORT_UNREACHABLE,
                      "listen on " + host + ": cannot resolve host: " +
                          (ec ? ec.message() : std::string("no address")));
  }
  return results.begin()->endpoint().address();
}

}  // namespace

Result<std::unique_ptr<runtime::Listener>> TcpNetwork::listen(const Endpoint& endpoint) {
  Proto::endpoint bind_ep;
  if (endpoint.kind == Endpoint::Kind::kVsock) {
    if (endpoint.port == 0) {
      return make_error(ErrorCode::NOT_SUPPORTED,
                        "listen on " + endpoint.to_string() +
                            ": vsock port 0 (kernel-chosen ports are 32-bit; Endpoint ports are "
                            "16-bit): pass an explicit port");
    }
    bind_ep = vsock_endpoint(endpoint.cid, endpoint.port);
  } else {
    CPIPE_ASSIGN_OR_RETURN(asio::ip::address addr, listen_address(loop_->io_context(), endpoint.host));
    bind_ep = Proto::endpoint(asio::ip::tcp::endpoint(addr, endpoint.port));
  }
  const std::string what = "listen on " + endpoint.to_string();
  auto state = std::make_shared<ListenerState>(loop_);
  error_code ec;
  state->acceptor.open(bind_ep.protocol(), ec);
  if (ec) return socket_error(ec, Phase::kListen, what);
  if (endpoint.kind == Endpoint::Kind::kTcp) {
    // Rebinding a port whose old connections sit in TIME_WAIT is fine; a live listener still
    // makes bind fail with EADDRINUSE.
    state->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) return socket_error(ec, Phase::kListen, what);
  }
  state->acceptor.bind(bind_ep, ec);
  if (ec) return socket_error(ec, Phase::kListen, what);
  state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return socket_error(ec, Phase::kListen, what);
  Proto::endpoint bound = state->acceptor.local_endpoint(ec);
  if (ec) return socket_error(ec, Phase::kListen, what);
  state->local = endpoint;
  state->local.port = to_endpoint(bound).port;
  return std::unique_ptr<runtime::Listener>(std::make_unique<SocketListener>(std::move(state)));
}

Task<Result<std::shared_ptr<runtime::Stream>>> TcpNetwork::connect(const Endpoint& endpoint,
                                                                   Duration timeout) {
  return connect_impl(loop_, endpoint, timeout);
}

}  // namespace cpipe::posix

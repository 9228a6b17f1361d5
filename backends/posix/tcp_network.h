// TcpNetwork: runtime::Network over real sockets on an EventLoop — TCP (IPv4/IPv6, host names
// resolved asynchronously) and AF_VSOCK (cid:port), both as Asio generic stream sockets so that
// one Stream/Listener implementation serves both. Semantics are exactly those documented in
// core/runtime/transport.h; the choices that document leaves open:
//  - connect timeout covers name resolution and every address tried; kNoTimeout (0) = none.
//  - an operation started after the local close() gets TRANSPORT_CLOSED; one pending at close()
//    gets CANCELLED.
//  - read_some on an empty buffer returns 0 at once; a second concurrent read (or write) is
//    FAILED_PRECONDITION (both as in the simulated network).
//  - a read timeout never consumes data: reads wait for readability and then read without
//    blocking, so a timed-out read leaves the stream exactly as it was.
//  - close() sends FIN before closing, so the peer reads EOF even when the close also resets
//    the connection (Linux resets when unread input is discarded; FIN-then-RST reads as EOF).
//  - a Listener reports the host it was asked for with the real port (port 0 = OS picks).
//  - VSock: port 0 cannot be listened on (the kernel picks 32-bit ports; Endpoint ports are
//    16-bit), so it is NOT_SUPPORTED; NOT_SUPPORTED too when the kernel lacks AF_VSOCK.
// Everything runs on the loop thread; the loop must outlive the network and its streams.
#pragma once

#include <memory>

#include "backends/posix/event_loop.h"
#include "core/runtime/transport.h"

namespace cpipe::posix {

class TcpNetwork final : public runtime::Network {
 public:
  explicit TcpNetwork(EventLoop& loop) : loop_(&loop) {}

  Result<std::unique_ptr<runtime::Listener>> listen(const runtime::Endpoint& endpoint) override;
  runtime::Task<Result<std::shared_ptr<runtime::Stream>>> connect(
      const runtime::Endpoint& endpoint, runtime::Duration timeout) override;

 private:
  EventLoop* loop_;
};

}  // namespace cpipe::posix

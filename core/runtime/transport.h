// Transport: byte streams between endpoints (TCP or VSock), as seen by core/. Backends: the
// simulated network (backends/simulated), TCP over Boost.Asio (backends/posix), AF_VSOCK
// (backends/nitro). The untrusted host sits on every such stream, so nothing read from one is
// trusted before the secure channel authenticates it.
//
// Semantics every backend implements and the conformance tests check:
//  - connect: TRANSPORT_REFUSED when nothing listens, TRANSPORT_UNREACHABLE when no route,
//    TRANSPORT_TIMEOUT when the connect timeout elapses first.
//  - read_some: at least 1 byte, or TRANSPORT_CLOSED on orderly EOF, TRANSPORT_RESET when the
//    connection broke, TRANSPORT_TIMEOUT when `timeout` (> 0) elapsed with no data (the stream
//    stays usable), CANCELLED when the stream was closed locally meanwhile.
//  - write_all: all bytes queued in order, or TRANSPORT_RESET/TRANSPORT_CLOSED/CANCELLED.
//  - close: idempotent; pending operations complete with CANCELLED; the peer sees EOF.
//  - At most one read and one write outstanding per stream.
// Streams are shared_ptr-owned; an implementation keeps whatever a pending operation needs
// alive by itself, so dropping the last reference (which closes) is always safe.
#pragma once

#include <memory>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/runtime/clock.h"
#include "core/runtime/endpoint.h"
#include "core/runtime/task.h"

namespace cpipe::runtime {

inline constexpr Duration kNoTimeout{0};

class Stream {
 public:
  virtual ~Stream() = default;
  virtual Task<Result<size_t>> read_some(MutableByteSpan buffer, Duration timeout = kNoTimeout) = 0;
  virtual Task<Status> write_all(ByteSpan data) = 0;
  virtual void close() = 0;
  virtual Endpoint local_endpoint() const = 0;
  virtual Endpoint peer_endpoint() const = 0;
};

// Reads exactly buffer.size() bytes. EOF in the middle is TRANSPORT_CLOSED as well; callers that
// parse frames turn that into their own "truncated" code.
Task<Status> read_exact(Stream& stream, MutableByteSpan buffer, Duration timeout = kNoTimeout);

class Listener {
 public:
  virtual ~Listener() = default;
  // The next inbound connection; CANCELLED after close().
  virtual Task<Result<std::shared_ptr<Stream>>> accept() = 0;
  virtual void close() = 0;
  // The bound endpoint (with the real port when 0 was asked for).
  virtual Endpoint local_endpoint() const = 0;
};

class Network {
 public:
  virtual ~Network() = default;
  // TRANSPORT_ADDRESS_IN_USE when taken; NOT_SUPPORTED for an endpoint kind the backend lacks.
  virtual Result<std::unique_ptr<Listener>> listen(const Endpoint& endpoint) = 0;
  virtual Task<Result<std::shared_ptr<Stream>>> connect(const Endpoint& endpoint,
                                                        Duration timeout) = 0;
};

}  // namespace cpipe::runtime

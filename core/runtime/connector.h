// StreamConnector: "give me a fresh byte stream to the service", the one thing a request/response
// client (KMS, S3) needs from the transport. Clients depend on this instead of on Network +
// Endpoint so the path can be layered without them knowing: plain TCP in the simulator, TCP or
// vsock to the host proxy, TLS over that on hardware (backends/posix/tls_stream.h).
#pragma once

#include <memory>
#include <utility>

#include "core/base/status.h"
#include "core/runtime/endpoint.h"
#include "core/runtime/task.h"
#include "core/runtime/transport.h"

namespace cpipe::runtime {

class StreamConnector {
 public:
  virtual ~StreamConnector() = default;
  // A new connected stream, or the transport's error (TRANSPORT_REFUSED/UNREACHABLE/TIMEOUT...).
  virtual Task<Result<std::shared_ptr<Stream>>> connect() = 0;
};

// Connects to a fixed endpoint through a Network. The Network must outlive the connector.
class NetworkConnector final : public StreamConnector {
 public:
  NetworkConnector(Network* network, Endpoint endpoint, Duration connect_timeout)
      : network_(network), endpoint_(std::move(endpoint)), timeout_(connect_timeout) {}

  Task<Result<std::shared_ptr<Stream>>> connect() override {
    return network_->connect(endpoint_, timeout_);
  }

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Network* network_;
  Endpoint endpoint_;
  Duration timeout_;
};

}  // namespace cpipe::runtime

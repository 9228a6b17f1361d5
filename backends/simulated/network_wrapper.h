// NetworkWrapper and StreamWrapper: forward everything to a wrapped runtime::Network / Stream
// (LevelDB's EnvWrapper idea). A fault injector derives from them and overrides only what it
// disturbs, e.g. a connect that fails every third time or a stream whose writes are truncated,
// then is installed with SimNode::install_network(). Backend-neutral: it wraps any Network.
#pragma once

#include <memory>
#include <utility>

#include "core/runtime/transport.h"

namespace cpipe::sim {

class StreamWrapper : public runtime::Stream {
 public:
  explicit StreamWrapper(std::shared_ptr<runtime::Stream> inner) : inner_(std::move(inner)) {}
  runtime::Task<Result<size_t>> read_some(MutableByteSpan buffer,
                                          runtime::Duration timeout) override {
    return inner_->read_some(buffer, timeout);
  }
  runtime::Task<Status> write_all(ByteSpan data) override { return inner_->write_all(data); }
  void close() override { inner_->close(); }
  runtime::Endpoint local_endpoint() const override { return inner_->local_endpoint(); }
  runtime::Endpoint peer_endpoint() const override { return inner_->peer_endpoint(); }
  runtime::Stream& inner() { return *inner_; }

 private:
  std::shared_ptr<runtime::Stream> inner_;
};

class NetworkWrapper : public runtime::Network {
 public:
  // `inner` must outlive the wrapper (SimNode keeps both).
  explicit NetworkWrapper(runtime::Network& inner) : inner_(inner) {}
  Result<std::unique_ptr<runtime::Listener>> listen(const runtime::Endpoint& endpoint) override {
    return inner_.listen(endpoint);
  }
  runtime::Task<Result<std::shared_ptr<runtime::Stream>>> connect(
      const runtime::Endpoint& endpoint, runtime::Duration timeout) override {
    return inner_.connect(endpoint, timeout);
  }
  runtime::Network& inner() { return inner_; }

 private:
  runtime::Network& inner_;
};

}  // namespace cpipe::sim

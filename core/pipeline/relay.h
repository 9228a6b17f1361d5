// ByteRelay: the untrusted host's forwarding role. It accepts connections on one endpoint,
// connects each onward to an upstream endpoint, and copies bytes both ways until either side
// ends. This is what the parent instance of a Nitro enclave does for vsock traffic, and what the
// simulator's host does between stages. It never sees plaintext if the secure channel is doing
// its job; a RelayTap observes every chunk so tests and the main job can check exactly that.
#pragma once

#include <cstdint>
#include <memory>

#include "core/base/bytes.h"
#include "core/base/event.h"
#include "core/runtime/env.h"
#include "core/runtime/transport.h"

namespace cpipe::pipeline {

enum class RelayDirection { kToUpstream, kToDownstream };

class RelayTap {
 public:
  virtual ~RelayTap() = default;
  // Called for every chunk before it is forwarded; `connection` counts from 0 per relay.
  virtual void on_chunk(uint64_t connection, RelayDirection direction, ByteSpan bytes) = 0;
};

struct RelayConfig {
  runtime::Endpoint upstream;
  runtime::Duration connect_timeout = std::chrono::seconds(5);
  size_t buffer_size = 64 * 1024;
  // Stop accepting after this many connections (0 = serve until stop()).
  uint64_t max_connections = 0;
};

class ByteRelay {
 public:
  // `env` must outlive the relay; the relay must outlive every task it starts (serve() and the
  // per-connection pumps), i.e. keep it alive until the executor has run dry or been stopped.
  ByteRelay(runtime::Env& env, std::unique_ptr<runtime::Listener> listener, RelayConfig config,
            RelayTap* tap = nullptr);
  ~ByteRelay();

  // Accepts and relays until stop() or max_connections; per-connection work runs in its own
  // tasks, so this returns once accepting ends.
  runtime::Task<void> serve();
  // Stops accepting (open connections keep flowing until either end closes).
  void stop();

  uint64_t connections() const { return connections_; }
  uint64_t bytes_relayed() const { return bytes_relayed_; }
  runtime::Endpoint local_endpoint() const { return listener_->local_endpoint(); }

 private:
  static runtime::Task<void> handle(ByteRelay* self, uint64_t id,
                                    std::shared_ptr<runtime::Stream> downstream);
  static runtime::Task<void> pump(ByteRelay* self, uint64_t id, RelayDirection direction,
                                  std::shared_ptr<runtime::Stream> from,
                                  std::shared_ptr<runtime::Stream> to);

  runtime::Env* env_;
  std::unique_ptr<runtime::Listener> listener_;
  RelayConfig config_;
  RelayTap* tap_;
  Logger log_;
  uint64_t connections_ = 0;
  uint64_t bytes_relayed_ = 0;
};

}  // namespace cpipe::pipeline

// The relay's accept loop and its two pumps per connection.
#include "core/pipeline/relay.h"

#include <string>

namespace cpipe::pipeline {

ByteRelay::ByteRelay(runtime::Env& env, std::unique_ptr<runtime::Listener> listener,
                     RelayConfig config, RelayTap* tap)
    : env_(&env),
      listener_(std::move(listener)),
      config_(std::move(config)),
      tap_(tap),
      log_(env.logger("relay")) {}

ByteRelay::~ByteRelay() { listener_->close(); }

void ByteRelay::stop() { listener_->close(); }

runtime::Task<void> ByteRelay::serve() {
  while (config_.max_connections == 0 || connections_ < config_.max_connections) {
    Result<std::shared_ptr<runtime::Stream>> accepted = co_await listener_->accept();
    if (!accepted.ok()) {
      if (accepted.code() != ErrorCode::CANCELLED) {
        log_.warn("accept_failed", {{"error", accepted.status().to_string()}});
      }
      co_return;
    }
    uint64_t id = connections_++;
    runtime::spawn(*env_->executor, handle(this, id, std::move(*accepted)));
  }
}

runtime::Task<void> ByteRelay::handle(ByteRelay* self, uint64_t id,
                                      std::shared_ptr<runtime::Stream> downstream) {
  Result<std::shared_ptr<runtime::Stream>> upstream =
      co_await self->env_->network->connect(self->config_.upstream, self->config_.connect_timeout);
  if (!upstream.ok()) {
    self->log_.warn("upstream_connect_failed", {{"connection", std::to_string(id)},
                                                {"upstream", self->config_.upstream.to_string()},
                                                {"error", upstream.status().to_string()}});
    downstream->close();
    co_return;
  }
  self->log_.info("relaying", {{"connection", std::to_string(id)},
                               {"from", downstream->peer_endpoint().to_string()},
                               {"to", self->config_.upstream.to_string()}});
  runtime::spawn(*self->env_->executor,
                 pump(self, id, RelayDirection::kToUpstream, downstream, *upstream));
  runtime::spawn(*self->env_->executor,
                 pump(self, id, RelayDirection::kToDownstream, *upstream, downstream));
}

runtime::Task<void> ByteRelay::pump(ByteRelay* self, uint64_t id, RelayDirection direction,
                                    std::shared_ptr<runtime::Stream> from,
                                    std::shared_ptr<runtime::Stream> to) {
  Bytes buffer(self->config_.buffer_size);
  for (;;) {
    Result<size_t> n = co_await from->read_some(buffer);
    if (!n.ok()) break;
    ByteSpan chunk(buffer.data(), *n);
    if (self->tap_) self->tap_->on_chunk(id, direction, chunk);
    self->bytes_relayed_ += *n;
    Status written = co_await to->write_all(chunk);
    if (!written.ok()) break;
  }
  // Either end finished or failed: the host tears the whole connection down.
  from->close();
  to->close();
}

}  // namespace cpipe::pipeline

// Small coroutines the simulator tests drive: each takes what it needs by value or by pointer
// to an object that outlives it (never a capturing lambda coroutine) and records its outcome.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "backends/simulated/sim_world.h"
#include "core/runtime/executor.h"
#include "core/runtime/transport.h"

namespace cpipe::sim::testing {

using runtime::Duration;
using runtime::Endpoint;
using runtime::Task;
using StreamPtr = std::shared_ptr<runtime::Stream>;
using StreamResult = Result<StreamPtr>;

// An outcome with the virtual time it completed at.
template <typename T>
struct Outcome {
  std::optional<T> value;
  int64_t at = -1;
  bool done() const { return value.has_value(); }
};

inline Task<void> connect_to(runtime::Network* net, runtime::Clock* clock, Endpoint ep,
                             Duration timeout, Outcome<StreamResult>* out) {
  StreamResult r = co_await net->connect(ep, timeout);
  out->at = clock->now().ns;
  out->value.emplace(std::move(r));
}

inline Task<void> accept_one(runtime::Listener* l, runtime::Clock* clock,
                             Outcome<StreamResult>* out) {
  StreamResult r = co_await l->accept();
  out->at = clock->now().ns;
  out->value.emplace(std::move(r));
}

inline Task<void> read_some_into(StreamPtr s, runtime::Clock* clock, size_t max, Duration timeout,
                                 Outcome<Result<Bytes>>* out) {
  Bytes buf(max);
  Result<size_t> n = co_await s->read_some(buf, timeout);
  out->at = clock->now().ns;
  if (n.ok()) {
    buf.resize(*n);
    out->value.emplace(std::move(buf));
  } else {
    out->value.emplace(n.status());
  }
}

// Reads until EOF/error; records every chunk's arrival time and the final status.
struct Drain {
  Bytes data;
  std::vector<int64_t> chunk_times;
  std::optional<Status> end;
};
inline Task<void> drain(StreamPtr s, runtime::Clock* clock, Drain* out) {
  Bytes buf(1 << 20);
  for (;;) {
    Result<size_t> n = co_await s->read_some(buf);
    if (!n.ok()) {
      out->end = n.status();
      co_return;
    }
    out->data.insert(out->data.end(), buf.begin(), buf.begin() + ptrdiff_t(*n));
    out->chunk_times.push_back(clock->now().ns);
  }
}

inline Task<void> write_bytes(StreamPtr s, runtime::Clock* clock, Bytes data,
                              Outcome<Status>* out) {
  Status st = co_await s->write_all(data);
  out->at = clock->now().ns;
  out->value.emplace(std::move(st));
}

// Echoes everything back until EOF or error, then closes.
inline Task<void> echo_stream(StreamPtr s) {
  Bytes buf(64 * 1024);
  for (;;) {
    Result<size_t> n = co_await s->read_some(buf);
    if (!n.ok()) break;
    Status st = co_await s->write_all(ByteSpan(buf.data(), *n));
    if (!st.ok()) break;
  }
  s->close();
}

// Accepts `count` connections (forever when < 0) and echoes on each.
inline Task<void> echo_server(runtime::Listener* l, runtime::Executor* ex, int count) {
  for (int i = 0; count < 0 || i < count; ++i) {
    StreamResult r = co_await l->accept();
    if (!r.ok()) co_return;
    runtime::spawn(*ex, echo_stream(std::move(r).value()));
  }
}

}  // namespace cpipe::sim::testing

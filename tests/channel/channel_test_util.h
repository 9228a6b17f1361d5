// Backend-neutral actors for channel tests: a peer that runs the handshake and a script of
// sends/receives, and a hostile relay (the untrusted host) that sits between two peers,
// forwards frame by frame (record headers are cleartext) and lets a policy drop, duplicate,
// reorder, replay, alter or truncate frames. They run on any runtime::Env: SimWorld nodes or
// the posix backend. Coroutines take pointers to objects that outlive them (no capturing
// lambda coroutines).
#pragma once

#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/attest/mock_attestation.h"
#include "core/channel/secure_channel.h"
#include "core/codec/tensor_frame.h"
#include "core/runtime/env.h"
#include "core/runtime/transport.h"

namespace cpipe::channel::testing {

using runtime::Task;
using StreamPtr = std::shared_ptr<runtime::Stream>;

// ---- attestation set-up ------------------------------------------------------------------------

inline Bytes measurement_of(std::string_view who) { return Bytes(48, uint8_t(who.size() * 17 + who[0])); }

// Mock provider + verifier for one party: it proves measurement_of(self) and pins
// measurement_of(peer) under the mock root `root_seed`.
struct Attestation {
  std::unique_ptr<attest::MockAttestationProvider> provider;
  std::unique_ptr<attest::MockAttestationVerifier> verifier;
};

inline Attestation make_attestation(runtime::Env& env, std::string_view self, std::string_view peer,
                                    std::string root_seed = "tests-root",
                                    std::string peer_root_seed = "tests-root") {
  attest::MockProviderConfig pc;
  pc.platform_seed = root_seed;
  pc.measurements = {{"PCR0", measurement_of(self)}};
  pc.latency = std::chrono::microseconds(200);
  attest::MockVerifierPolicy vp;
  vp.platform_public_key = attest::mock_platform_public_key(peer_root_seed);
  vp.expected_measurements = {{"PCR0", measurement_of(peer)}};
  Attestation a;
  a.provider = std::move(*attest::MockAttestationProvider::create(env, pc));
  a.verifier = std::make_unique<attest::MockAttestationVerifier>(vp, env.events);
  return a;
}

// ---- peers -------------------------------------------------------------------------------------

struct Outgoing {
  bool tensor = false;
  codec::TensorHeader header;  // tensors only
  Bytes data;
  static Outgoing bytes(Bytes b) { return Outgoing{false, {}, std::move(b)}; }
  static Outgoing tensor_of(codec::TensorHeader h, Bytes b) { return Outgoing{true, std::move(h), std::move(b)}; }
};

struct Received {
  MessageKind kind;
  Bytes payload;  // data bytes, or the tensor's element data
  std::optional<codec::TensorHeader> header;
};

enum class After { kNothing, kClose, kAbort };

struct PeerSpec {
  bool initiator = true;
  runtime::Endpoint connect_to;              // initiator
  runtime::Listener* listener = nullptr;     // responder
  ChannelConfig config;
  std::vector<Outgoing> to_send;
  bool receive_first = false;
  size_t receive_count = std::numeric_limits<size_t>::max();  // stop after this many
  After after = After::kNothing;             // after sending (and receiving, if first)
  bool duplex = false;  // receive concurrently with sending (needs an executor)
};

struct PeerState {
  std::optional<Status> handshake;
  std::vector<Status> send_results;
  std::vector<Received> received;
  std::optional<Status> receive_end;  // the error that ended receiving
  std::unique_ptr<SecureChannel> channel;
  bool finished = false;
};

inline Task<void> receive_phase(PeerSpec* spec, PeerState* st) {
  while (st->received.size() < spec->receive_count) {
    Result<Message> m = co_await st->channel->receive();
    if (!m.ok()) {
      st->receive_end = m.status();
      co_return;
    }
    Received r{m->kind, {}, std::nullopt};
    if (m->tensor) {
      r.payload.assign(m->tensor->data.begin(), m->tensor->data.end());
      r.header = m->tensor->header;
    } else {
      r.payload = m->to_bytes();
    }
    st->received.push_back(std::move(r));
  }
}

inline Task<void> send_phase(PeerSpec* spec, PeerState* st) {
  for (const Outgoing& o : spec->to_send) {
    Status s;  // (no co_await inside ?: — GCC 12 miscompiles temporaries there)
    if (o.tensor) {
      s = co_await st->channel->send_tensor(o.header, o.data);
    } else {
      s = co_await st->channel->send(o.data);
    }
    st->send_results.push_back(s);
    if (!s.ok()) co_return;
  }
}

inline Task<void> run_peer(runtime::Env* env, PeerSpec* spec, PeerState* st) {
  Result<std::unique_ptr<SecureChannel>> ch = make_error(ErrorCode::INTERNAL, "not run");
  if (spec->initiator) {
    Result<StreamPtr> s = co_await env->network->connect(spec->connect_to, std::chrono::seconds(5));
    if (!s.ok()) {
      st->handshake = s.status();
      st->finished = true;
      co_return;
    }
    ch = co_await SecureChannel::connect(*env, *s, spec->config);
  } else {
    Result<StreamPtr> s = co_await spec->listener->accept();
    if (!s.ok()) {
      st->handshake = s.status();
      st->finished = true;
      co_return;
    }
    ch = co_await SecureChannel::accept(*env, *s, spec->config);
  }
  if (!ch.ok()) {
    st->handshake = ch.status();
    st->finished = true;
    co_return;
  }
  st->handshake = Status::Ok();
  st->channel = std::move(*ch);
  if (spec->duplex) {
    runtime::spawn(*env->executor, receive_phase(spec, st));
    co_await send_phase(spec, st);
    st->finished = true;
    co_return;
  }
  if (spec->receive_first) co_await receive_phase(spec, st);
  co_await send_phase(spec, st);
  if (spec->after == After::kClose) co_await st->channel->close();
  if (spec->after == After::kAbort) st->channel->abort();
  if (!spec->receive_first) co_await receive_phase(spec, st);
  st->finished = true;
}

// ---- the hostile relay -------------------------------------------------------------------------

inline constexpr int kToServer = 0;  // initiator -> responder: M1, M3, records
inline constexpr int kToClient = 1;  // responder -> initiator: M2, records

struct RelayDecision {
  std::vector<Bytes> emit;   // what to send on instead of the frame (in order)
  bool close_after = false;  // then close both connections
  bool stall = false;        // then stop forwarding this direction (connections stay open)
  static RelayDecision forward(Bytes f) { return RelayDecision{{std::move(f)}, false, false}; }
  static RelayDecision drop() { return RelayDecision{}; }
};

// frame index counts frames per direction from 0 (kToServer: 0 = M1, 1 = M3, 2.. records;
// kToClient: 0 = M2, 1.. records).
using RelayPolicy = std::function<RelayDecision(int dir, size_t index, const Bytes& frame)>;

struct Relay {
  runtime::Env* env = nullptr;
  runtime::Listener* listener = nullptr;
  runtime::Endpoint upstream;
  RelayPolicy policy;  // empty = forward everything
  std::vector<Bytes> seen[2];  // every frame as the sender sent it
  size_t connections = 0;
};

inline Task<void> relay_pump(Relay* relay, int dir, StreamPtr from, StreamPtr to) {
  for (size_t index = 0;; ++index) {
    Bytes frame(kFrameHeaderSize);
    Status s = co_await runtime::read_exact(*from, frame);
    if (!s.ok()) break;
    FrameHeader h = decode_frame_header(frame.data());
    if (h.length > 64u * 1024 * 1024) break;
    frame.resize(kFrameHeaderSize + h.length);
    s = co_await runtime::read_exact(*from, MutableByteSpan(frame).subspan(kFrameHeaderSize));
    if (!s.ok()) break;
    relay->seen[dir].push_back(frame);
    RelayDecision d = relay->policy ? relay->policy(dir, index, frame) : RelayDecision::forward(frame);
    for (const Bytes& e : d.emit) {
      if (!(co_await to->write_all(e)).ok()) {
        from->close();
        co_return;
      }
    }
    if (d.close_after) {
      from->close();
      to->close();
      co_return;
    }
    if (d.stall) co_return;
  }
  to->close();  // propagate EOF
}

inline Task<void> relay_serve(Relay* relay, size_t max_connections) {
  while (relay->connections < max_connections) {
    Result<StreamPtr> down = co_await relay->listener->accept();
    if (!down.ok()) co_return;
    ++relay->connections;
    Result<StreamPtr> up = co_await relay->env->network->connect(relay->upstream, std::chrono::seconds(5));
    if (!up.ok()) {
      (*down)->close();
      continue;
    }
    runtime::spawn(*relay->env->executor, relay_pump(relay, kToServer, *down, *up));
    runtime::spawn(*relay->env->executor, relay_pump(relay, kToClient, *up, *down));
  }
}

// Replays a recorded initiator handshake (M1, then M3 after reading M2) into a new connection.
struct ReplayState {
  std::optional<Status> done;
};
inline Task<void> replay_handshake(runtime::Env* env, runtime::Endpoint to, Bytes m1, Bytes m3,
                                   ReplayState* st) {
  Result<StreamPtr> s = co_await env->network->connect(to, std::chrono::seconds(5));
  if (!s.ok()) {
    st->done = s.status();
    co_return;
  }
  StreamPtr stream = *s;
  Status w = co_await stream->write_all(m1);
  Bytes hdr(kFrameHeaderSize);
  if (w.ok()) w = co_await runtime::read_exact(*stream, hdr);
  if (w.ok()) {
    Bytes body(decode_frame_header(hdr.data()).length);
    w = co_await runtime::read_exact(*stream, body);
  }
  if (w.ok()) w = co_await stream->write_all(m3);
  // Wait for the responder's verdict (it closes the connection).
  Bytes buf(64);
  Result<size_t> n = co_await stream->read_some(buf);
  st->done = n.ok() ? Status::Ok() : n.status();
  stream->close();
}

// Test payloads.
inline Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    b[i] = uint8_t(x >> 24);
  }
  return b;
}

}  // namespace cpipe::channel::testing

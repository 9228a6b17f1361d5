// HostProxy: the untrusted parent instance's vsock-to-TCP proxy — what AWS's vsock-proxy does
// for an enclave, which has no network of its own. Each route listens on one endpoint (a vsock
// port on the parent) and relays every connection to one upstream TCP service (KMS, S3),
// built on ByteRelay. Like vsock-proxy it has an allow-list: a route whose upstream is not on it
// is refused when the proxy is configured (PIPELINE_PROXY_NOT_ALLOWED), so a misconfigured or
// tampered host config cannot point the enclave's traffic anywhere new without it showing.
//
// The proxy is the adversary's vantage point, and tests use it as such: a RelayTap sees every
// byte it relays (to prove it only ever sees TLS records or ciphertext), and tamper rules flip
// a byte at a given offset of a given connection and direction (to prove the enclave refuses
// what the host altered). Tampering of bytes toward the enclave happens after the tap saw them;
// of bytes toward the upstream, before.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/pipeline/relay.h"
#include "core/runtime/env.h"

namespace cpipe::pipeline {

// One allow-list entry (vsock-proxy's `allowlist: [{address, port}]`): a TCP host and port.
struct AllowedUpstream {
  std::string host;  // compared case-insensitively
  uint16_t port = 0;
};

struct ProxyRoute {
  std::string name;           // "s3", "kms": for events and tamper rules
  runtime::Endpoint listen;   // where the enclave connects (e.g. vsock:3:8001)
  runtime::Endpoint upstream;  // the service (tcp:HOST:PORT)
};

struct HostProxyConfig {
  std::vector<ProxyRoute> routes;
  std::vector<AllowedUpstream> allowlist;
  runtime::Duration connect_timeout = std::chrono::seconds(5);
  size_t buffer_size = 64 * 1024;
};

// The host flips bytes: XOR `mask` into the byte at `offset` (counted from the start of that
// connection's stream in that direction) of connection number `connection` (counted from 0
// per route) of route `route`.
struct TamperRule {
  std::string route;
  uint64_t connection = 0;
  RelayDirection direction = RelayDirection::kToDownstream;
  uint64_t offset = 0;
  uint8_t mask = 0x01;
};

// PIPELINE_PROXY_NOT_ALLOWED unless `upstream` is a TCP endpoint on `allowlist`.
Status check_upstream_allowed(const runtime::Endpoint& upstream, const std::vector<AllowedUpstream>& allowlist);

class HostProxy {
 public:
  // Checks every route against the allow-list (and rejects duplicate names or listen
  // endpoints: INVALID_ARGUMENT) and binds the listeners. `env` outlives the proxy; `tap`
  // (optional) outlives it too and sees every route's traffic.
  static Result<std::unique_ptr<HostProxy>> create(runtime::Env& env, HostProxyConfig config,
                                                   RelayTap* tap = nullptr);
  ~HostProxy();

  // Spawns every route's relay on the Env's executor. Keep the proxy alive until the executor
  // ran dry (or was destroyed): its relays refer to it.
  void start();
  // Stops accepting on every route (open connections keep flowing until an end closes).
  void stop();

  void add_tamper(TamperRule rule);
  uint64_t tampered_bytes() const { return tampered_; }

  size_t route_count() const { return routes_.size(); }
  const ProxyRoute& route(size_t i) const;
  uint64_t connections(size_t route) const;
  uint64_t bytes_relayed(size_t route) const;

  class TamperHook;  // applies the rules to one connection's streams (host_proxy.cc)

 private:
  struct RouteState;
  explicit HostProxy(runtime::Env& env);

  runtime::Env* env_;
  std::vector<std::unique_ptr<RouteState>> routes_;
  std::vector<TamperRule> rules_;
  uint64_t tampered_ = 0;
};

}  // namespace cpipe::pipeline

// HostProxy: allow-list check at configuration, one ByteRelay per route over a listener whose
// streams apply the tamper rules.
#include "core/pipeline/host_proxy.h"

#include <cctype>
#include <set>

namespace cpipe::pipeline {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

// Applies the proxy's rules to the bytes of one relayed connection.
class HostProxy::TamperHook {
 public:
  TamperHook(HostProxy* proxy, std::string route, uint64_t connection)
      : proxy_(proxy), route_(std::move(route)), connection_(connection) {}

  // Whether any rule hits [offset, offset + n) in `direction`.
  bool hits(RelayDirection direction, uint64_t offset, size_t n) const {
    for (const TamperRule& r : proxy_->rules_)
      if (matches(r, direction) && r.offset >= offset && r.offset - offset < n) return true;
    return false;
  }
  void apply(RelayDirection direction, uint64_t offset, MutableByteSpan bytes) {
    for (const TamperRule& r : proxy_->rules_) {
      if (!matches(r, direction) || r.offset < offset || r.offset - offset >= bytes.size()) continue;
      bytes[r.offset - offset] ^= r.mask;
      ++proxy_->tampered_;
    }
  }

 private:
  bool matches(const TamperRule& r, RelayDirection d) const {
    return r.direction == d && r.connection == connection_ && r.route == route_;
  }
  HostProxy* proxy_;
  std::string route_;
  uint64_t connection_;
};

namespace {

// The downstream (enclave-side) stream of a relayed connection. Reads are bytes going to the
// upstream; writes are bytes going to the enclave.
class TamperingStream final : public runtime::Stream {
 public:
  TamperingStream(std::shared_ptr<runtime::Stream> inner, std::unique_ptr<HostProxy::TamperHook> hook)
      : inner_(std::move(inner)), hook_(std::move(hook)) {}

  runtime::Task<Result<size_t>> read_some(MutableByteSpan buffer, runtime::Duration timeout) override {
    Result<size_t> n = co_await inner_->read_some(buffer, timeout);
    if (n.ok()) {
      hook_->apply(RelayDirection::kToUpstream, up_offset_, buffer.first(*n));
      up_offset_ += *n;
    }
    co_return n;
  }
  runtime::Task<Status> write_all(ByteSpan data) override {
    const uint64_t offset = down_offset_;
    down_offset_ += data.size();
    if (!hook_->hits(RelayDirection::kToDownstream, offset, data.size())) co_return co_await inner_->write_all(data);
    Bytes altered(data.begin(), data.end());
    hook_->apply(RelayDirection::kToDownstream, offset, altered);
    co_return co_await inner_->write_all(altered);
  }
  void close() override { inner_->close(); }
  runtime::Endpoint local_endpoint() const override { return inner_->local_endpoint(); }
  runtime::Endpoint peer_endpoint() const override { return inner_->peer_endpoint(); }

 private:
  std::shared_ptr<runtime::Stream> inner_;
  std::unique_ptr<HostProxy::TamperHook> hook_;
  uint64_t up_offset_ = 0;
  uint64_t down_offset_ = 0;
};

class TamperingListener final : public runtime::Listener {
 public:
  TamperingListener(std::unique_ptr<runtime::Listener> inner, HostProxy* proxy, std::string route)
      : inner_(std::move(inner)), proxy_(proxy), route_(std::move(route)) {}

  runtime::Task<Result<std::shared_ptr<runtime::Stream>>> accept() override {
    Result<std::shared_ptr<runtime::Stream>> s = co_await inner_->accept();
    if (!s.ok()) co_return s.status();
    auto hook = std::make_unique<HostProxy::TamperHook>(proxy_, route_, accepted_++);
    co_return std::shared_ptr<runtime::Stream>(std::make_shared<TamperingStream>(std::move(*s), std::move(hook)));
  }
  void close() override { inner_->close(); }
  runtime::Endpoint local_endpoint() const override { return inner_->local_endpoint(); }

 private:
  std::unique_ptr<runtime::Listener> inner_;
  HostProxy* proxy_;
  std::string route_;
  uint64_t accepted_ = 0;
};

}  // namespace

struct HostProxy::RouteState {
  ProxyRoute route;
  std::unique_ptr<ByteRelay> relay;
};

Status check_upstream_allowed(const runtime::Endpoint& upstream, const std::vector<AllowedUpstream>& allowlist) {
  if (upstream.kind == runtime::Endpoint::Kind::kTcp)
    for (const AllowedUpstream& a : allowlist)
      if (a.port == upstream.port && iequals(a.host, upstream.host)) return Status::Ok();
  return make_error(ErrorCode::PIPELINE_PROXY_NOT_ALLOWED,
                    "host proxy: upstream " + upstream.to_string() + " is not on the allow-list");
}

Result<std::unique_ptr<HostProxy>> HostProxy::create(runtime::Env& env, HostProxyConfig config, RelayTap* tap) {
  std::set<std::string> names;
  std::set<runtime::Endpoint> listens;
  for (const ProxyRoute& r : config.routes) {
    if (r.name.empty() || !names.insert(r.name).second)
      return make_error(ErrorCode::INVALID_ARGUMENT, "host proxy: route names must be unique and non-empty ('" + r.name + "')");
    if (!listens.insert(r.listen).second)
      return make_error(ErrorCode::INVALID_ARGUMENT, "host proxy: two routes listen on " + r.listen.to_string());
    CPIPE_RETURN_IF_ERROR(check_upstream_allowed(r.upstream, config.allowlist).with_context("route '" + r.name + "'"));
  }
  std::unique_ptr<HostProxy> proxy(new HostProxy(env));
  const Logger log = env.logger("host_proxy");
  for (const ProxyRoute& r : config.routes) {
    Result<std::unique_ptr<runtime::Listener>> l = env.network->listen(r.listen);
    if (!l.ok()) return l.status().with_context("host proxy route '" + r.name + "'");
    auto state = std::make_unique<RouteState>();
    state->route = r;
    RelayConfig rc;
    rc.upstream = r.upstream;
    rc.connect_timeout = config.connect_timeout;
    rc.buffer_size = config.buffer_size;
    state->relay = std::make_unique<ByteRelay>(
        env, std::make_unique<TamperingListener>(std::move(*l), proxy.get(), r.name), rc, tap);
    log.info("route", {{"name", r.name}, {"listen", r.listen.to_string()}, {"upstream", r.upstream.to_string()}});
    proxy->routes_.push_back(std::move(state));
  }
  return proxy;
}

HostProxy::HostProxy(runtime::Env& env) : env_(&env) {}

HostProxy::~HostProxy() { stop(); }

void HostProxy::start() {
  for (auto& r : routes_) runtime::spawn(*env_->executor, r->relay->serve());
}

void HostProxy::stop() {
  for (auto& r : routes_) r->relay->stop();
}

void HostProxy::add_tamper(TamperRule rule) {
  env_->logger("host_proxy").warn("tamper_rule", {{"route", rule.route},
                                                  {"connection", std::to_string(rule.connection)},
                                                  {"offset", std::to_string(rule.offset)}});
  rules_.push_back(std::move(rule));
}

const ProxyRoute& HostProxy::route(size_t i) const { return routes_.at(i)->route; }
uint64_t HostProxy::connections(size_t route) const { return routes_.at(route)->relay->connections(); }
uint64_t HostProxy::bytes_relayed(size_t route) const { return routes_.at(route)->relay->bytes_relayed(); }

}  // namespace cpipe::pipeline

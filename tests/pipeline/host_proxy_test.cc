// HostProxy: routes whose upstream is off the allow-list are refused at configuration; allowed
// routes relay vsock to TCP both ways; the tap sees every relayed byte; tamper rules flip exactly
// the byte they name, in the direction they name.
#include "core/pipeline/host_proxy.h"

#include <gtest/gtest.h>

#include "backends/simulated/sim_network.h"
#include "backends/simulated/sim_world.h"

namespace cpipe::pipeline {
namespace {

using runtime::Endpoint;
using runtime::Task;

struct Tap final : RelayTap {
  void on_chunk(uint64_t connection, RelayDirection d, ByteSpan b) override {
    Bytes& to = (d == RelayDirection::kToUpstream ? up : down)[connection];
    to.insert(to.end(), b.begin(), b.end());
  }
  std::map<uint64_t, Bytes> up, down;
};

struct Outcome {
  Bytes client_got;
  Status client_end;
  Bytes server_got;
};

Task<void> echo_server(runtime::Listener* listener, Outcome* out) {
  auto s = co_await listener->accept();
  if (!s.ok()) co_return;
  Bytes buf(4096);
  for (;;) {
    auto n = co_await (*s)->read_some(buf);
    if (!n.ok()) break;
    out->server_got.insert(out->server_got.end(), buf.begin(), buf.begin() + *n);
    if (!(co_await (*s)->write_all(ByteSpan(buf.data(), *n))).ok()) break;
  }
  (*s)->close();
}

Task<void> client(runtime::Env* env, Endpoint to, Bytes message, Outcome* out) {
  auto s = co_await env->network->connect(to, std::chrono::seconds(1));
  if (!s.ok()) {
    out->client_end = s.status();
    co_return;
  }
  if (!(co_await (*s)->write_all(message)).ok()) co_return;
  Bytes buf(message.size());
  out->client_end = co_await runtime::read_exact(**s, buf);
  if (out->client_end.ok()) out->client_got = buf;
  (*s)->close();
}

struct ProxyWorld {
  ProxyWorld()
      : world(3),
        enclave(world.add_node("enclave", {.cid = 16})),
        host(world.add_node("host", {.cid = 3})),
        svc(world.add_node("svc")),
        enclave_env(enclave.env()),
        host_env(host.env()),
        svc_env(svc.env()) {}
  HostProxyConfig config() const {
    HostProxyConfig c;
    c.routes = {{"svc", Endpoint::vsock(3, 8001), Endpoint::tcp("svc", 80)}};
    c.allowlist = {{"SVC", 80}};
    return c;
  }
  sim::SimWorld world;
  sim::SimNode &enclave, &host, &svc;
  runtime::Env enclave_env, host_env, svc_env;
};

TEST(HostProxyTest, UpstreamsOffTheAllowListAreRefusedAtConfiguration) {
  ProxyWorld w;
  HostProxyConfig c = w.config();
  c.routes.push_back({"evil", Endpoint::vsock(3, 8002), Endpoint::tcp("exfiltrate.example", 443)});
  auto p = HostProxy::create(w.host_env, c);
  EXPECT_EQ(p.code(), ErrorCode::PIPELINE_PROXY_NOT_ALLOWED);
  EXPECT_NE(p.status().message().find("exfiltrate.example:443"), std::string::npos) << p.status().message();
  // Refused before anything was bound: the endpoints are still free.
  EXPECT_TRUE(w.host_env.network->listen(Endpoint::vsock(3, 8001)).ok());

  // The right host on the wrong port, and a vsock upstream, are not allowed either.
  EXPECT_EQ(check_upstream_allowed(Endpoint::tcp("svc", 81), c.allowlist).code(), ErrorCode::PIPELINE_PROXY_NOT_ALLOWED);
  EXPECT_EQ(check_upstream_allowed(Endpoint::vsock(5, 80), c.allowlist).code(), ErrorCode::PIPELINE_PROXY_NOT_ALLOWED);
  EXPECT_TRUE(check_upstream_allowed(Endpoint::tcp("Svc", 80), c.allowlist).ok());

  HostProxyConfig dup = w.config();
  dup.routes.push_back({"svc2", Endpoint::vsock(3, 8001), Endpoint::tcp("svc", 80)});
  EXPECT_EQ(HostProxy::create(w.host_env, dup).code(), ErrorCode::INVALID_ARGUMENT);
}

TEST(HostProxyTest, RelaysVsockToTcpAndTheTapSeesEveryByte) {
  ProxyWorld w;
  Tap tap;
  auto p = HostProxy::create(w.host_env, w.config(), &tap);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  auto sl = w.svc_env.network->listen(Endpoint::tcp("svc", 80));
  ASSERT_TRUE(sl.ok());
  (*p)->start();
  Outcome out;
  Bytes message = w.enclave.random().bytes(50000);
  runtime::spawn(w.svc, echo_server(sl->get(), &out));
  runtime::spawn(w.enclave, client(&w.enclave_env, Endpoint::vsock(3, 8001), message, &out));
  ASSERT_TRUE(w.world.run_for(std::chrono::seconds(5)).ok());
  (*p)->stop();
  ASSERT_TRUE(w.world.run_until_idle().ok());
  ASSERT_TRUE(out.client_end.ok()) << out.client_end.to_string();
  EXPECT_EQ(out.client_got, message);
  EXPECT_EQ(out.server_got, message);
  EXPECT_EQ(tap.up[0], message);
  EXPECT_EQ(tap.down[0], message);
  EXPECT_EQ((*p)->connections(0), 1u);
  EXPECT_EQ((*p)->bytes_relayed(0), 2 * message.size());
  EXPECT_EQ((*p)->tampered_bytes(), 0u);
}

TEST(HostProxyTest, TamperRulesFlipExactlyTheNamedByteInTheNamedDirection) {
  ProxyWorld w;
  auto p = HostProxy::create(w.host_env, w.config());
  ASSERT_TRUE(p.ok());
  auto sl = w.svc_env.network->listen(Endpoint::tcp("svc", 80));
  ASSERT_TRUE(sl.ok());
  (*p)->add_tamper({"svc", 0, RelayDirection::kToDownstream, 40000, 0x80});
  (*p)->add_tamper({"svc", 0, RelayDirection::kToUpstream, 7, 0x01});
  (*p)->add_tamper({"svc", 1, RelayDirection::kToDownstream, 3, 0xff});  // no connection 1: never applies
  (*p)->start();
  Outcome out;
  Bytes message = w.enclave.random().bytes(50000);
  runtime::spawn(w.svc, echo_server(sl->get(), &out));
  runtime::spawn(w.enclave, client(&w.enclave_env, Endpoint::vsock(3, 8001), message, &out));
  ASSERT_TRUE(w.world.run_for(std::chrono::seconds(5)).ok());
  (*p)->stop();
  ASSERT_TRUE(w.world.run_until_idle().ok());
  ASSERT_TRUE(out.client_end.ok());
  Bytes upstream_expected = message;
  upstream_expected[7] ^= 0x01;
  EXPECT_EQ(out.server_got, upstream_expected);
  Bytes downstream_expected = upstream_expected;  // the echo of what the service got
  downstream_expected[40000] ^= 0x80;
  EXPECT_EQ(out.client_got, downstream_expected);
  EXPECT_EQ((*p)->tampered_bytes(), 2u);
}

}  // namespace
}  // namespace cpipe::pipeline

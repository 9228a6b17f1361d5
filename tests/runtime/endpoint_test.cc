// Endpoint text forms: what parses, what is rejected, and round trips.
#include "core/runtime/endpoint.h"

#include <gtest/gtest.h>

namespace cpipe::runtime {
namespace {

TEST(EndpointTest, ParsesTcpAndVsock) {
  auto a = Endpoint::parse("tcp:127.0.0.1:9000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->kind, Endpoint::Kind::kTcp);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9000);
  auto b = Endpoint::parse("vsock:16:5000");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->kind, Endpoint::Kind::kVsock);
  EXPECT_EQ(b->cid, 16u);
  EXPECT_EQ(b->port, 5000);
  auto c = Endpoint::parse("stage1:80");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->to_string(), "tcp:stage1:80");
  auto d = Endpoint::parse("tcp:[::1]:443");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "::1");
  EXPECT_EQ(d->to_string(), "tcp:[::1]:443");
}

TEST(EndpointTest, RoundTrips) {
  for (const char* s : {"tcp:10.0.0.1:1", "vsock:3:65535", "tcp:localhost:0"}) {
    auto e = Endpoint::parse(s);
    ASSERT_TRUE(e.ok()) << s;
    EXPECT_EQ(e->to_string(), s);
    EXPECT_EQ(*Endpoint::parse(e->to_string()), *e);
  }
}

TEST(EndpointTest, RejectsMalformed) {
  for (const char* s : {"", "tcp:", "tcp:host", "tcp:host:", "tcp:host:65536", "tcp::80",
                        "vsock:x:1", "vsock:1:-1", "tcp:ho st:1", "vsock:99999999999:1",
                        "tcp:host:12a"}) {
    auto e = Endpoint::parse(s);
    ASSERT_FALSE(e.ok()) << s;
    EXPECT_EQ(e.code(), ErrorCode::TRANSPORT_BAD_ENDPOINT) << s;
  }
}

}  // namespace
}  // namespace cpipe::runtime

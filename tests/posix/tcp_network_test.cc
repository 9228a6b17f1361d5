// TcpNetwork on 127.0.0.1 with OS-chosen ports: the transport.h semantics (refused, reset, EOF,
// read timeout, cancellation by close/drop, address in use), large ordered transfers, endpoints,
// name resolution; VSock where the kernel has it.
#include "backends/posix/tcp_network.h"

#include <gtest/gtest.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <optional>

#include "backends/posix/os_random.h"
#include "core/runtime/executor.h"

namespace cpipe::posix {
namespace {

using namespace std::chrono_literals;
using runtime::Endpoint;
using runtime::Listener;
using runtime::Stream;
using runtime::Task;
using StreamResult = Result<std::shared_ptr<Stream>>;

const Endpoint kAnyLoopbackPort = Endpoint::tcp("127.0.0.1", 0);

Task<void> accept_into(Listener* listener, std::optional<StreamResult>* out) {
  out->emplace(co_await listener->accept());
}

Task<void> read_into(Stream* stream, MutableByteSpan buf, runtime::Duration timeout,
                     std::optional<Result<size_t>>* out) {
  out->emplace(co_await stream->read_some(buf, timeout));
}

Task<void> write_into(std::shared_ptr<Stream> stream, ByteSpan data, std::optional<Status>* out) {
  out->emplace(co_await stream->write_all(data));
}

// Echoes until the stream ends; records how it ended.
Task<void> echo_one(Listener* listener, Status* ended) {
  StreamResult accepted = co_await listener->accept();
  if (!accepted.ok()) {
    *ended = accepted.status();
    co_return;
  }
  std::shared_ptr<Stream> s = *accepted;
  Bytes buf(64 * 1024);
  for (;;) {
    Result<size_t> n = co_await s->read_some(buf);
    if (!n.ok()) {
      *ended = n.status();
      co_return;
    }
    Status w = co_await s->write_all(ByteSpan(buf.data(), *n));
    if (!w.ok()) {
      *ended = w;
      co_return;
    }
  }
}

class TcpNetworkTest : public ::testing::Test {
 protected:
  std::unique_ptr<Listener> listen_loopback() {
    auto l = net_.listen(kAnyLoopbackPort);
    EXPECT_TRUE(l.ok()) << l.status().to_string();
    return l.ok() ? std::move(*l) : nullptr;
  }

  // A connected pair: `client` from connect(), `server` from accept().
  void connect_pair(std::shared_ptr<Stream>* client, std::shared_ptr<Stream>* server) {
    auto listener = listen_loopback();
    ASSERT_TRUE(listener);
    std::optional<StreamResult> accepted;
    runtime::spawn(loop_, accept_into(listener.get(), &accepted));
    StreamResult c = loop_.block_on(net_.connect(listener->local_endpoint(), 5s));
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    ASSERT_TRUE(loop_.run_until([&accepted] { return accepted.has_value(); }));
    ASSERT_TRUE(accepted->ok()) << accepted->status().to_string();
    *client = *c;
    *server = **accepted;
  }

  EventLoop loop_;
  TcpNetwork net_{loop_};
};

TEST_F(TcpNetworkTest, ListenOnPortZeroReportsTheRealPort) {
  auto listener = listen_loopback();
  ASSERT_TRUE(listener);
  Endpoint ep = listener->local_endpoint();
  EXPECT_EQ(ep.kind, Endpoint::Kind::kTcp);
  EXPECT_EQ(ep.host, "127.0.0.1");
  EXPECT_NE(ep.port, 0);
}

TEST_F(TcpNetworkTest, EndpointsOfBothEndsMatch) {
  std::shared_ptr<Stream> client, server;
  ASSERT_NO_FATAL_FAILURE(connect_pair(&client, &server));
  EXPECT_EQ(client->peer_endpoint(), server->local_endpoint());
  EXPECT_EQ(server->peer_endpoint(), client->local_endpoint());
  EXPECT_EQ(client->peer_endpoint().host, "127.0.0.1");
}

TEST_F(TcpNetworkTest, EchoesSeveralMebibytesIntactAndInOrder) {
  auto listener = listen_loopback();
  ASSERT_TRUE(listener);
  Status server_end;
  runtime::spawn(loop_, echo_one(listener.get(), &server_end));
  StreamResult c = loop_.block_on(net_.connect(listener->local_endpoint(), 5s));
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  std::shared_ptr<Stream> client = *c;

  OsRandom random;
  Bytes payload = random.bytes(8 * 1024 * 1024 + 123);  // not a multiple of any buffer size
  std::optional<Status> written;
  // Write and read concurrently: the echo would fill both directions' buffers otherwise.
  runtime::spawn(loop_, write_into(client, payload, &written));
  Bytes echoed(payload.size());
  Status read = loop_.block_on(runtime::read_exact(*client, echoed, 30s));
  ASSERT_TRUE(read.ok()) << read.to_string();
  ASSERT_TRUE(loop_.run_until([&written] { return written.has_value(); }));
  EXPECT_TRUE(written->ok()) << written->to_string();
  EXPECT_TRUE(echoed == payload) << "echoed bytes differ from what was sent";

  client->close();
  ASSERT_TRUE(loop_.run_until([&server_end] { return !server_end.ok(); }));
  EXPECT_EQ(server_end.code(), ErrorCode::TRANSPORT_CLOSED) << server_end.to_string();
}

TEST_F(TcpNetworkTest, ConnectToAClosedPortIsRefused) {
  Endpoint released;
  {
    auto listener = listen_loopback();
    ASSERT_TRUE(listener);
    released = listener->local_endpoint();
  }  // closed: nothing listens on that port any more
  StreamResult c = loop_.block_on(net_.connect(released, 5s));
  EXPECT_EQ(c.code(), ErrorCode::TRANSPORT_REFUSED) << c.status().to_string();
}

TEST_F(TcpNetworkTest, ConnectResolvesHostNames) {
  auto listener = listen_loopback();
  ASSERT_TRUE(listener);
  std::optional<StreamResult> accepted;
  runtime::spawn(loop_, accept_into(listener.get(), &accepted));
  // "localhost" may resolve to ::1 first (refused there); the next address must be tried.
  StreamResult c =
      loop_.block_on(net_.connect(Endpoint::tcp("localhost", listener->local_endpoint().port), 5s));
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ((*c)->peer_endpoint().port, listener->local_endpoint().port);
  ASSERT_TRUE(loop_.run_until([&accepted] { return accepted.has_value(); }));
  EXPECT_TRUE(accepted->ok());
}

TEST_F(TcpNetworkTest, ListeningTwiceOnOnePortIsAddressInUse) {
  auto first = listen_loopback();
  ASSERT_TRUE(first);
  auto second = net_.listen(first->local_endpoint());
  EXPECT_EQ(second.code(), ErrorCode::TRANSPORT_ADDRESS_IN_USE) << second.status().to_string();
}

TEST_F(TcpNetworkTest, ReadTimesOutAndTheStreamStaysUsable) {
  std::shared_ptr<Stream> client, server;
  ASSERT_NO_FATAL_FAILURE(connect_pair(&client, &server));
  Bytes buf(16);
  Result<size_t> r = loop_.block_on(server->read_some(buf, 20ms));
  EXPECT_EQ(r.code(), ErrorCode::TRANSPORT_TIMEOUT) << r.status().to_string();
  r = loop_.block_on(server->read_some(buf, 20ms));  // a second timeout, same readiness wait
  EXPECT_EQ(r.code(), ErrorCode::TRANSPORT_TIMEOUT) << r.status().to_string();

  const Bytes hello = {'h', 'e', 'l', 'l', 'o'};
  Status w = loop_.block_on(client->write_all(hello));
  ASSERT_TRUE(w.ok()) << w.to_string();
  Bytes got(hello.size());
  Status rx = loop_.block_on(runtime::read_exact(*server, got, 5s));
  ASSERT_TRUE(rx.ok()) << rx.to_string();
  EXPECT_EQ(got, hello);
  // And the other direction still works too.
  w = loop_.block_on(server->write_all(hello));
  ASSERT_TRUE(w.ok()) << w.to_string();
  rx = loop_.block_on(runtime::read_exact(*client, got, 5s));
  ASSERT_TRUE(rx.ok()) << rx.to_string();
  EXPECT_EQ(got, hello);
}

TEST_F(TcpNetworkTest, ReadTimeoutDoesNotDisturbAPendingWrite) {
  std::shared_ptr<Stream> client, server;
  ASSERT_NO_FATAL_FAILURE(connect_pair(&client, &server));
  // Far more than the loopback socket buffers hold: the write stays pending until read.
  Bytes big(24 * 1024 * 1024);
  for (size_t i = 0; i < big.size(); ++i) big[i] = uint8_t(i * 7 + (i >> 13));
  std::optional<Status> written;
  runtime::spawn(loop_, write_into(server, big, &written));
  Bytes small(16);
  Result<size_t> r = loop_.block_on(server->read_some(small, 20ms));
  EXPECT_EQ(r.code(), ErrorCode::TRANSPORT_TIMEOUT);
  EXPECT_FALSE(written.has_value());
  Bytes got(big.size());
  Status rx = loop_.block_on(runtime::read_exact(*client, got, 30s));
  ASSERT_TRUE(rx.ok()) << rx.to_string();
  ASSERT_TRUE(loop_.run_until([&written] { return written.has_value(); }));
  EXPECT_TRUE(written->ok()) << written->to_string();
  EXPECT_TRUE(got == big);
}

TEST_F(TcpNetworkTest, PeerCloseIsTransportClosed) {
  std::shared_ptr<Stream> client, server;
  ASSERT_NO_FATAL_FAILURE(connect_pair(&client, &server));
  client->close();
  Bytes buf(16);
  Result<size_t> r = loop_.block_on(server->read_some(buf, 5s));
  EXPECT_EQ(r.code(), ErrorCode::TRANSPORT_CLOSED) << r.status().to_string();
  r = loop_.block_on(server->read_some(buf, 5s));  // and it stays that way
  EXPECT_EQ(r.code(), ErrorCode::TRANSPORT_CLOSED) << r.status().to_string();
}

TEST_F(TcpNetworkTest, DataBeforePeerCloseIsDeliveredThenClosed) {
  std::shared_ptr<Stream> client, server;
  ASSERT_NO_FATAL_FAILURE(connect_pair(&client, &server));
  const Bytes msg = {1, 2, 3, 4, 5, 6, 7};
  ASSERT_TRUE(loop_.block_on(client->write_all(msg)).ok());
  client->close();
  Bytes got(msg.size());
  ASSERT_TRUE(loop_.block_on(runtime::read_exact(*server, got, 5s)).ok());
  EXPECT_EQ(got, msg);
  Bytes buf(4);
  EXPECT_EQ(loop_.block_on(server->read_some(buf, 5s)).code(), ErrorCode::TRANSPORT_CLOSED);
}

TEST_F(TcpNetworkTest, CloseWithUnreadInputStillGivesThePeerEof) {
  std::shared_ptr<Stream> client, server;
  ASSERT_NO_FATAL_FAILURE(connect_pair(&client, &server));
  const Bytes msg(1000, 0x5a);
  ASSERT_TRUE(loop_.block_on(client->write_all(msg)).ok());
  // Wait until the bytes are in the server's socket before it closes without reading them.
  Bytes one(1);
  ASSERT_TRUE(loop_.block_on(runtime::read_exact(*server, one, 5s)).ok());
  server->close();
  Bytes buf(16);
  EXPECT_EQ(loop_.block_on(client->read_some(buf, 5s)).code(), ErrorCode::TRANSPORT_CLOSED);
}

TEST_F(TcpNetworkTest, OperationsAfterLocalCloseAreClosed) {
  std::shared_ptr<Stream> client, server;
  ASSERT_NO_FATAL_FAILURE(connect_pair(&client, &server));
  client->close();
  client->close();  // idempotent
  Bytes buf(16);
  EXPECT_EQ(loop_.block_on(client->read_some(buf)).code(), ErrorCode::TRANSPORT_CLOSED);
  EXPECT_EQ(loop_.block_on(client->write_all(buf)).code(), ErrorCode::TRANSPORT_CLOSED);
}

TEST_F(TcpNetworkTest, PeerResetIsTransportReset) {
  auto listener = listen_loopback();
  ASSERT_TRUE(listener);
  std::optional<StreamResult> accepted;
  runtime::spawn(loop_, accept_into(listener.get(), &accepted));

  // The peer is a plain socket so that it can close with SO_LINGER 0 (an RST, not a FIN).
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(listener->local_endpoint().port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_TRUE(loop_.run_until([&accepted] { return accepted.has_value(); }));
  ASSERT_TRUE(accepted->ok());
  std::shared_ptr<Stream> server = **accepted;

  std::optional<Result<size_t>> read;
  Bytes buf(16);
  runtime::spawn(loop_, read_into(server.get(), buf, runtime::kNoTimeout, &read));
  linger lg{1, 0};
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
  ::close(fd);
  ASSERT_TRUE(loop_.run_until([&read] { return read.has_value(); }));
  EXPECT_EQ(read->code(), ErrorCode::TRANSPORT_RESET) << read->status().to_string();
  Status w = loop_.block_on(server->write_all(buf));
  EXPECT_EQ(w.code(), ErrorCode::TRANSPORT_RESET) << w.to_string();
}

TEST_F(TcpNetworkTest, CloseCancelsAPendingRead) {
  std::shared_ptr<Stream> client, server;
  ASSERT_NO_FATAL_FAILURE(connect_pair(&client, &server));
  std::optional<Result<size_t>> read;
  Bytes buf(16);
  runtime::spawn(loop_, read_into(server.get(), buf, runtime::kNoTimeout, &read));
  loop_.post([server] { server->close(); });  // runs once the read is waiting
  ASSERT_TRUE(loop_.run_until([&read] { return read.has_value(); }));
  EXPECT_EQ(read->code(), ErrorCode::CANCELLED) << read->status().to_string();
  // The peer sees an orderly EOF.
  EXPECT_EQ(loop_.block_on(client->read_some(buf, 5s)).code(), ErrorCode::TRANSPORT_CLOSED);
}

TEST_F(TcpNetworkTest, DroppingTheLastReferenceCancelsAPendingRead) {
  std::shared_ptr<Stream> client, server;
  ASSERT_NO_FATAL_FAILURE(connect_pair(&client, &server));
  std::optional<Result<size_t>> read;
  Bytes buf(16);
  runtime::spawn(loop_, read_into(server.get(), buf, 10s, &read));
  loop_.post([&server] { server.reset(); });
  ASSERT_TRUE(loop_.run_until([&read] { return read.has_value(); }));
  EXPECT_EQ(read->code(), ErrorCode::CANCELLED) << read->status().to_string();
}

TEST_F(TcpNetworkTest, CloseCancelsAPendingWrite) {
  std::shared_ptr<Stream> client, server;
  ASSERT_NO_FATAL_FAILURE(connect_pair(&client, &server));
  Bytes big(64 * 1024 * 1024, 0x42);  // the client never reads: the write cannot finish
  std::optional<Status> written;
  runtime::spawn(loop_, write_into(server, big, &written));
  loop_.post([server] { server->close(); });
  ASSERT_TRUE(loop_.run_until([&written] { return written.has_value(); }));
  EXPECT_EQ(written->code(), ErrorCode::CANCELLED) << written->to_string();
}

TEST_F(TcpNetworkTest, SecondConcurrentReadIsRejected) {
  std::shared_ptr<Stream> client, server;
  ASSERT_NO_FATAL_FAILURE(connect_pair(&client, &server));
  std::optional<Result<size_t>> first, second;
  Bytes a(8), b(8);
  runtime::spawn(loop_, read_into(server.get(), a, runtime::kNoTimeout, &first));
  runtime::spawn(loop_, read_into(server.get(), b, runtime::kNoTimeout, &second));
  ASSERT_TRUE(loop_.run_until([&second] { return second.has_value(); }));
  EXPECT_EQ(second->code(), ErrorCode::FAILED_PRECONDITION);
  server->close();
  ASSERT_TRUE(loop_.run_until([&first] { return first.has_value(); }));
  EXPECT_EQ(first->code(), ErrorCode::CANCELLED);
}

TEST_F(TcpNetworkTest, ListenerCloseCancelsAPendingAccept) {
  auto listener = listen_loopback();
  ASSERT_TRUE(listener);
  std::optional<StreamResult> accepted;
  runtime::spawn(loop_, accept_into(listener.get(), &accepted));
  loop_.post([&listener] { listener->close(); });
  ASSERT_TRUE(loop_.run_until([&accepted] { return accepted.has_value(); }));
  EXPECT_EQ(accepted->code(), ErrorCode::CANCELLED) << accepted->status().to_string();
  EXPECT_EQ(loop_.block_on(listener->accept()).code(), ErrorCode::CANCELLED);
  listener->close();  // idempotent
}

TEST_F(TcpNetworkTest, DroppingAListenerCancelsAPendingAccept) {
  auto listener = listen_loopback();
  ASSERT_TRUE(listener);
  std::optional<StreamResult> accepted;
  runtime::spawn(loop_, accept_into(listener.get(), &accepted));
  loop_.post([&listener] { listener.reset(); });
  ASSERT_TRUE(loop_.run_until([&accepted] { return accepted.has_value(); }));
  EXPECT_EQ(accepted->code(), ErrorCode::CANCELLED);
}

TEST_F(TcpNetworkTest, VsockListenOnPortZeroIsNotSupported) {
  auto l = net_.listen(Endpoint::vsock(VMADDR_CID_ANY, 0));
  EXPECT_EQ(l.code(), ErrorCode::NOT_SUPPORTED);
}

TEST_F(TcpNetworkTest, VsockListenWhereTheKernelHasVsock) {
  int probe = ::socket(AF_VSOCK, SOCK_STREAM, 0);
  if (probe < 0) {
    auto l = net_.listen(Endpoint::vsock(VMADDR_CID_ANY, 5005));
    EXPECT_EQ(l.code(), ErrorCode::NOT_SUPPORTED) << l.status().to_string();
    GTEST_SKIP() << "no AF_VSOCK in this kernel";
  }
  ::close(probe);
  OsRandom random;
  for (int attempt = 0; attempt < 10; ++attempt) {
    uint16_t port = uint16_t(random.uniform_range(20000, 60000));
    auto l = net_.listen(Endpoint::vsock(VMADDR_CID_ANY, port));
    if (l.code() == ErrorCode::TRANSPORT_ADDRESS_IN_USE) continue;
    if (l.code() == ErrorCode::NOT_SUPPORTED || l.code() == ErrorCode::TRANSPORT_BAD_ENDPOINT) {
      GTEST_SKIP() << "vsock listen unavailable here: " << l.status().to_string();
    }
    ASSERT_TRUE(l.ok()) << l.status().to_string();
    EXPECT_EQ((*l)->local_endpoint(), Endpoint::vsock(VMADDR_CID_ANY, port));
    // Closing cancels a pending accept on vsock as on TCP.
    std::optional<StreamResult> accepted;
    runtime::spawn(loop_, accept_into(l->get(), &accepted));
    loop_.post([&l] { (*l)->close(); });
    ASSERT_TRUE(loop_.run_until([&accepted] { return accepted.has_value(); }));
    EXPECT_EQ(accepted->code(), ErrorCode::CANCELLED);
    return;
  }
  FAIL() << "no free vsock port found";
}

}  // namespace
}  // namespace cpipe::posix

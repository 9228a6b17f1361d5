// HttpKmsClient's HTTP handling against canned servers on a simulated network: what goes on the
// wire (SigV4 at the Env's wall time, the KMS target), and what comes back from an untrusted
// host — garbage, truncation, oversized header or body, a key sent in clear, a response split in
// tiny segments or chunked, silence until the deadline, nobody listening.
#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <string>

#include "backends/simulated/sim_network.h"
#include "backends/simulated/sim_world.h"
#include "core/keys/base64.h"
#include "core/keys/http_kms_client.h"
#include "core/keys/http_message.h"
#include "core/runtime/connector.h"

namespace cpipe::keys {
namespace {

using namespace std::chrono_literals;
using runtime::Endpoint;
using runtime::Task;

const Endpoint kKms = Endpoint::tcp("kms", 443);

// Accepts one connection, reads one request, answers `canned` verbatim (unless `silent`), closes.
Task<void> canned_server(runtime::Listener* listener, std::string canned, bool silent,
                         std::optional<HttpRequest>* seen) {
  auto s = co_await listener->accept();
  if (!s.ok()) co_return;
  auto req = co_await http_read_request(**s, HttpReadLimits{});
  if (req.ok()) seen->emplace(std::move(*req));
  if (silent) {
    Bytes buf(16);
    (void)co_await (*s)->read_some(buf);  // until the client gives up and closes
    co_return;
  }
  (void)co_await (*s)->write_all(to_bytes(canned));
  (*s)->close();
}

Task<void> call(HttpKmsClient* client, KmsDecryptRequest req, std::optional<Result<KmsDecryptResponse>>* out) {
  out->emplace(co_await client->decrypt(std::move(req)));
}

KmsDecryptRequest request() {
  KmsDecryptRequest r;
  r.ciphertext_blob = to_bytes("blob");
  r.attestation_document = to_bytes("document");
  r.encryption_context = {{"cpipe:model-id", "m"}};
  return r;
}

struct Harness {
  explicit Harness(size_t segment_size = 16 * 1024) : world(5) {
    enclave = &world.add_node("enclave");
    server = &world.add_node("kms");
    sim::LinkConfig link;
    link.latency = sim::LatencyDistribution::fixed(1ms);
    link.segment_size = segment_size;
    world.network().set_default_link(link);
    connector = std::make_unique<runtime::NetworkConnector>(&enclave->network(), kKms, 1s);
    HttpKmsClientOptions o;
    o.endpoint = {"eu-west-1", "kms.eu-west-1.amazonaws.com"};
    o.credentials = {"AKIDEXAMPLE", "secret", "session-token"};
    o.request_timeout = 3s;
    client = std::make_unique<HttpKmsClient>(enclave->env(), connector.get(), o);
  }
  Result<KmsDecryptResponse> run(std::string canned, bool silent = false, bool listen = true) {
    std::unique_ptr<runtime::Listener> listener;
    if (listen) {
      listener = std::move(*server->network().listen(kKms));
      runtime::spawn(*server, canned_server(listener.get(), std::move(canned), silent, &seen));
    }
    std::optional<Result<KmsDecryptResponse>> out;
    runtime::spawn(*enclave, call(client.get(), request(), &out));
    EXPECT_TRUE(world.run_until_idle().ok());
    EXPECT_TRUE(out.has_value());
    return std::move(*out);
  }
  sim::SimWorld world;
  sim::SimNode* enclave;
  sim::SimNode* server;
  std::unique_ptr<runtime::NetworkConnector> connector;
  std::unique_ptr<HttpKmsClient> client;
  std::optional<HttpRequest> seen;
};

std::string ok_json() {
  return R"({"CiphertextForRecipient":")" + base64_encode(to_bytes("cms bytes")) +
         R"(","KeyId":"arn:aws:kms:eu-west-1:1:key/k","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"})";
}

std::string response(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(HttpKmsClientTest, SendsASignedDecryptAtTheEnvWallTime) {
  Harness h;
  auto r = h.run(response(200, ok_json()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->ciphertext_for_recipient, to_bytes("cms bytes"));
  ASSERT_TRUE(h.seen.has_value());
  EXPECT_EQ(h.seen->method, "POST");
  EXPECT_EQ(h.seen->path, "/");
  EXPECT_EQ(http_header(h.seen->headers, "X-Amz-Target"), "TrentService.Decrypt");
  EXPECT_EQ(http_header(h.seen->headers, "Host"), "kms.eu-west-1.amazonaws.com");
  // The world's epoch is 2026-01-01T00:00:00Z; the request left 0 ms later.
  EXPECT_EQ(http_header(h.seen->headers, "X-Amz-Date"), "20260101T000000Z");
  EXPECT_EQ(http_header(h.seen->headers, "X-Amz-Security-Token"), "session-token");
  EXPECT_TRUE(http_header(h.seen->headers, "Authorization")
                  .starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/kms/aws4_request, "));
  EXPECT_EQ(h.seen->body, kms_decrypt_body(request()));
}

TEST(HttpKmsClientTest, KmsErrorsKeepTheirNameAndMessage) {
  Harness h;
  auto r = h.run(response(400, R"({"__type":"AccessDeniedException","message":"User: x is not authorized"})"));
  EXPECT_EQ(r.status().code(), ErrorCode::KEYS_ACCESS_DENIED);
  EXPECT_EQ(r.status().message(), "KMS 400 AccessDeniedException: User: x is not authorized");
}

TEST(HttpKmsClientTest, TinySegmentsAndChunkedBodiesParse) {
  Harness tiny(7);
  EXPECT_TRUE(tiny.run(response(200, ok_json())).ok());
  Harness chunked;
  const std::string body = ok_json();
  const std::string a = body.substr(0, 10), b = body.substr(10);
  char ha[16], hb[16];
  std::snprintf(ha, sizeof ha, "%zx", a.size());
  std::snprintf(hb, sizeof hb, "%zx", b.size());
  auto r = chunked.run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(ha) + "\r\n" + a +
                       "\r\n" + hb + "\r\n" + b + "\r\n0\r\n\r\n");
  EXPECT_TRUE(r.ok()) << r.status().message();
}

TEST(HttpKmsClientTest, MalformedAnswersAreBadResponse) {
  const std::string cases[] = {
      "hello, this is not HTTP\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"CiphertextForRecipient\":",  // truncated body
      "HTTP/1.1 200 OK\r\nContent-Le",                                             // truncated header
      "HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n",                      // over the body limit
      "HTTP/1.1 200 OK\r\nX-Pad: " + std::string(20000, 'a') + "\r\nContent-Length: 0\r\n\r\n",  // header limit
      response(200, R"({"Plaintext":"AAAA","CiphertextForRecipient":"AAAA"})"),  // a key in clear
      response(200, "[1,2,3]"),
      response(200, R"({"CiphertextForRecipient":"not base64!"})"),
      "",  // closed without a byte
  };
  for (const std::string& c : cases) {
    Harness h;
    auto r = h.run(c);
    EXPECT_EQ(r.status().code(), ErrorCode::KEYS_KMS_BAD_RESPONSE) << c.substr(0, 60) << " -> " << r.status().message();
  }
}

TEST(HttpKmsClientTest, SilentServerHitsTheRequestDeadline) {
  Harness h;
  auto r = h.run("", /*silent=*/true);
  EXPECT_EQ(r.status().code(), ErrorCode::DEADLINE_EXCEEDED);
  EXPECT_GE(h.world.now().ns, runtime::Duration(3s).count());
}

TEST(HttpKmsClientTest, NobodyListeningIsTransportRefused) {
  Harness h;
  EXPECT_EQ(h.run("", false, /*listen=*/false).status().code(), ErrorCode::TRANSPORT_REFUSED);
}

TEST(HttpMessageTest, RequestRoundTripsThroughSerializeAndParse) {
  HttpRequest req{"POST", "/a b/c", "x=1&y=%20", {{"Host", "h"}, {"X-Amz-Target", "T"}}, "body!"};
  const std::string wire = http_serialize_request(req);
  EXPECT_TRUE(wire.starts_with("POST /a%20b/c?x=1&y=%20 HTTP/1.1\r\nHost: h\r\nX-Amz-Target: T\r\n")) << wire;
  EXPECT_NE(wire.find("Content-Length: 5\r\n\r\nbody!"), std::string::npos);
  HttpResponse resp{404, "Not Found", {{"A", "b"}}, "{}"};
  EXPECT_EQ(http_serialize_response(resp), "HTTP/1.1 404 Not Found\r\nA: b\r\nContent-Length: 2\r\n\r\n{}");
}

}  // namespace
}  // namespace cpipe::keys

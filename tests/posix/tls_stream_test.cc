// TlsStream against a local OpenSSL TLS server on 127.0.0.1 (real TCP, the posix event loop),
// with a CA and server certificate generated here: handshake and data both ways, close_notify,
// wrong host name and untrusted CA refused; and the real KMS client assembly
// (make_aws_kms_client: retry -> HTTP/SigV4 -> TLS -> TCP) against a TLS KMS stand-in.
#include "backends/posix/tls_stream.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <optional>

#include "backends/posix/aws_kms_client.h"
#include "backends/posix/event_loop.h"
#include "backends/posix/os_random.h"
#include "backends/posix/tcp_network.h"
#include "core/keys/base64.h"
#include "core/keys/http_message.h"

namespace cpipe::posix {
namespace {

using namespace std::chrono_literals;
using runtime::Endpoint;
using runtime::Task;
using StreamResult = Result<std::shared_ptr<runtime::Stream>>;

const std::string kHost = "kms.eu-west-1.amazonaws.com";

struct KeyAndCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  std::string cert_pem, key_pem;
  ~KeyAndCert() {
    EVP_PKEY_free(key);
    X509_free(cert);
  }
};

std::string to_pem(X509* cert) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  std::string out(data, size_t(n));
  BIO_free(b);
  return out;
}

std::string key_to_pem(EVP_PKEY* key) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  std::string out(data, size_t(n));
  BIO_free(b);
  return out;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A P-256 certificate for `cn`: a self-signed CA when `issuer` is null, else a server
// certificate with SAN DNS:<cn> signed by the issuer.
std::unique_ptr<KeyAndCert> make_cert(const std::string& cn, const KeyAndCert* issuer, long serial) {
  auto out = std::make_unique<KeyAndCert>();
  out->key = EVP_EC_gen("P-256");
  out->cert = X509_new();
  X509* c = out->cert;
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 24 * 3600);
  X509_set_pubkey(c, out->key);
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer->cert) : name);
  X509* issuer_cert = issuer ? issuer->cert : c;
  if (!issuer) {
    add_ext(c, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(c, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(c, issuer_cert, NID_subject_key_identifier, "hash");
  } else {
    add_ext(c, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(c, issuer_cert, NID_subject_alt_name, ("DNS:" + cn).c_str());
    add_ext(c, issuer_cert, NID_ext_key_usage, "serverAuth");
  }
  X509_sign(c, issuer ? issuer->key : out->key, EVP_sha256());
  out->cert_pem = to_pem(c);
  out->key_pem = key_to_pem(out->key);
  return out;
}

struct Pki {
  Pki() : ca(make_cert("cpipe test CA", nullptr, 1)), leaf(make_cert(kHost, ca.get(), 2)),
          other_ca(make_cert("some other CA", nullptr, 3)) {}
  std::unique_ptr<KeyAndCert> ca, leaf, other_ca;
};

const Pki& pki() {
  static const Pki p;
  return p;
}

enum class ServerMode { kEcho, kKmsAnswer };

struct ServerResult {
  std::optional<Status> handshake;
  std::optional<keys::HttpRequest> request;
  std::optional<Status> end;
};

Task<void> tls_server(runtime::Listener* listener, std::shared_ptr<TlsContext> ctx, EventLoop* loop, ServerMode mode,
                      ServerResult* out) {
  StreamResult accepted = co_await listener->accept();
  if (!accepted.ok()) {
    out->handshake = accepted.status();
    co_return;
  }
  StreamResult tls = co_await TlsStream::handshake(ctx, *accepted, loop, loop);
  out->handshake = tls.ok() ? Status{} : tls.status();
  if (!tls.ok()) co_return;
  std::shared_ptr<runtime::Stream> s = *tls;
  if (mode == ServerMode::kKmsAnswer) {
    auto req = co_await keys::http_read_request(*s, keys::HttpReadLimits{});
    if (req.ok()) out->request = *req;
    keys::HttpResponse resp;
    resp.status = 200;
    resp.headers = {{"Content-Type", "application/x-amz-json-1.1"}};
    resp.body = R"({"CiphertextForRecipient":")" + keys::base64_encode(to_bytes("cms")) + R"(","KeyId":"k"})";
    const std::string wire = keys::http_serialize_response(resp);
    out->end = co_await s->write_all(to_bytes(wire));
    s->close();
    co_return;
  }
  Bytes buf(64 * 1024);
  while (true) {
    Result<size_t> n = co_await s->read_some(buf);
    if (!n.ok()) {
      out->end = n.status();
      break;
    }
    Status w = co_await s->write_all(ByteSpan(buf.data(), *n));
    if (!w.ok()) {
      out->end = w;
      break;
    }
  }
  s->close();
}

struct ClientResult {
  std::optional<Status> status;
  Bytes echoed;
  std::string protocol, subject;
};

// Connects through TLS, sends `payload`, reads it back, closes.
Task<void> tls_client(runtime::StreamConnector* connector, Bytes payload, ClientResult* out) {
  StreamResult s = co_await connector->connect();
  if (!s.ok()) {
    out->status = s.status();
    co_return;
  }
  auto* tls = dynamic_cast<TlsStream*>(s->get());
  out->protocol = tls->protocol();
  out->subject = tls->peer_subject();
  Status st = co_await (*s)->write_all(payload);
  Bytes back(payload.size());
  if (st.ok()) st = co_await runtime::read_exact(**s, back);
  out->echoed = back;
  (*s)->close();
  out->status = st;
}

struct Harness {
  Harness() : network(loop) {
    listener = std::move(*network.listen(Endpoint::tcp("127.0.0.1", 0)));
    TlsServerConfig sc;
    sc.certificate_chain_pem = pki().leaf->cert_pem;
    sc.private_key_pem = pki().leaf->key_pem;
    server_ctx = *TlsContext::server(sc);
    tcp = std::make_unique<runtime::NetworkConnector>(&network, listener->local_endpoint(), 2s);
  }
  ClientResult echo(const TlsClientConfig& cc, Bytes payload) {
    runtime::spawn(loop, tls_server(listener.get(), server_ctx, &loop, ServerMode::kEcho, &server));
    auto ctx = TlsContext::client(cc);
    EXPECT_TRUE(ctx.ok()) << ctx.status().message();
    TlsConnector connector(tcp.get(), *ctx, &loop, &loop);
    ClientResult client;
    loop.block_on(tls_client(&connector, std::move(payload), &client));
    loop.run_until([this] { return server.end.has_value() || (server.handshake && !server.handshake->ok()); });
    return client;
  }
  // Lets background work (a close_notify being sent) finish before the loop goes away.
  ~Harness() { loop.run_until([] { return false; }); }
  EventLoop loop;
  TcpNetwork network;
  std::unique_ptr<runtime::Listener> listener;
  std::shared_ptr<TlsContext> server_ctx;
  std::unique_ptr<runtime::NetworkConnector> tcp;
  ServerResult server;
};

TlsClientConfig trusting(const std::string& ca_pem, const std::string& name = kHost) {
  TlsClientConfig c;
  c.server_name = name;
  c.use_system_ca = false;
  c.ca_pem = ca_pem;
  return c;
}

TEST(TlsStreamTest, HandshakeVerifiesAndCarriesDataBothWays) {
  Harness h;
  Bytes payload(1 << 20);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = uint8_t(i * 31 + 7);
  ClientResult r = h.echo(trusting(pki().ca->cert_pem), payload);
  ASSERT_TRUE(r.status.has_value());
  ASSERT_TRUE(r.status->ok()) << r.status->message();
  EXPECT_EQ(r.echoed, payload);
  EXPECT_EQ(r.protocol, "TLSv1.3");
  EXPECT_NE(r.subject.find("CN=" + kHost), std::string::npos) << r.subject;
  ASSERT_TRUE(h.server.handshake.has_value());
  EXPECT_TRUE(h.server.handshake->ok());
  // The client's close sent close_notify: the server saw an orderly TLS end, not a truncation.
  ASSERT_TRUE(h.server.end.has_value());
  EXPECT_EQ(h.server.end->code(), ErrorCode::TRANSPORT_CLOSED) << h.server.end->message();
}

TEST(TlsStreamTest, WrongHostNameIsRefused) {
  Harness h;
  ClientResult r = h.echo(trusting(pki().ca->cert_pem, "kms.us-east-1.amazonaws.com"), to_bytes("x"));
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(r.status->code(), ErrorCode::KEYS_TLS_FAILED);
  EXPECT_NE(r.status->message().find("hostname mismatch"), std::string::npos) << r.status->message();
  ASSERT_TRUE(h.server.handshake.has_value());
  EXPECT_FALSE(h.server.handshake->ok());
}

TEST(TlsStreamTest, UntrustedCaIsRefused) {
  Harness h;
  ClientResult r = h.echo(trusting(pki().other_ca->cert_pem), to_bytes("x"));
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(r.status->code(), ErrorCode::KEYS_TLS_FAILED);
  EXPECT_NE(r.status->message().find("certificate verify failed"), std::string::npos) << r.status->message();
}

TEST(TlsStreamTest, ClientConfigErrorsAreReported) {
  EXPECT_EQ(TlsContext::client({}).status().code(), ErrorCode::INVALID_ARGUMENT);
  TlsClientConfig c = trusting("not a certificate");
  EXPECT_EQ(TlsContext::client(c).status().code(), ErrorCode::KEYS_TLS_FAILED);
  c = trusting(pki().ca->cert_pem);
  c.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(TlsContext::client(c).status().code(), ErrorCode::KEYS_TLS_FAILED);
}

Task<void> decrypt_call(keys::KmsClient* client, std::optional<Result<keys::KmsDecryptResponse>>* out) {
  keys::KmsDecryptRequest req;
  req.ciphertext_blob = to_bytes("blob");
  req.attestation_document = to_bytes("doc");
  out->emplace(co_await client->decrypt(std::move(req)));
}

TEST(TlsStreamTest, AwsKmsClientSpeaksSignedHttpOverVerifiedTls) {
  Harness h;
  runtime::spawn(h.loop, tls_server(h.listener.get(), h.server_ctx, &h.loop, ServerMode::kKmsAnswer, &h.server));
  OsRandom random;
  NullEventSink events;
  runtime::Env env;
  env.executor = &h.loop;
  env.clock = &h.loop;
  env.random = &random;
  env.network = &h.network;
  env.events = &events;
  AwsKmsClientOptions o;
  o.use_system_ca = false;
  o.ca_pem = pki().ca->cert_pem;
  auto kms = make_aws_kms_client(env, "eu-west-1", h.listener->local_endpoint(), {"AKID", "secret", ""}, o);
  ASSERT_TRUE(kms.ok()) << kms.status().message();
  std::optional<Result<keys::KmsDecryptResponse>> out;
  h.loop.block_on(decrypt_call(&(*kms)->client(), &out));
  ASSERT_TRUE(out.has_value());
  ASSERT_TRUE(out->ok()) << out->status().message();
  EXPECT_EQ((*out)->ciphertext_for_recipient, to_bytes("cms"));
  ASSERT_TRUE(h.server.request.has_value());
  EXPECT_EQ(keys::http_header(h.server.request->headers, "Host"), kHost);
  EXPECT_TRUE(keys::http_header(h.server.request->headers, "Authorization").starts_with("AWS4-HMAC-SHA256 "));
  EXPECT_EQ((*kms)->retrying().stats().attempts, 1u);
}

}  // namespace
}  // namespace cpipe::posix

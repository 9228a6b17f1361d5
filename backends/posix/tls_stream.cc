// TlsStream over memory BIOs (see tls_stream.h).
#include "backends/posix/tls_stream.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <utility>

namespace cpipe::posix {
namespace {

using runtime::Task;

Status tls_failed(std::string what) { return make_error(ErrorCode::KEYS_TLS_FAILED, "TLS: " + std::move(what)); }

// OpenSSL's error queue as text (and cleared).
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr mem_bio(const std::string& pem) { return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))); }

Status add_ca_pem(SSL_CTX* ctx, const std::string& pem) {
  BioPtr bio = mem_bio(pem);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    const int ok = X509_STORE_add_cert(store, cert);
    X509_free(cert);
    if (!ok) return tls_failed("adding a CA certificate: " + openssl_errors());
    ++added;
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  if (added == 0) return tls_failed("ca_pem holds no certificate");
  return Status{};
}

// Shared between the handshake and its timeout timer.
struct HandshakeState {
  bool timed_out = false;
};

Task<void> send_and_close(std::shared_ptr<runtime::Stream> inner, Bytes bytes) {
  if (!bytes.empty()) (void)co_await inner->write_all(bytes);
  inner->close();
}

}  // namespace

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::shared_ptr<TlsContext>> TlsContext::client(const TlsClientConfig& config) {
  if (config.server_name.empty()) return make_error(ErrorCode::INVALID_ARGUMENT, "TLS client needs a server name");
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (!raw) return tls_failed("SSL_CTX_new: " + openssl_errors());
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw, true));
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  if (config.use_system_ca && SSL_CTX_set_default_verify_paths(raw) != 1)
    return tls_failed("loading the system CA store: " + openssl_errors());
  if (!config.ca_file.empty() && SSL_CTX_load_verify_locations(raw, config.ca_file.c_str(), nullptr) != 1)
    return tls_failed("loading CA file " + config.ca_file + ": " + openssl_errors());
  if (!config.ca_pem.empty()) CPIPE_RETURN_IF_ERROR(add_ca_pem(raw, config.ca_pem));
  ctx->server_name_ = config.server_name;
  ctx->handshake_timeout_ = config.handshake_timeout;
  return ctx;
}

Result<std::shared_ptr<TlsContext>> TlsContext::server(const TlsServerConfig& config) {
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (!raw) return tls_failed("SSL_CTX_new: " + openssl_errors());
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw, false));
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  BioPtr chain = mem_bio(config.certificate_chain_pem);
  X509* leaf = PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr);
  if (!leaf) return tls_failed("no certificate in the chain PEM: " + openssl_errors());
  const int used = SSL_CTX_use_certificate(raw, leaf);
  X509_free(leaf);
  if (used != 1) return tls_failed("SSL_CTX_use_certificate: " + openssl_errors());
  while (X509* extra = PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add_extra_chain_cert(raw, extra) != 1) {  // takes ownership on success
      X509_free(extra);
      return tls_failed("adding a chain certificate: " + openssl_errors());
    }
  }
  ERR_clear_error();
  BioPtr key_bio = mem_bio(config.private_key_pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  if (!key) return tls_failed("reading the private key: " + openssl_errors());
  const int key_ok = SSL_CTX_use_PrivateKey(raw, key);
  EVP_PKEY_free(key);
  if (key_ok != 1 || SSL_CTX_check_private_key(raw) != 1) return tls_failed("private key: " + openssl_errors());
  ctx->handshake_timeout_ = config.handshake_timeout;
  return ctx;
}

TlsStream::TlsStream(std::shared_ptr<TlsContext> context, std::shared_ptr<runtime::Stream> inner,
                     runtime::Executor* executor)
    : context_(std::move(context)), inner_(std::move(inner)), executor_(executor), io_buf_(16 * 1024) {
  ssl_ = SSL_new(context_->get());
  if (!ssl_) return;
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(rbio_, -1);  // empty means "want more", not EOF
  SSL_set_bio(ssl_, rbio_, wbio_);     // the SSL owns both now
  if (context_->is_client()) {
    SSL_set_connect_state(ssl_);
    SSL_set_tlsext_host_name(ssl_, context_->server_name().c_str());
    SSL_set1_host(ssl_, context_->server_name().c_str());  // checked during verification
  } else {
    SSL_set_accept_state(ssl_);
  }
}

TlsStream::~TlsStream() {
  close();
  if (ssl_) SSL_free(ssl_);
}

Status TlsStream::ssl_error(int ret, const char* what) {
  const int err = SSL_get_error(ssl_, ret);
  std::string detail = openssl_errors();
  const long verify = SSL_get_verify_result(ssl_);
  if (context_->is_client() && verify != X509_V_OK)
    detail = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify) + " (" + detail + ")";
  if (err == SSL_ERROR_SYSCALL && detail == "unknown OpenSSL error") detail = "unexpected end of stream";
  return tls_failed(std::string(what) + ": " + detail);
}

Task<Status> TlsStream::flush() {
  while (writing_) co_await runtime::yield_now(*executor_);
  writing_ = true;
  Status st;
  while (BIO_ctrl_pending(wbio_) > 0) {
    Bytes out(BIO_ctrl_pending(wbio_));
    const int n = BIO_read(wbio_, out.data(), static_cast<int>(out.size()));
    if (n <= 0) break;
    out.resize(size_t(n));
    st = co_await inner_->write_all(out);
    if (!st.ok()) break;
  }
  writing_ = false;
  co_return st;
}

Task<Status> TlsStream::feed(runtime::Duration timeout) {
  Result<size_t> n = co_await inner_->read_some(io_buf_, timeout);
  if (!n.ok()) {
    // The transport ended without a TLS close_notify: possibly a truncation by the host.
    if (n.status().code() == ErrorCode::TRANSPORT_CLOSED)
      co_return make_error(ErrorCode::TRANSPORT_RESET, "TLS: transport closed without close_notify");
    co_return n.status();
  }
  BIO_write(rbio_, io_buf_.data(), static_cast<int>(*n));
  co_return Status{};
}

Task<Status> TlsStream::run_handshake() {
  while (true) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    if (r == 1) co_return co_await flush();
    const int err = SSL_get_error(ssl_, r);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      Status failure = ssl_error(r, "handshake");
      (void)co_await flush();  // let the peer see our alert
      co_return failure;
    }
    Status st = co_await flush();
    if (!st.ok()) co_return st;
    if (err == SSL_ERROR_WANT_READ) {
      st = co_await feed(runtime::kNoTimeout);
      if (!st.ok()) co_return st;
    }
  }
}

Task<Result<std::shared_ptr<runtime::Stream>>> TlsStream::handshake(std::shared_ptr<TlsContext> context,
                                                                    std::shared_ptr<runtime::Stream> inner,
                                                                    runtime::Executor* executor,
                                                                    runtime::Clock* clock) {
  const runtime::Duration timeout = context->handshake_timeout();
  std::shared_ptr<TlsStream> s(new TlsStream(std::move(context), inner, executor));
  if (!s->ssl_) co_return tls_failed("SSL_new: " + openssl_errors());
  auto state = std::make_shared<HandshakeState>();
  runtime::ScopedTimer timer;
  if (timeout.count() > 0) {
    timer = runtime::ScopedTimer(*clock, timeout, [state, inner] {
      state->timed_out = true;
      inner->close();
    });
  }
  Status st = co_await s->run_handshake();
  timer.cancel();
  if (!st.ok()) {
    s->closed_ = true;
    inner->close();
    if (state->timed_out) co_return make_error(ErrorCode::TRANSPORT_TIMEOUT, "TLS handshake timed out");
    co_return st;
  }
  co_return std::shared_ptr<runtime::Stream>(std::move(s));
}

Task<Result<size_t>> TlsStream::read_some(MutableByteSpan buffer, runtime::Duration timeout) {
  while (true) {
    if (closed_) co_return make_error(ErrorCode::CANCELLED, "TLS stream closed");
    ERR_clear_error();
    size_t n = 0;
    const int r = SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n);
    if (r == 1) co_return n;
    const int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_ZERO_RETURN) co_return make_error(ErrorCode::TRANSPORT_CLOSED, "TLS close_notify");
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) co_return ssl_error(r, "read");
    if (BIO_ctrl_pending(wbio_) > 0) {  // e.g. a KeyUpdate answer
      Status st = co_await flush();
      if (!st.ok()) co_return st;
    }
    if (err == SSL_ERROR_WANT_READ) {
      Status st = co_await feed(timeout);
      if (!st.ok()) co_return closed_ ? make_error(ErrorCode::CANCELLED, "TLS stream closed") : st;
    }
  }
}

Task<Status> TlsStream::write_all(ByteSpan data) {
  if (closed_) co_return make_error(ErrorCode::CANCELLED, "TLS stream closed");
  size_t done = 0;
  while (done < data.size()) {
    ERR_clear_error();
    size_t n = 0;
    const int r = SSL_write_ex(ssl_, data.data() + done, data.size() - done, &n);
    if (r == 1) {
      done += n;
      continue;
    }
    const int err = SSL_get_error(ssl_, r);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) co_return ssl_error(r, "write");
    Status st = co_await flush();
    if (!st.ok()) co_return st;
    if (err == SSL_ERROR_WANT_READ) {
      st = co_await feed(runtime::kNoTimeout);
      if (!st.ok()) co_return st;
    }
  }
  Status st = co_await flush();
  co_return closed_ && st.ok() ? make_error(ErrorCode::CANCELLED, "TLS stream closed") : st;
}

void TlsStream::close() {
  if (closed_) return;  // the first close decided how the transport ends
  if (!ssl_) {
    closed_ = true;
    if (inner_) inner_->close();
    return;
  }
  closed_ = true;
  // Best effort close_notify, unless a write to the transport is in progress.
  if (!writing_ && SSL_is_init_finished(ssl_)) {
    ERR_clear_error();
    SSL_shutdown(ssl_);
    Bytes alert(BIO_ctrl_pending(wbio_));
    if (!alert.empty()) alert.resize(size_t(std::max(0, BIO_read(wbio_, alert.data(), static_cast<int>(alert.size())))));
    runtime::spawn(*executor_, send_and_close(inner_, std::move(alert)));
    return;
  }
  inner_->close();
}

std::string TlsStream::protocol() const { return ssl_ ? SSL_get_version(ssl_) : ""; }

std::string TlsStream::peer_subject() const {
  if (!ssl_) return {};
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (!cert) return {};
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

Task<Result<std::shared_ptr<runtime::Stream>>> TlsConnector::connect() {
  Result<std::shared_ptr<runtime::Stream>> inner = co_await inner_->connect();
  if (!inner.ok()) co_return inner.status();
  co_return co_await TlsStream::handshake(context_, std::move(*inner), executor_, clock_);
}

}  // namespace cpipe::posix

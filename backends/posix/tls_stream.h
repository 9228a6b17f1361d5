// TlsStream: TLS (OpenSSL, 1.2 minimum) over any runtime::Stream, through memory BIOs, so it
// layers on whatever carries the bytes — the vsock link to the host's proxy inside an enclave, a
// TCP socket, or a simulated stream. The client verifies the server's chain (system CA store, a
// CA file, or CA certificates given as PEM) and its host name, and sends SNI: the host relaying
// the bytes sees only ciphertext and cannot impersonate KMS/S3. The server mode exists for tests
// and local runs (certificate + key as PEM).
//
// Stream semantics are transport.h's. Handshake and verification failures are KEYS_TLS_FAILED
// with OpenSSL's reason (e.g. "certificate verify failed: hostname mismatch"); a TLS close_notify
// is TRANSPORT_CLOSED; a peer that closes the transport without close_notify is TRANSPORT_RESET
// (truncation attack).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/runtime/clock.h"
#include "core/runtime/connector.h"
#include "core/runtime/executor.h"
#include "core/runtime/transport.h"

namespace cpipe::posix {

struct TlsClientConfig {
  std::string server_name;        // SNI and the name the certificate must carry
  bool use_system_ca = true;      // OpenSSL's default verify paths
  std::string ca_file;            // PEM bundle (added to the above)
  std::string ca_pem;             // PEM certificates given in memory (tests, pinned roots)
  runtime::Duration handshake_timeout = std::chrono::seconds(10);
};

struct TlsServerConfig {
  std::string certificate_chain_pem;  // leaf first
  std::string private_key_pem;
  runtime::Duration handshake_timeout = std::chrono::seconds(10);
};

// Shared by a context's streams; built once per configuration.
class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> client(const TlsClientConfig& config);
  static Result<std::shared_ptr<TlsContext>> server(const TlsServerConfig& config);
  ~TlsContext();
  SSL_CTX* get() const { return ctx_; }
  const std::string& server_name() const { return server_name_; }
  runtime::Duration handshake_timeout() const { return handshake_timeout_; }
  bool is_client() const { return is_client_; }

 private:
  TlsContext(SSL_CTX* ctx, bool is_client) : ctx_(ctx), is_client_(is_client) {}
  SSL_CTX* ctx_;
  bool is_client_;
  std::string server_name_;
  runtime::Duration handshake_timeout_{0};
};

class TlsStream final : public runtime::Stream, public std::enable_shared_from_this<TlsStream> {
 public:
  // Runs the handshake over `inner` (client or server side per the context). `executor` and
  // `clock` run the handshake timeout and serialize writes to `inner`.
  static runtime::Task<Result<std::shared_ptr<runtime::Stream>>> handshake(
      std::shared_ptr<TlsContext> context, std::shared_ptr<runtime::Stream> inner, runtime::Executor* executor,
      runtime::Clock* clock);

  ~TlsStream() override;
  runtime::Task<Result<size_t>> read_some(MutableByteSpan buffer, runtime::Duration timeout) override;
  runtime::Task<Status> write_all(ByteSpan data) override;
  void close() override;
  runtime::Endpoint local_endpoint() const override { return inner_->local_endpoint(); }
  runtime::Endpoint peer_endpoint() const override { return inner_->peer_endpoint(); }

  // The negotiated protocol ("TLSv1.3") and the peer certificate's subject, for logs.
  std::string protocol() const;
  std::string peer_subject() const;

 private:
  TlsStream(std::shared_ptr<TlsContext> context, std::shared_ptr<runtime::Stream> inner, runtime::Executor* executor);
  // Sends whatever OpenSSL has queued for the peer (one writer at a time).
  runtime::Task<Status> flush();
  // Reads more ciphertext from `inner` into OpenSSL.
  runtime::Task<Status> feed(runtime::Duration timeout);
  Status ssl_error(int ret, const char* what);
  runtime::Task<Status> run_handshake();

  std::shared_ptr<TlsContext> context_;
  std::shared_ptr<runtime::Stream> inner_;
  runtime::Executor* executor_;
  SSL* ssl_ = nullptr;
  BIO* rbio_ = nullptr;  // ciphertext from the peer (owned by ssl_)
  BIO* wbio_ = nullptr;  // ciphertext for the peer (owned by ssl_)
  bool writing_ = false;
  bool closed_ = false;
  Bytes io_buf_;
};

// connect() = inner connector's stream + TLS handshake.
class TlsConnector final : public runtime::StreamConnector {
 public:
  TlsConnector(runtime::StreamConnector* inner, std::shared_ptr<TlsContext> context, runtime::Executor* executor,
               runtime::Clock* clock)
      : inner_(inner), context_(std::move(context)), executor_(executor), clock_(clock) {}
  runtime::Task<Result<std::shared_ptr<runtime::Stream>>> connect() override;

 private:
  runtime::StreamConnector* inner_;
  std::shared_ptr<TlsContext> context_;
  runtime::Executor* executor_;
  runtime::Clock* clock_;
};

}  // namespace cpipe::posix

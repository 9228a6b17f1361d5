// `cpipe bench channel`: how fast the attested secure channel is, measured in real time on this
// machine: handshake p50/p99 (DEVELOPMENT-ONLY mock attestation, over TCP loopback through the
// posix backend), record seal+open time and throughput for 64 B, 3 KiB, 64 KiB and 1 MiB frames
// through the record layer, the raw OpenSSL ChaCha20-Poly1305 seal+open throughput of the same
// sizes in the same run (with the ratio channel/raw), and end-to-end channel throughput over TCP
// loopback. Targets (issue 2): 64 KiB channel >= 80% of raw AEAD; 3 KiB seal+open <= 3 us.
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/cpipe/command_registry.h"
#include "backends/posix/posix_env.h"
#include "core/attest/mock_attestation.h"
#include "core/channel/record_layer.h"
#include "core/channel/secure_channel.h"

namespace cpipe::cli {
namespace {

using nlohmann::ordered_json;
using SteadyClock = std::chrono::steady_clock;
using StreamPtr = std::shared_ptr<runtime::Stream>;

struct BenchOptions {
  bool json = false;
  int handshakes = 200;
  int repeats = 5;
  size_t mib_per_size = 64;
};

double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

// ---- record layer and raw AEAD ----------------------------------------------------------------

struct Throughput {
  double ns_per_op = 0;
  double mb_per_s = 0;  // payload bytes, 10^6
};

size_t ops_for(size_t size, const BenchOptions& opt) {
  return std::max<size_t>(200, (opt.mib_per_size << 20) / size);
}

Result<Throughput> bench_record_layer(size_t size, const BenchOptions& opt) {
  Bytes secret(32, 0x42);
  CPIPE_ASSIGN_OR_RETURN(channel::RecordSealer sealer, channel::RecordSealer::create(secret));
  CPIPE_ASSIGN_OR_RETURN(channel::RecordOpener opener, channel::RecordOpener::create(secret));
  Bytes payload(size, 0x5a);
  channel::RecordBuffer buf;
  size_t ops = ops_for(size, opt);
  double best = 1e30;
  for (int r = 0; r < opt.repeats; ++r) {
    auto t0 = SteadyClock::now();
    for (size_t i = 0; i < ops; ++i) {
      buf.clear();
      ByteSpan parts[1] = {payload};
      CPIPE_RETURN_IF_ERROR(sealer.seal(channel::FrameType::kData, parts, buf));
      ByteSpan hdr(buf.data(), channel::kFrameHeaderSize);
      CPIPE_ASSIGN_OR_RETURN(channel::FrameHeader h, opener.check_header(hdr));
      auto plain = opener.open(hdr, MutableByteSpan(buf.data() + channel::kFrameHeaderSize, h.length));
      if (!plain.ok()) return plain.status();
    }
    best = std::min(best, seconds_since(t0));
  }
  return Throughput{best * 1e9 / double(ops), double(size) * double(ops) / best / 1e6};
}

// OpenSSL EVP directly (not through cpipe's wrapper): the reference the channel is held to.
Result<Throughput> bench_raw_aead(size_t size, const BenchOptions& opt) {
  EVP_CIPHER_CTX* enc = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX* dec = EVP_CIPHER_CTX_new();
  uint8_t key[32], nonce[12] = {0}, aad[16] = {0}, tag[16];
  std::memset(key, 0x42, sizeof key);
  bool ok = enc && dec &&
            EVP_EncryptInit_ex(enc, EVP_chacha20_poly1305(), nullptr, key, nullptr) == 1 &&
            EVP_DecryptInit_ex(dec, EVP_chacha20_poly1305(), nullptr, key, nullptr) == 1;
  Bytes buf(size, 0x5a);
  size_t ops = ops_for(size, opt);
  double best = 1e30;
  int len = 0;
  for (int r = 0; ok && r < opt.repeats; ++r) {
    auto t0 = SteadyClock::now();
    for (size_t i = 0; ok && i < ops; ++i) {
      std::memcpy(nonce + 4, &i, sizeof(uint64_t));
      ok = EVP_EncryptInit_ex(enc, nullptr, nullptr, nullptr, nonce) == 1 &&
           EVP_EncryptUpdate(enc, nullptr, &len, aad, sizeof aad) == 1 &&
           EVP_EncryptUpdate(enc, buf.data(), &len, buf.data(), int(size)) == 1 &&
           EVP_EncryptFinal_ex(enc, buf.data() + len, &len) == 1 &&
           EVP_CIPHER_CTX_ctrl(enc, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1 &&
           EVP_DecryptInit_ex(dec, nullptr, nullptr, nullptr, nonce) == 1 &&
           EVP_DecryptUpdate(dec, nullptr, &len, aad, sizeof aad) == 1 &&
           EVP_DecryptUpdate(dec, buf.data(), &len, buf.data(), int(size)) == 1 &&
           EVP_CIPHER_CTX_ctrl(dec, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1 &&
           EVP_DecryptFinal_ex(dec, buf.data() + len, &len) == 1;
    }
    best = std::min(best, seconds_since(t0));
  }
  EVP_CIPHER_CTX_free(enc);
  EVP_CIPHER_CTX_free(dec);
  if (!ok) return make_error(ErrorCode::CRYPTO_FAILURE, "raw OpenSSL ChaCha20-Poly1305 failed");
  return Throughput{best * 1e9 / double(ops), double(size) * double(ops) / best / 1e6};
}

// ---- sessions over TCP loopback ----------------------------------------------------------------

struct Parties {
  explicit Parties(runtime::Env& env) {
    attest::MockProviderConfig pc;
    pc.measurements = {{"PCR0", Bytes(48, 0x01)}};
    client_provider = std::move(*attest::MockAttestationProvider::create(env, pc));
    server_provider = std::move(*attest::MockAttestationProvider::create(env, pc));
    attest::MockVerifierPolicy vp;
    vp.platform_public_key = attest::mock_platform_public_key(attest::kDefaultMockSeed);
    vp.expected_measurements = pc.measurements;
    verifier = std::make_unique<attest::MockAttestationVerifier>(vp);
    client.provider = client_provider.get();
    client.verifier = verifier.get();
    client.name = "bench.client";
    server = client;
    server.provider = server_provider.get();
    server.name = "bench.server";
  }
  std::unique_ptr<attest::MockAttestationProvider> client_provider, server_provider;
  std::unique_ptr<attest::MockAttestationVerifier> verifier;
  channel::ChannelConfig client, server;
};

struct ServerSide {
  Result<std::unique_ptr<channel::SecureChannel>> channel =
      make_error(ErrorCode::INTERNAL, "not finished");
  bool done = false;
};

runtime::Task<void> accept_channel(runtime::Env* env, StreamPtr stream, channel::ChannelConfig cfg,
                                   ServerSide* out) {
  out->channel = co_await channel::SecureChannel::accept(*env, std::move(stream), cfg);
  out->done = true;
}

struct Session {
  std::unique_ptr<channel::SecureChannel> client, server;
};

runtime::Task<Result<Session>> open_session(runtime::Env* env, runtime::Listener* listener,
                                            Parties* parties, double* handshake_s) {
  Result<StreamPtr> c = co_await env->network->connect(listener->local_endpoint(), std::chrono::seconds(5));
  if (!c.ok()) co_return c.status();
  Result<StreamPtr> s = co_await listener->accept();
  if (!s.ok()) co_return s.status();
  auto server = std::make_unique<ServerSide>();
  auto t0 = SteadyClock::now();
  runtime::spawn(*env->executor, accept_channel(env, *s, parties->server, server.get()));
  auto client = co_await channel::SecureChannel::connect(*env, *c, parties->client);
  while (!server->done) co_await runtime::yield_now(*env->executor);
  *handshake_s = seconds_since(t0);
  if (!client.ok()) co_return client.status();
  if (!server->channel.ok()) co_return server->channel.status();
  co_return Session{std::move(*client), std::move(*server->channel)};
}

struct HandshakeStats {
  std::vector<double> us;
};

runtime::Task<Status> bench_handshakes(runtime::Env* env, runtime::Listener* listener,
                                       Parties* parties, int n, HandshakeStats* out) {
  for (int i = 0; i < n + 5; ++i) {  // 5 warm-up rounds
    double s = 0;
    Result<Session> session = co_await open_session(env, listener, parties, &s);
    if (!session.ok()) co_return session.status();
    if (i >= 5) out->us.push_back(s * 1e6);
  }
  co_return Status::Ok();
}

struct Drain {
  size_t messages = 0;
  Status status;
  bool done = false;
};

runtime::Task<void> drain(channel::SecureChannel* ch, size_t n, Drain* out) {
  for (size_t i = 0; i < n; ++i) {
    Result<channel::Message> m = co_await ch->receive();
    if (!m.ok()) {
      out->status = m.status();
      break;
    }
    ++out->messages;
  }
  out->done = true;
}

runtime::Task<Result<Throughput>> bench_stream(runtime::Env* env, runtime::Listener* listener,
                                               Parties* parties, size_t size, size_t total) {
  double hs = 0;
  Result<Session> session = co_await open_session(env, listener, parties, &hs);
  if (!session.ok()) co_return session.status();
  size_t n = std::max<size_t>(16, total / size);
  Bytes payload(size, 0x33);
  auto sink = std::make_unique<Drain>();
  auto t0 = SteadyClock::now();
  runtime::spawn(*env->executor, drain(session->server.get(), n, sink.get()));
  for (size_t i = 0; i < n; ++i) {
    Status s = co_await session->client->send(payload);
    if (!s.ok()) co_return s;
  }
  while (!sink->done) co_await runtime::yield_now(*env->executor);
  double secs = seconds_since(t0);
  if (!sink->status.ok()) co_return sink->status;
  co_return Throughput{secs * 1e9 / double(n), double(size) * double(n) / secs / 1e6};
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, size_t(p / 100.0 * double(v.size() - 1) + 0.5));
  return v[i];
}

struct StreamBench {
  size_t size;
  Result<Throughput> result = make_error(ErrorCode::INTERNAL, "not run");
};

runtime::Task<Status> run_sessions(runtime::Env* env, runtime::Listener* listener, Parties* parties,
                                   const BenchOptions* opt, HandshakeStats* hs,
                                   std::vector<StreamBench>* streams) {
  CPIPE_CO_RETURN_IF_ERROR(co_await bench_handshakes(env, listener, parties, opt->handshakes, hs));
  for (StreamBench& b : *streams)
    b.result = co_await bench_stream(env, listener, parties, b.size, opt->mib_per_size << 20);
  co_return Status::Ok();
}

std::string size_name(size_t s) {
  if (s >= (1u << 20)) return std::to_string(s >> 20) + "MiB";
  if (s >= 1024) return std::to_string(s >> 10) + "KiB";
  return std::to_string(s) + "B";
}

int run_bench_channel(const BenchOptions& opt) {
  const size_t sizes[] = {64, 3 * 1024, 64 * 1024, 1024 * 1024};
  ordered_json out;
  out["bench"] = "channel";
  out["attestation"] = "mock-dev (DEVELOPMENT-ONLY)";
  out["aead"] = "ChaCha20-Poly1305 (OpenSSL EVP)";

  posix::PosixEnvOptions po;
  po.compute_threads = 1;
  po.event_sink = &NullEventSink::instance();
  auto posix = posix::make_posix_env(po);
  runtime::Env& env = posix->env;
  auto listener = env.network->listen(runtime::Endpoint::tcp("127.0.0.1", 0));
  if (!listener.ok()) return report_error(listener.status(), opt.json);
  Parties parties(env);
  HandshakeStats hs;
  std::vector<StreamBench> streams = {{64 * 1024}, {1024 * 1024}};
  Status st = posix->loop.block_on(
      run_sessions(&env, listener->get(), &parties, &opt, &hs, &streams));
  if (!st.ok()) return report_error(st, opt.json);
  out["handshake"] = {{"transport", "tcp loopback (posix backend)"},
                      {"count", hs.us.size()},
                      {"p50_us", percentile(hs.us, 50)},
                      {"p99_us", percentile(hs.us, 99)},
                      {"max_us", percentile(hs.us, 100)}};

  ordered_json frames = ordered_json::array();
  for (size_t size : sizes) {
    auto rec = bench_record_layer(size, opt);
    auto raw = bench_raw_aead(size, opt);
    if (!rec.ok()) return report_error(rec.status(), opt.json);
    if (!raw.ok()) return report_error(raw.status(), opt.json);
    frames.push_back({{"size", size_name(size)},
                      {"bytes", size},
                      {"seal_open_ns", rec->ns_per_op},
                      {"channel_mb_per_s", rec->mb_per_s},
                      {"raw_aead_seal_open_ns", raw->ns_per_op},
                      {"raw_aead_mb_per_s", raw->mb_per_s},
                      {"channel_vs_raw", rec->mb_per_s / raw->mb_per_s}});
  }
  out["record_layer"] = frames;
  ordered_json tcp = ordered_json::array();
  for (const StreamBench& b : streams) {
    if (!b.result.ok()) return report_error(b.result.status(), opt.json);
    tcp.push_back({{"size", size_name(b.size)}, {"ns_per_message", b.result->ns_per_op},
                   {"mb_per_s", b.result->mb_per_s}});
  }
  out["channel_tcp_loopback"] = tcp;
  const ordered_json& f3k = frames[1];
  const ordered_json& f64k = frames[2];
  out["targets"] = {{"seal_open_3KiB_le_3us", f3k["seal_open_ns"].get<double>() <= 3000.0},
                    {"channel_64KiB_ge_80pct_raw", f64k["channel_vs_raw"].get<double>() >= 0.8}};

  if (opt.json) {
    std::cout << out.dump(2) << std::endl;
  } else {
    std::cout << "handshake (mock-dev, tcp loopback): p50 " << out["handshake"]["p50_us"] << " us, p99 "
              << out["handshake"]["p99_us"] << " us\n";
    for (const auto& f : frames)
      std::cout << "record " << f["size"].get<std::string>() << ": seal+open "
                << f["seal_open_ns"].get<double>() << " ns, " << f["channel_mb_per_s"].get<double>()
                << " MB/s (raw AEAD " << f["raw_aead_mb_per_s"].get<double>() << " MB/s, ratio "
                << f["channel_vs_raw"].get<double>() << ")\n";
    for (const auto& t : tcp)
      std::cout << "channel over tcp loopback " << t["size"].get<std::string>() << ": "
                << t["mb_per_s"].get<double>() << " MB/s\n";
  }
  return kExitOk;
}

CommandRegistrar registrar([](CLI::App& root) {
  auto opt = std::make_shared<BenchOptions>();
  CLI::App* grp = group(root, "bench", "Benchmarks (JSON with --json)");
  CLI::App* cmd = grp->add_subcommand(
      "channel", "Secure channel: handshake p50/p99, record seal+open vs raw OpenSSL AEAD");
  cmd->add_flag("--json", opt->json, "Machine-readable output");
  cmd->add_option("--handshakes", opt->handshakes, "Handshakes to time")->check(CLI::PositiveNumber);
  cmd->add_option("--repeats", opt->repeats, "Repeats per size (best is reported)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--mib", opt->mib_per_size, "MiB of payload per size and repeat")
      ->check(CLI::PositiveNumber);
  cmd->callback([opt] { set_exit_code(run_bench_channel(*opt)); });
});

}  // namespace
}  // namespace cpipe::cli

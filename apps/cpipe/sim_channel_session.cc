// The simulated attested session behind `cpipe sim channel`: world set-up, the two enclave
// programs, the recording host, and the checks on what the host saw.
#include "apps/cpipe/sim_channel_session.h"
#include "apps/cpipe/recording_tap.h"
#include "apps/cpipe/sim_attestation.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>

#include "backends/simulated/nsm/sim_nsm.h"
#include "backends/simulated/sim_network.h"
#include "backends/simulated/sim_world.h"
#include "core/attest/mock_attestation.h"
#include "core/attest/nitro/nitro_verifier.h"
#include "core/channel/secure_channel.h"
#include "core/crypto/hash.h"
#include "core/pipeline/relay.h"

namespace cpipe::cli {
namespace {

using runtime::Endpoint;
using runtime::Task;

// Nitro-like addressing: enclaves reach only their parent instance (CID 3) over vsock.
const Endpoint kHostListen = Endpoint::vsock(3, 6000);
const Endpoint kEnclaveBListen = Endpoint::vsock(17, 5000);

// One enclave's attestation: its provider and its verifier of the peer.
using Attestation = SimAttestation;

// `self_image` is what this enclave really runs; `peer` names the image it expects of its peer.
Result<Attestation> make_attestation(const SimChannelOptions& opt, runtime::Env& env,
                                     runtime::Clock& clock, const std::string& self_image,
                                     bool self_debug, const std::string& peer) {
  Attestation a;
  if (opt.attestation == "mock-dev") {
    attest::MockProviderConfig pc;
    pc.measurements = {{"PCR0", crypto::sha384(to_bytes(self_image))}};
    pc.debug = self_debug;
    pc.latency = std::chrono::milliseconds(1);
    CPIPE_ASSIGN_OR_RETURN(a.provider, attest::MockAttestationProvider::create(env, pc));
    attest::MockVerifierPolicy vp;
    vp.platform_public_key = attest::mock_platform_public_key(attest::kDefaultMockSeed);
    vp.expected_measurements = {{"PCR0", crypto::sha384(to_bytes(peer))}};
    a.verifier = std::make_unique<attest::MockAttestationVerifier>(vp, env.events);
    return a;
  }
  if (opt.attestation != "sim-nitro") {
    return make_error(ErrorCode::INVALID_ARGUMENT,
                      "--attestation must be sim-nitro or mock-dev, not '" + opt.attestation + "'");
  }
  // One simulated AWS PKI for the whole world (same seed), so each side pins the same root.
  SimNitroOptions nitro;
  nitro.pki_seed = "cpipe sim channel: simulated Nitro PKI";
  nitro.image = self_image;
  nitro.debug = self_debug;
  std::map<uint32_t, Bytes> peer_pcrs = sim::sim_enclave_pcrs(sim_image(peer));
  for (uint32_t i : {0u, 1u, 2u}) nitro.peer_pcrs[i] = peer_pcrs[i];
  return make_sim_nitro(clock, nitro);
}

std::string describe(const runtime::VerifiedEvidence& e) {
  std::ostringstream out;
  out << e.platform;
  if (e.development_only) out << " (DEVELOPMENT ONLY)";
  for (const auto& [name, value] : e.measurements) {
    if (name == "PCR0" || name == "measurement") out << " " << name << "=" << hex_encode(value).substr(0, 16) << "…";
  }
  return out.str();
}

std::string ms(runtime::MonoTime t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "t=%.3fms", double(t.ns) / 1e6);
  return buf;
}

// Everything the two enclave programs share with the driver. Lives until the world is done.
struct Session {
  SimChannelOptions opt;
  sim::SimWorld* world = nullptr;
  runtime::Env a_env, b_env;
  channel::ChannelConfig a_config, b_config;
  std::unique_ptr<runtime::Listener> b_listener;
  SimChannelReport report;
  std::vector<Bytes> plaintexts;  // every application payload, for the host check
  Status a_result, b_result;
  bool a_done = false, b_done = false;
  runtime::MonoTime connect_start, a_ready, b_ready;

  void note(const std::string& who, const std::string& what) {
    report.timeline.push_back(ms(world->now()) + " " + who + ": " + what);
  }
};

Bytes response_to(ByteSpan request) {
  Bytes r = crypto::sha256(request);
  r.insert(r.end(), request.begin(), request.begin() + std::min<size_t>(request.size(), 32));
  return r;
}

void fail(Session* s, bool a_side, Status st) { (a_side ? s->a_result : s->b_result) = std::move(st); }

// Enclave B (responder): answer every request with its hash; acknowledge the tensor.
Task<void> run_enclave_b(Session* s) {
  Result<std::shared_ptr<runtime::Stream>> stream = co_await s->b_listener->accept();
  if (!stream.ok()) {
    fail(s, false, stream.status());
    co_return;
  }
  auto ch = co_await channel::SecureChannel::accept(s->b_env, *stream, s->b_config);
  if (!ch.ok()) {
    fail(s, false, ch.status().with_context("enclave-b handshake"));
    co_return;
  }
  s->b_ready = s->world->now();
  s->report.b_sees_a = describe((*ch)->peer_evidence());
  s->note("enclave-b", "verified enclave-a: " + s->report.b_sees_a);
  for (;;) {
    Result<channel::Message> m = co_await (*ch)->receive();
    if (!m.ok()) {
      s->report.close_status = std::string(m.status().code_name());
      if (m.code() != ErrorCode::CHANNEL_PEER_CLOSED) fail(s, false, m.status());
      break;
    }
    Bytes reply;
    if (m->kind == channel::MessageKind::kTensor) {
      const codec::TensorView& t = *m->tensor;
      reply = crypto::sha256(t.data);
      s->note("enclave-b", "received tensor '" + t.header.name + "' (" +
                               std::to_string(t.data.size()) + " bytes)");
    } else {
      reply = response_to(m->payload);
    }
    s->plaintexts.push_back(reply);
    Status sent = co_await (*ch)->send(reply);
    if (!sent.ok()) {
      fail(s, false, sent);
      break;
    }
  }
  s->report.rekeys += (*ch)->rekeys_sent();
  s->b_done = true;
}

Task<Status> enclave_a_conversation(Session* s, channel::SecureChannel* ch) {
  runtime::Random& random = *s->a_env.random;
  for (int i = 0; i < s->opt.messages; ++i) {
    Bytes request = random.bytes(size_t(random.uniform_range(64, 48 * 1024)));
    s->plaintexts.push_back(request);
    CPIPE_CO_RETURN_IF_ERROR(co_await ch->send(request));
    CPIPE_CO_ASSIGN_OR_RETURN(channel::Message reply, co_await ch->receive());
    if (reply.to_bytes() != response_to(request)) {
      co_return make_error(ErrorCode::INTERNAL, "reply " + std::to_string(i) + " does not match");
    }
    s->report.app_bytes += request.size() + reply.payload.size();
    ++s->report.round_trips;
  }
  s->note("enclave-a", std::to_string(s->opt.messages) + " request/response round trips verified");

  // Activations as a stage would send them: F32 [1, T, 768], deterministic values.
  const uint64_t hidden = 768;
  uint64_t tokens = std::max<uint64_t>(1, s->opt.tensor_bytes / (hidden * 4));
  codec::TensorHeader header{codec::DType::F32, {1, tokens, hidden}, "activations.layer6"};
  Bytes data(tokens * hidden * 4);
  for (size_t i = 0; i < data.size() / 4; ++i) {
    float v = float(int64_t(i % 2001) - 1000) / 1000.0f;
    std::memcpy(&data[i * 4], &v, 4);
  }
  s->plaintexts.push_back(data);
  CPIPE_CO_RETURN_IF_ERROR(co_await ch->send_tensor(header, data));
  CPIPE_CO_ASSIGN_OR_RETURN(channel::Message ack, co_await ch->receive());
  s->report.tensor_bytes = data.size();
  s->report.tensor_intact = ack.to_bytes() == crypto::sha256(data);
  s->report.app_bytes += data.size() + ack.payload.size();
  s->note("enclave-a", "tensor of " + std::to_string(data.size()) + " bytes acknowledged, " +
                           (s->report.tensor_intact ? "hash matches" : "HASH MISMATCH"));
  if (!s->report.tensor_intact) co_return make_error(ErrorCode::INTERNAL, "tensor hash mismatch");
  co_return Status::Ok();
}

// Enclave A (initiator): connect through the host, converse, close.
Task<void> run_enclave_a(Session* s) {
  s->connect_start = s->world->now();
  s->note("enclave-a", "connecting to " + kHostListen.to_string() + " (the host relays to " +
                           kEnclaveBListen.to_string() + ")");
  auto stream = co_await s->a_env.network->connect(kHostListen, std::chrono::seconds(5));
  if (!stream.ok()) {
    fail(s, true, stream.status());
    co_return;
  }
  auto ch = co_await channel::SecureChannel::connect(s->a_env, *stream, s->a_config);
  if (!ch.ok()) {
    fail(s, true, ch.status().with_context("enclave-a handshake"));
    co_return;
  }
  s->a_ready = s->world->now();
  s->report.a_sees_b = describe((*ch)->peer_evidence());
  s->report.development_only = (*ch)->peer_evidence().development_only;
  s->report.attestation = (*ch)->peer_evidence().platform;
  s->note("enclave-a", "verified enclave-b: " + s->report.a_sees_b);
  Status st = co_await enclave_a_conversation(s, ch->get());
  s->report.rekeys += (*ch)->rekeys_sent();
  Status closed = co_await (*ch)->close();
  s->note("enclave-a", "closed the channel");
  fail(s, true, st.ok() ? closed : st);
  s->a_done = true;
}

}  // namespace

Result<SimChannelReport> run_sim_channel(const SimChannelOptions& opt) {
  sim::SimWorld world(opt.seed);
  world.set_keep_events(opt.keep_events);
  sim::SimNode& a = world.add_node("enclave-a", {.host = "enclave-a", .cid = 16});
  sim::SimNode& b = world.add_node("enclave-b", {.host = "enclave-b", .cid = 17});
  sim::SimNode& host = world.add_node("host", {.host = "host", .cid = 3});
  // vsock between an enclave and its parent: ~0.17 ms RTT; about 2 GB/s of copy bandwidth.
  sim::LinkConfig link;
  link.latency = sim::LatencyDistribution::quantiles(std::chrono::microseconds(70), std::chrono::microseconds(85),
                                                     std::chrono::microseconds(150), std::chrono::microseconds(400));
  link.bandwidth_bytes_per_s = 2'000'000'000;
  world.network().set_default_link(link);

  Session s;
  s.opt = opt;
  s.world = &world;
  s.a_env = a.env();
  s.b_env = b.env();
  runtime::Env host_env = host.env();

  CPIPE_ASSIGN_OR_RETURN(Attestation a_att, make_attestation(opt, s.a_env, a.clock(), "enclave-a", false, "enclave-b"));
  CPIPE_ASSIGN_OR_RETURN(Attestation b_att, make_attestation(opt, s.b_env, b.clock(), opt.b_image, opt.b_debug, "enclave-a"));
  for (auto* c : {&s.a_config, &s.b_config}) {
    c->handshake_timeout = std::chrono::seconds(5);
    c->rekey_after_records = opt.rekey_after_records;
  }
  s.a_config.provider = a_att.provider.get();
  s.a_config.verifier = a_att.verifier.get();
  s.a_config.name = "enclave-a";
  s.b_config.provider = b_att.provider.get();
  s.b_config.verifier = b_att.verifier.get();
  s.b_config.name = "enclave-b";

  CPIPE_ASSIGN_OR_RETURN(s.b_listener, s.b_env.network->listen(kEnclaveBListen));
  CPIPE_ASSIGN_OR_RETURN(std::unique_ptr<runtime::Listener> host_listener,
                         host_env.network->listen(kHostListen));
  RecordingTap tap;
  pipeline::ByteRelay relay(host_env, std::move(host_listener),
                            pipeline::RelayConfig{kEnclaveBListen, std::chrono::seconds(5), 64 * 1024, 1},
                            &tap);
  runtime::spawn(host, relay.serve());
  runtime::spawn(b, run_enclave_b(&s));
  runtime::spawn(a, run_enclave_a(&s));
  CPIPE_RETURN_IF_ERROR(world.run_until_idle());

  SimChannelReport& r = s.report;
  CPIPE_RETURN_IF_ERROR(s.a_result);
  CPIPE_RETURN_IF_ERROR(s.b_result);
  if (!s.a_done || !s.b_done) {
    return make_error(ErrorCode::INTERNAL, "the simulation went idle before both enclaves finished");
  }
  r.handshake_ms = double((std::max(s.a_ready, s.b_ready) - s.connect_start).count()) / 1e6;
  r.relayed_bytes = relay.bytes_relayed();
  r.host_saw_plaintext = std::any_of(s.plaintexts.begin(), s.plaintexts.end(),
                                     [&](const Bytes& p) { return tap.contains_any_window_of(p); });
  if (r.host_saw_plaintext) {
    return make_error(ErrorCode::INTERNAL, "the host relayed plaintext application bytes");
  }
  r.virtual_ms = double(world.now().ns) / 1e6;
  r.events = world.events_run();
  for (const sim::TimedEvent& e : world.kept_events()) {
    r.event_lines.push_back(ms(e.time) + " " + e.node + " " + e.event.to_text());
  }
  r.trace_hash = world.trace_hash();
  r.unseed = world.unseed();
  return r;
}

}  // namespace cpipe::cli

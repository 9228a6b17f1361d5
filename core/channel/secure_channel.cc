// The coroutine driver of the secure channel: handshake flow, timeout, record I/O, fail-closed.
#include "core/channel/secure_channel.h"

#include <algorithm>
#include <cstring>

namespace cpipe::channel {
namespace {

constexpr size_t kReadBufferSize = 64 * 1024;

std::string_view role_name(SecureChannel::Role r) {
  return r == SecureChannel::Role::kInitiator ? "initiator" : "responder";
}

// Clears a busy flag when the operation ends, whichever way it ends.
struct BusyGuard {
  bool& flag;
  explicit BusyGuard(bool& f) : flag(f) { flag = true; }
  ~BusyGuard() { flag = false; }
};

}  // namespace

SecureChannel::SecureChannel(runtime::Env& env, std::shared_ptr<runtime::Stream> stream,
                             ChannelConfig config, Role role)
    : env_(&env),
      stream_(std::move(stream)),
      config_(std::move(config)),
      role_(role),
      log_(env.logger("channel." + config_.name)),
      rbuf_(std::make_unique_for_overwrite<uint8_t[]>(kReadBufferSize)) {}

SecureChannel::~SecureChannel() {
  if (stream_) stream_->close();
}

runtime::Task<Result<std::unique_ptr<SecureChannel>>> SecureChannel::connect(
    runtime::Env& env, std::shared_ptr<runtime::Stream> stream, ChannelConfig config) {
  std::unique_ptr<SecureChannel> ch(
      new SecureChannel(env, std::move(stream), std::move(config), Role::kInitiator));
  Status s = co_await ch->handshake();
  if (!s.ok()) co_return s;
  co_return std::move(ch);
}

runtime::Task<Result<std::unique_ptr<SecureChannel>>> SecureChannel::accept(
    runtime::Env& env, std::shared_ptr<runtime::Stream> stream, ChannelConfig config) {
  std::unique_ptr<SecureChannel> ch(
      new SecureChannel(env, std::move(stream), std::move(config), Role::kResponder));
  Status s = co_await ch->handshake();
  if (!s.ok()) co_return s;
  co_return std::move(ch);
}

runtime::Task<Status> SecureChannel::handshake() {
  if (!config_.provider || !config_.verifier)
    co_return fail(make_error(ErrorCode::INVALID_ARGUMENT,
                              "a channel needs an attestation provider and verifier"));
  log_.info("handshake_start", {{"role", std::string(role_name(role_))}});
  std::weak_ptr<runtime::Stream> weak_stream = stream_;
  std::shared_ptr<bool> timed_out = handshake_timed_out_;
  runtime::ScopedTimer timer(*env_->clock, config_.handshake_timeout, [timed_out, weak_stream] {
    *timed_out = true;
    if (auto s = weak_stream.lock()) s->close();
  });
  // (No co_await inside ?: — GCC 12 miscompiles temporaries there.)
  Status s;
  if (role_ == Role::kInitiator) {
    s = co_await run_initiator();
  } else {
    s = co_await run_responder();
  }
  timer.cancel();
  if (*handshake_timed_out_)
    s = make_error(ErrorCode::CHANNEL_HANDSHAKE_TIMEOUT, "handshake did not finish in time");
  if (!s.ok()) co_return fail(s);
  send_key_since_ = env_->clock->now();
  log_.info("handshake_complete",
            {{"role", std::string(role_name(role_))},
             {"peer_platform", peer_evidence_.platform},
             {"attestation", peer_evidence_.development_only
                                 ? "DEVELOPMENT-ONLY (mock, not a TEE)"
                                 : "verified"},
             {"transcript", hex_encode(ByteSpan(transcript_hash_).first(8))}});
  co_return Status::Ok();
}

runtime::Task<Status> SecureChannel::run_initiator() {
  Bytes m1 = initiator_.write_hello(*env_->random);
  Status w = co_await stream_->write_all(m1);
  if (!w.ok()) co_return map_read_error(w, false);
  CPIPE_CO_ASSIGN_OR_RETURN(Bytes m2, co_await read_handshake_frame(FrameType::kResponderAuth));
  CPIPE_CO_RETURN_IF_ERROR(initiator_.read_responder_auth(m2));
  CPIPE_CO_RETURN_IF_ERROR(verify_peer(initiator_.peer()));
  CPIPE_CO_RETURN_IF_ERROR(initiator_.check_responder_confirm());
  Result<runtime::Evidence> own = co_await config_.provider->attest(initiator_.own_attestation_request());
  if (!own.ok()) co_return own.status().with_context("own attestation");
  CPIPE_CO_ASSIGN_OR_RETURN(Bytes m3, initiator_.write_initiator_auth(*own));
  w = co_await stream_->write_all(m3);
  if (!w.ok()) co_return map_read_error(w, false);
  CPIPE_CO_ASSIGN_OR_RETURN(TrafficSecrets secrets, initiator_.traffic_secrets());
  co_return install_keys(secrets);
}

runtime::Task<Status> SecureChannel::run_responder() {
  CPIPE_CO_ASSIGN_OR_RETURN(Bytes m1, co_await read_handshake_frame(FrameType::kHello));
  CPIPE_CO_RETURN_IF_ERROR(responder_.read_hello(m1, *env_->random));
  Result<runtime::Evidence> own = co_await config_.provider->attest(responder_.own_attestation_request());
  if (!own.ok()) co_return own.status().with_context("own attestation");
  CPIPE_CO_ASSIGN_OR_RETURN(Bytes m2, responder_.write_responder_auth(*own));
  Status w = co_await stream_->write_all(m2);
  if (!w.ok()) co_return map_read_error(w, false);
  CPIPE_CO_ASSIGN_OR_RETURN(Bytes m3, co_await read_handshake_frame(FrameType::kInitiatorAuth));
  CPIPE_CO_RETURN_IF_ERROR(responder_.read_initiator_auth(m3));
  CPIPE_CO_RETURN_IF_ERROR(verify_peer(responder_.peer()));
  CPIPE_CO_RETURN_IF_ERROR(responder_.check_initiator_confirm());
  CPIPE_CO_ASSIGN_OR_RETURN(TrafficSecrets secrets, responder_.traffic_secrets());
  co_return install_keys(secrets);
}

runtime::Task<Result<Bytes>> SecureChannel::read_handshake_frame(FrameType expected) {
  Bytes frame(kFrameHeaderSize);
  CPIPE_CO_RETURN_IF_ERROR(co_await read_exact(frame, false));
  CPIPE_CO_ASSIGN_OR_RETURN(FrameHeader h,
                            check_handshake_header(frame, expected, config_.max_handshake_message));
  frame.resize(kFrameHeaderSize + h.length);
  CPIPE_CO_RETURN_IF_ERROR(co_await read_exact(MutableByteSpan(frame).subspan(kFrameHeaderSize), true));
  co_return frame;
}

Status SecureChannel::verify_peer(const PeerEvidence& peer) {
  runtime::VerifyContext ctx;
  ctx.now_unix_ms = env_->clock->wall_now().unix_ms();
  ctx.expect_public_key = peer.expect_public_key;
  ctx.expect_nonce = peer.expect_nonce;
  auto v = config_.verifier->verify(peer.evidence, ctx);
  if (!v.ok()) {
    ErrorCode code = v.code() == ErrorCode::ATTEST_BINDING_MISMATCH
                         ? ErrorCode::CHANNEL_BINDING_MISMATCH
                         : ErrorCode::CHANNEL_ATTESTATION_REJECTED;
    return make_error(code, "peer evidence (" + peer.evidence.platform + "): " + v.status().to_string());
  }
  // Defence in depth: never rely on a verifier to have enforced the bindings.
  if (!constant_time_equal(v->public_key, peer.expect_public_key) ||
      !constant_time_equal(v->nonce, peer.expect_nonce))
    return make_error(ErrorCode::CHANNEL_BINDING_MISMATCH,
                      "peer evidence binds another key or transcript");
  peer_evidence_ = std::move(*v);
  if (peer_evidence_.development_only)
    log_.warn("peer_attestation_development_only",
              {{"platform", peer_evidence_.platform},
               {"mode", "DEVELOPMENT-ONLY mock attestation: the peer is not proven to run in a TEE"}});
  return Status::Ok();
}

Status SecureChannel::install_keys(const TrafficSecrets& secrets) {
  bool init = role_ == Role::kInitiator;
  auto sealer = RecordSealer::create(init ? secrets.initiator_to_responder
                                          : secrets.responder_to_initiator);
  auto opener = RecordOpener::create(init ? secrets.responder_to_initiator
                                          : secrets.initiator_to_responder);
  if (!sealer.ok()) return sealer.status();
  if (!opener.ok()) return opener.status();
  sealer_.emplace(std::move(*sealer));
  opener_.emplace(std::move(*opener));
  opener_->set_max_records_per_key(config_.peer_max_records_per_key);
  transcript_hash_ = secrets.transcript_hash;
  initiator_.erase_secrets();
  responder_.erase_secrets();
  return Status::Ok();
}

// ---- records ----

runtime::Task<Status> SecureChannel::send(ByteSpan data) {
  ByteSpan parts[1] = {data};
  co_return co_await send_record(FrameType::kData, parts);
}

runtime::Task<Status> SecureChannel::send_parts(std::span<const ByteSpan> parts) {
  co_return co_await send_record(FrameType::kData, parts);
}

runtime::Task<Status> SecureChannel::send_tensor(const codec::TensorHeader& header, ByteSpan data) {
  if (!failure_.ok()) co_return closed_error();
  if (sending_) co_return make_error(ErrorCode::FAILED_PRECONDITION, "a send is already pending");
  tensor_header_buf_.clear();
  CPIPE_CO_RETURN_IF_ERROR(codec::encode_tensor_header(header, data.size(), tensor_header_buf_));
  ByteSpan parts[2] = {tensor_header_buf_, data};
  co_return co_await send_record(FrameType::kTensor, parts);
}

runtime::Task<Status> SecureChannel::send_record(FrameType type, std::span<const ByteSpan> parts) {
  if (!failure_.ok()) co_return closed_error();
  if (!sealer_) co_return make_error(ErrorCode::FAILED_PRECONDITION, "channel has no keys");
  if (sending_) co_return make_error(ErrorCode::FAILED_PRECONDITION, "a send is already pending");
  size_t payload = 0;
  for (ByteSpan p : parts) payload += p.size();
  if (payload > kMaxRecordPayload)
    co_return make_error(ErrorCode::CHANNEL_OVERSIZE,
                         "message of " + std::to_string(payload) + " bytes exceeds one record");
  BusyGuard busy(sending_);
  send_buf_.clear();
  runtime::MonoTime now = env_->clock->now();
  bool rekey = sealer_->records_under_key() >= config_.rekey_after_records ||
               (sealer_->bytes_under_key() > 0 &&
                sealer_->bytes_under_key() + payload > config_.rekey_after_bytes) ||
               now - send_key_since_ >= config_.rekey_after;
  if (rekey && type != FrameType::kClose) {
    Status s = sealer_->seal(FrameType::kRekey, {}, send_buf_);
    if (s.ok()) s = sealer_->rekey();
    if (!s.ok()) co_return fail(s);
    send_key_since_ = now;
    ++rekeys_sent_;
    log_.info("rekey_sent", {{"seq", std::to_string(sealer_->next_seq() - 1)}});
  }
  Status s = sealer_->seal(type, parts, send_buf_);
  if (!s.ok()) co_return fail(s);
  s = co_await stream_->write_all(send_buf_.span());
  if (!s.ok()) co_return fail(map_read_error(s, false));
  co_return Status::Ok();
}

runtime::Task<Result<Message>> SecureChannel::receive() {
  if (!failure_.ok()) co_return closed_error();
  if (!opener_) co_return make_error(ErrorCode::FAILED_PRECONDITION, "channel has no keys");
  if (receiving_) co_return make_error(ErrorCode::FAILED_PRECONDITION, "a receive is already pending");
  BusyGuard busy(receiving_);
  for (;;) {
    uint8_t hdr[kFrameHeaderSize];
    Status s = co_await read_exact(MutableByteSpan(hdr), false);
    if (!s.ok()) co_return fail(s);
    Result<FrameHeader> h = opener_->check_header(ByteSpan(hdr));
    if (!h.ok()) co_return fail(h.status());
    Message msg;
    msg.storage = std::make_unique_for_overwrite<uint8_t[]>(h->length);
    MutableByteSpan body(msg.storage.get(), h->length);
    s = co_await read_exact(body, true);
    if (!s.ok()) co_return fail(s);
    Result<MutableByteSpan> plain = opener_->open(ByteSpan(hdr), body);
    if (!plain.ok()) co_return fail(plain.status());
    switch (static_cast<FrameType>(h->type)) {
      case FrameType::kData:
        msg.kind = MessageKind::kData;
        msg.payload = *plain;
        co_return msg;
      case FrameType::kTensor: {
        auto view = codec::decode_tensor(*plain);
        if (!view.ok())
          co_return fail(make_error(ErrorCode::CHANNEL_BAD_TENSOR,
                                    "tensor record: " + view.status().to_string()));
        msg.kind = MessageKind::kTensor;
        msg.payload = *plain;
        msg.tensor = std::move(*view);
        co_return msg;
      }
      case FrameType::kRekey: {
        if (!plain->empty())
          co_return fail(make_error(ErrorCode::CHANNEL_BAD_MESSAGE, "rekey record with a payload"));
        Status r = opener_->rekey();
        if (!r.ok()) co_return fail(r);
        ++rekeys_received_;
        log_.info("rekey_received", {{"seq", std::to_string(opener_->next_seq() - 1)}});
        continue;
      }
      case FrameType::kClose:
        if (!plain->empty())
          co_return fail(make_error(ErrorCode::CHANNEL_BAD_MESSAGE, "close record with a payload"));
        co_return fail(make_error(ErrorCode::CHANNEL_PEER_CLOSED, "peer closed the channel"));
      default:
        co_return fail(make_error(ErrorCode::INTERNAL, "record type passed the check unhandled"));
    }
  }
}

runtime::Task<Status> SecureChannel::close() {
  if (!failure_.ok()) co_return Status::Ok();
  if (sealer_ && !sending_) {
    BusyGuard busy(sending_);
    send_buf_.clear();
    if (sealer_->seal(FrameType::kClose, {}, send_buf_).ok()) {
      Status s = co_await stream_->write_all(send_buf_.span());
      (void)s;  // best effort: the peer may be gone already
    }
  }
  if (failure_.ok()) {
    failure_ = make_error(ErrorCode::CHANNEL_CLOSED, "closed locally");
    log_.info("closed", {{"by", "local"}});
  }
  stream_->close();
  co_return Status::Ok();
}

void SecureChannel::abort() {
  if (failure_.ok()) (void)fail(make_error(ErrorCode::CHANNEL_CLOSED, "aborted locally"));
}

// ---- I/O helpers and failure ----

runtime::Task<Status> SecureChannel::read_exact(MutableByteSpan dst, bool frame_started) {
  size_t done = 0;
  while (done < dst.size()) {
    if (rpos_ < rend_) {
      size_t n = std::min(rend_ - rpos_, dst.size() - done);
      std::memcpy(dst.data() + done, rbuf_.get() + rpos_, n);
      rpos_ += n;
      done += n;
      continue;
    }
    size_t want = dst.size() - done;
    if (want >= kReadBufferSize) {  // large body: straight into its final place
      Result<size_t> n = co_await stream_->read_some(dst.subspan(done));
      if (!n.ok()) co_return map_read_error(n.status(), frame_started || done > 0);
      done += *n;
      continue;
    }
    Result<size_t> n = co_await stream_->read_some(MutableByteSpan(rbuf_.get(), kReadBufferSize));
    if (!n.ok()) co_return map_read_error(n.status(), frame_started || done > 0);
    rpos_ = 0;
    rend_ = *n;
  }
  co_return Status::Ok();
}

Status SecureChannel::map_read_error(const Status& s, bool frame_started) const {
  if (*handshake_timed_out_)
    return make_error(ErrorCode::CHANNEL_HANDSHAKE_TIMEOUT, "handshake did not finish in time");
  switch (s.code()) {
    case ErrorCode::TRANSPORT_CLOSED:
      return make_error(ErrorCode::CHANNEL_TRUNCATED,
                        frame_started ? "stream ended inside a frame"
                                      : "stream ended without an authenticated close");
    case ErrorCode::CANCELLED:
      return make_error(ErrorCode::CHANNEL_CLOSED, "stream closed locally");
    default:
      return s;
  }
}

Status SecureChannel::fail(Status status) {
  if (!failure_.ok()) return closed_error();
  failure_ = status;
  log_.warn("channel_failed", {{"role", std::string(role_name(role_))},
                               {"code", std::string(status.code_name())},
                               {"message", status.message()}});
  stream_->close();
  return status;
}

Status SecureChannel::closed_error() const {
  return make_error(ErrorCode::CHANNEL_CLOSED, "channel is closed: " + failure_.to_string());
}

}  // namespace cpipe::channel

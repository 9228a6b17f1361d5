// SecureChannel: the attested secure channel over a runtime::Stream (DESIGN.md "Security
// model", docs/protocol.md). A thin coroutine driver: the handshake logic is in handshake.h and
// the record protection in record_layer.h; this file moves frames, asks the attestation
// provider/verifier, enforces the handshake timeout and owns the "fail once, closed for good"
// rule: the first failure (bad tag, gap, replay, oversize, unknown type or flags, truncation,
// transport error) closes the stream, and every later send/receive returns CHANNEL_CLOSED while
// failure() keeps the original error.
//
// Concurrency: at most one send and one receive outstanding at a time (they may overlap). The
// channel object must outlive its pending operations.
#pragma once

#include <memory>
#include <optional>

#include "core/base/bytes.h"
#include "core/base/event.h"
#include "core/base/status.h"
#include "core/channel/handshake.h"
#include "core/channel/record_layer.h"
#include "core/codec/tensor_frame.h"
#include "core/runtime/attestation.h"
#include "core/runtime/env.h"
#include "core/runtime/transport.h"

namespace cpipe::channel {

struct ChannelConfig {
  // Our evidence (required) and the check of the peer's (required): attestation is mutual.
  runtime::AttestationProvider* provider = nullptr;
  const runtime::AttestationVerifier* verifier = nullptr;
  // The whole handshake (including attestation) must finish in this time (monotonic clock);
  // otherwise the stream is closed and the result is CHANNEL_HANDSHAKE_TIMEOUT.
  runtime::Duration handshake_timeout = std::chrono::seconds(10);
  size_t max_handshake_message = 64 * 1024;
  // Automatic key update before the sending key has sealed this many records or payload bytes,
  // or has been in use this long (whichever comes first).
  uint64_t rekey_after_records = uint64_t(1) << 24;
  uint64_t rekey_after_bytes = uint64_t(1) << 36;
  runtime::Duration rekey_after = std::chrono::hours(1);
  // Records accepted from the peer under one key before CHANNEL_REKEY_REQUIRED.
  uint64_t peer_max_records_per_key = uint64_t(1) << 32;
  std::string name = "channel";  // event component suffix: "channel.<name>"
};

enum class MessageKind { kData, kTensor };

// One received message. Its payload (and a tensor's data) point into `storage`, which the
// message owns, so they stay valid as long as the message (moves included).
struct Message {
  MessageKind kind = MessageKind::kData;
  std::unique_ptr<uint8_t[]> storage;
  ByteSpan payload;                      // data: the bytes; tensor: the encoded tensor frame
  std::optional<codec::TensorView> tensor;  // set for kTensor

  Bytes to_bytes() const { return Bytes(payload.begin(), payload.end()); }
};

class SecureChannel {
 public:
  enum class Role { kInitiator, kResponder };

  // Runs the handshake as initiator / responder over `stream`. `env` must outlive the channel.
  static runtime::Task<Result<std::unique_ptr<SecureChannel>>> connect(
      runtime::Env& env, std::shared_ptr<runtime::Stream> stream, ChannelConfig config);
  static runtime::Task<Result<std::unique_ptr<SecureChannel>>> accept(
      runtime::Env& env, std::shared_ptr<runtime::Stream> stream, ChannelConfig config);

  ~SecureChannel();
  SecureChannel(const SecureChannel&) = delete;
  SecureChannel& operator=(const SecureChannel&) = delete;

  runtime::Task<Status> send(ByteSpan data);
  // Sends one data message gathered from several spans (copied once, into the sealed record),
  // so an application header and a tensor need not be concatenated first.
  runtime::Task<Status> send_parts(std::span<const ByteSpan> parts);
  // Sends a tensor frame: the data span is copied once, into the sealed record.
  runtime::Task<Status> send_tensor(const codec::TensorHeader& header, ByteSpan data);
  // The next data or tensor message. Rekey records are handled here. A close record from the
  // peer gives CHANNEL_PEER_CLOSED once, then CHANNEL_CLOSED.
  runtime::Task<Result<Message>> receive();
  // Sends an authenticated close record (best effort) and closes the stream.
  runtime::Task<Status> close();
  // Closes the stream without a close record.
  void abort();

  bool is_open() const { return failure_.ok(); }
  // The error that closed the channel (OK while open).
  const Status& failure() const { return failure_; }
  const runtime::VerifiedEvidence& peer_evidence() const { return peer_evidence_; }
  // SHA-256 of the handshake transcript: a channel binding for application protocols.
  const Bytes& transcript_hash() const { return transcript_hash_; }
  Role role() const { return role_; }
  uint64_t records_sent() const { return sealer_ ? sealer_->next_seq() : 0; }
  uint64_t records_received() const { return opener_ ? opener_->next_seq() : 0; }
  uint64_t rekeys_sent() const { return rekeys_sent_; }
  uint64_t rekeys_received() const { return rekeys_received_; }

 private:
  SecureChannel(runtime::Env& env, std::shared_ptr<runtime::Stream> stream, ChannelConfig config,
                Role role);

  runtime::Task<Status> run_initiator();
  runtime::Task<Status> run_responder();
  runtime::Task<Status> handshake();
  runtime::Task<Result<Bytes>> read_handshake_frame(FrameType expected);
  Status verify_peer(const PeerEvidence& peer);
  Status install_keys(const TrafficSecrets& secrets);

  runtime::Task<Status> send_record(FrameType type, std::span<const ByteSpan> parts);
  // Reads exactly dst.size() bytes through the read buffer; `frame_started` picks the EOF text.
  runtime::Task<Status> read_exact(MutableByteSpan dst, bool frame_started);
  Status fail(Status status);
  Status closed_error() const;
  Status map_read_error(const Status& s, bool frame_started) const;

  runtime::Env* env_;
  std::shared_ptr<runtime::Stream> stream_;
  ChannelConfig config_;
  Role role_;
  Logger log_;
  Status failure_;
  bool peer_closed_reported_ = false;
  std::shared_ptr<bool> handshake_timed_out_ = std::make_shared<bool>(false);

  InitiatorHandshake initiator_;
  ResponderHandshake responder_;
  runtime::VerifiedEvidence peer_evidence_;
  Bytes transcript_hash_;

  std::optional<RecordSealer> sealer_;
  std::optional<RecordOpener> opener_;
  runtime::MonoTime send_key_since_;
  uint64_t rekeys_sent_ = 0;
  uint64_t rekeys_received_ = 0;
  bool sending_ = false;
  bool receiving_ = false;
  RecordBuffer send_buf_;
  Bytes tensor_header_buf_;

  // Buffered reading: small records come in one read_some; large bodies bypass the buffer.
  std::unique_ptr<uint8_t[]> rbuf_;
  size_t rpos_ = 0;
  size_t rend_ = 0;
};

}  // namespace cpipe::channel

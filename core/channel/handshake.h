// The handshake, sans IO: message encoding/parsing, the transcript and the key schedule
// (docs/protocol.md, "Handshake" and "Key schedule"). The coroutine driver (secure_channel.cc)
// moves the frames and asks the attestation provider/verifier; everything that decides whether
// bytes are acceptable is here, so it is testable byte by byte.
//
//   M1 = hdr(0x01) || "CPSC" || version u16 || suite u16 || e_i || n_i
//   M2 = hdr(0x02) || e_r || n_r || evidence(e_r, nonce = h1) || mac_r
//   M3 = hdr(0x03) || evidence(e_i, nonce = SHA-256(M1 || M2)) || mac_i
//   h1 = SHA-256(M1 || e_r || n_r)
//   hs = HKDF-Extract(salt = h1, ikm = X25519(e_i, e_r))
//   mac_r = HMAC(Expand(hs, "cpipe-sc1 confirm r2i"), SHA-256(M1 || M2 without mac_r))
//   mac_i = HMAC(Expand(hs, "cpipe-sc1 confirm i2r"), SHA-256(M1 || M2 || M3 without mac_i))
//   ms = HKDF-Extract(salt = SHA-256(M1 || M2 || M3), ikm = hs)
//   traffic secrets = Expand(ms, "cpipe-sc1 traffic i2r" / "cpipe-sc1 traffic r2i")
#pragma once

#include <array>
#include <optional>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/channel/frame.h"
#include "core/crypto/x25519.h"
#include "core/runtime/attestation.h"
#include "core/runtime/random.h"

namespace cpipe::channel {

inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr uint16_t kSuiteX25519ChaChaPolySha256 = 1;
inline constexpr size_t kHelloBodySize = 4 + 2 + 2 + 32 + 32;
inline constexpr size_t kMacSize = 32;

struct TrafficSecrets {
  Bytes initiator_to_responder;
  Bytes responder_to_initiator;
  Bytes transcript_hash;  // SHA-256(M1 || M2 || M3): a channel binding for applications

  TrafficSecrets() = default;
  TrafficSecrets(const TrafficSecrets&) = default;
  TrafficSecrets& operator=(const TrafficSecrets&) = default;
  ~TrafficSecrets() {
    secure_zero(initiator_to_responder);
    secure_zero(responder_to_initiator);
  }
};

// Checks a handshake frame header before its body is read: expected type (CHANNEL_UNKNOWN_TYPE
// for a type that is no handshake type, CHANNEL_BAD_MESSAGE for the wrong one), zero
// flags/reserved (CHANNEL_BAD_FLAGS), sequence 0 (CHANNEL_BAD_MESSAGE), length at most
// `max_length` (CHANNEL_OVERSIZE), and M1's fixed length (CHANNEL_BAD_MESSAGE).
Result<FrameHeader> check_handshake_header(ByteSpan header, FrameType expected, size_t max_length);

// What the peer's evidence must bind; the driver hands it to the verifier.
struct PeerEvidence {
  runtime::Evidence evidence;
  Bytes expect_public_key;
  Bytes expect_nonce;
};

class InitiatorHandshake {
 public:
  InitiatorHandshake() = default;
  InitiatorHandshake(const InitiatorHandshake&) = default;
  InitiatorHandshake& operator=(const InitiatorHandshake&) = default;
  ~InitiatorHandshake() { erase_secrets(); }
  // Wipes the handshake secret (the driver calls it once the traffic keys are installed).
  void erase_secrets() { secure_zero(hs_); }

  // M1 (full frame).
  Bytes write_hello(runtime::Random& random);
  // Parses M2 and derives the handshake secret. CHANNEL_BAD_MESSAGE when malformed,
  // CHANNEL_WEAK_KEY for a low-order e_r.
  Status read_responder_auth(ByteSpan m2_frame);
  const PeerEvidence& peer() const { return peer_; }
  // CHANNEL_CONFIRM_FAILED unless mac_r is right (call after the evidence verified).
  Status check_responder_confirm() const;
  // What our own evidence must bind.
  runtime::AttestationRequest own_attestation_request() const;
  // M3 with our evidence, and the traffic secrets.
  Result<Bytes> write_initiator_auth(const runtime::Evidence& own);
  Result<TrafficSecrets> traffic_secrets() const;

 private:
  crypto::X25519KeyPair e_;
  Bytes m1_, m2_, m3_;
  Bytes hs_;
  Bytes mac_r_expected_;
  Bytes mac_r_;
  PeerEvidence peer_;
};

class ResponderHandshake {
 public:
  ResponderHandshake() = default;
  ResponderHandshake(const ResponderHandshake&) = default;
  ResponderHandshake& operator=(const ResponderHandshake&) = default;
  ~ResponderHandshake() { erase_secrets(); }
  // Wipes the handshake secret (the driver calls it once the traffic keys are installed).
  void erase_secrets() { secure_zero(hs_); }

  // Parses M1 (CHANNEL_BAD_MESSAGE, CHANNEL_VERSION_MISMATCH), draws e_r and n_r and derives
  // the handshake secret (CHANNEL_WEAK_KEY for a low-order e_i).
  Status read_hello(ByteSpan m1_frame, runtime::Random& random);
  runtime::AttestationRequest own_attestation_request() const;
  Result<Bytes> write_responder_auth(const runtime::Evidence& own);
  // Parses M3 (CHANNEL_BAD_MESSAGE).
  Status read_initiator_auth(ByteSpan m3_frame);
  const PeerEvidence& peer() const { return peer_; }
  Status check_initiator_confirm() const;
  Result<TrafficSecrets> traffic_secrets() const;

 private:
  crypto::X25519KeyPair e_;
  std::array<uint8_t, 32> n_r_{};
  Bytes e_i_;
  Bytes m1_, m2_, m3_;
  Bytes h1_;
  Bytes hs_;
  Bytes mac_i_expected_;
  Bytes mac_i_;
  PeerEvidence peer_;
};

// Evidence as carried in M2/M3: platform (u16 length + bytes) and document (u32 length + bytes).
void encode_evidence(const runtime::Evidence& ev, Bytes& out);

}  // namespace cpipe::channel

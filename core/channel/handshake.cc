// Handshake messages, transcript hashes and the key schedule (see handshake.h).
#include "core/channel/handshake.h"

#include <cstring>

#include "core/crypto/hash.h"
#include "core/crypto/hkdf.h"

namespace cpipe::channel {
namespace {

constexpr uint8_t kMagic[4] = {'C', 'P', 'S', 'C'};
constexpr size_t kMaxPlatformSize = 64;

Status bad_message(std::string why) {
  return make_error(ErrorCode::CHANNEL_BAD_MESSAGE, std::move(why));
}

Bytes hash_of(std::initializer_list<ByteSpan> parts) {
  crypto::Sha256 h;
  for (ByteSpan p : parts) h.update(p);
  return h.finish();
}

Bytes frame(FrameType type, ByteSpan body) {
  Bytes out;
  out.reserve(kFrameHeaderSize + body.size());
  out.resize(kFrameHeaderSize);
  FrameHeader h;
  h.type = static_cast<uint8_t>(type);
  h.length = static_cast<uint32_t>(body.size());
  encode_frame_header(h, out.data());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<Bytes> shared_secret_checked(ByteSpan priv, ByteSpan peer_pub) {
  auto ss = crypto::x25519_shared(priv, peer_pub);
  if (!ss.ok()) {
    if (ss.code() == ErrorCode::CRYPTO_WEAK_KEY)
      return make_error(ErrorCode::CHANNEL_WEAK_KEY, "peer ephemeral key is low-order");
    return make_error(ErrorCode::CHANNEL_BAD_MESSAGE, "peer ephemeral key: " + ss.status().message());
  }
  return ss;
}

Result<Bytes> expand(ByteSpan prk, std::string_view label) {
  return crypto::hkdf_expand(prk, as_bytes(label), 32);
}

// Parses platform + document from `r`; the rest must be exactly the MAC.
Status read_evidence_and_mac(ByteReader& r, runtime::Evidence& ev, Bytes& mac) {
  auto platform = r.var16();
  if (!platform.ok()) return bad_message("evidence platform truncated");
  if (platform->size() > kMaxPlatformSize) return bad_message("evidence platform name too long");
  auto doc = r.var32(r.remaining());
  if (!doc.ok()) return bad_message("evidence document truncated");
  auto m = r.raw(kMacSize);
  if (!m.ok()) return bad_message("confirmation MAC truncated");
  if (!r.empty()) return bad_message("bytes after the confirmation MAC");
  ev.platform = to_string(*platform);
  ev.document.assign(doc->begin(), doc->end());
  mac.assign(m->begin(), m->end());
  return Status::Ok();
}

Result<TrafficSecrets> derive_traffic(ByteSpan hs, ByteSpan m1, ByteSpan m2, ByteSpan m3) {
  TrafficSecrets t;
  t.transcript_hash = hash_of({m1, m2, m3});
  Bytes ms = crypto::hkdf_extract(t.transcript_hash, hs);
  CPIPE_ASSIGN_OR_RETURN(t.initiator_to_responder, expand(ms, "cpipe-sc1 traffic i2r"));
  CPIPE_ASSIGN_OR_RETURN(t.responder_to_initiator, expand(ms, "cpipe-sc1 traffic r2i"));
  secure_zero(ms);
  return t;
}

}  // namespace

void encode_evidence(const runtime::Evidence& ev, Bytes& out) {
  ByteWriter w(out);
  w.var16(as_bytes(ev.platform));
  w.var32(ev.document);
}

Result<FrameHeader> check_handshake_header(ByteSpan header, FrameType expected, size_t max_length) {
  if (header.size() != kFrameHeaderSize)
    return make_error(ErrorCode::INTERNAL, "handshake header must be 16 bytes");
  FrameHeader h = decode_frame_header(header.data());
  if (!is_handshake_type(h.type) && !is_record_type(h.type))
    return make_error(ErrorCode::CHANNEL_UNKNOWN_TYPE,
                      "frame type 0x" + hex_encode(ByteSpan(&h.type, 1)) + " is unknown");
  if (h.type != static_cast<uint8_t>(expected))
    return bad_message("expected handshake message 0x" +
                       hex_encode(ByteSpan(reinterpret_cast<const uint8_t*>(&expected), 1)) +
                       ", got 0x" + hex_encode(ByteSpan(&h.type, 1)));
  if (h.flags != 0 || h.reserved != 0)
    return make_error(ErrorCode::CHANNEL_BAD_FLAGS, "handshake flags/reserved bits are not zero");
  if (h.seq != 0) return bad_message("handshake message with a nonzero sequence number");
  if (h.length > max_length)
    return make_error(ErrorCode::CHANNEL_OVERSIZE, "handshake message of " +
                                                       std::to_string(h.length) +
                                                       " bytes exceeds the limit");
  if (expected == FrameType::kHello && h.length != kHelloBodySize)
    return bad_message("hello has length " + std::to_string(h.length));
  return h;
}

// ---- initiator ----

Bytes InitiatorHandshake::write_hello(runtime::Random& random) {
  e_ = crypto::x25519_generate(random);
  Bytes body;
  body.reserve(kHelloBodySize);
  ByteWriter w(body);
  w.raw(ByteSpan(kMagic));
  w.u16_be(kProtocolVersion);
  w.u16_be(kSuiteX25519ChaChaPolySha256);
  w.raw(e_.public_key);
  w.raw(random.bytes(32));
  m1_ = frame(FrameType::kHello, body);
  return m1_;
}

Status InitiatorHandshake::read_responder_auth(ByteSpan m2_frame) {
  if (m2_frame.size() < kFrameHeaderSize) return bad_message("M2 shorter than a header");
  ByteReader r(m2_frame.subspan(kFrameHeaderSize));
  auto e_r = r.raw(32);
  auto n_r = e_r.ok() ? r.raw(32) : e_r;
  if (!n_r.ok()) return bad_message("M2 truncated");
  CPIPE_RETURN_IF_ERROR(read_evidence_and_mac(r, peer_.evidence, mac_r_));
  m2_.assign(m2_frame.begin(), m2_frame.end());
  Bytes h1 = hash_of({m1_, *e_r, *n_r});
  CPIPE_ASSIGN_OR_RETURN(Bytes ss, shared_secret_checked(e_.private_key, *e_r));
  hs_ = crypto::hkdf_extract(h1, ss);
  secure_zero(ss);
  peer_.expect_public_key.assign(e_r->begin(), e_r->end());
  peer_.expect_nonce = h1;
  CPIPE_ASSIGN_OR_RETURN(Bytes k_r, expand(hs_, "cpipe-sc1 confirm r2i"));
  mac_r_expected_ =
      crypto::hmac_sha256(k_r, hash_of({m1_, ByteSpan(m2_).first(m2_.size() - kMacSize)}));
  secure_zero(k_r);
  return Status::Ok();
}

Status InitiatorHandshake::check_responder_confirm() const {
  if (mac_r_expected_.empty() || !constant_time_equal(mac_r_expected_, mac_r_))
    return make_error(ErrorCode::CHANNEL_CONFIRM_FAILED, "responder key confirmation failed");
  return Status::Ok();
}

runtime::AttestationRequest InitiatorHandshake::own_attestation_request() const {
  runtime::AttestationRequest req;
  req.public_key.assign(e_.public_key.begin(), e_.public_key.end());
  req.nonce = hash_of({m1_, m2_});
  return req;
}

Result<Bytes> InitiatorHandshake::write_initiator_auth(const runtime::Evidence& own) {
  if (hs_.empty()) return make_error(ErrorCode::INTERNAL, "M3 before M2");
  Bytes body;
  body.reserve(6 + own.platform.size() + own.document.size() + kMacSize);
  encode_evidence(own, body);
  body.resize(body.size() + kMacSize);
  m3_ = frame(FrameType::kInitiatorAuth, body);
  CPIPE_ASSIGN_OR_RETURN(Bytes k_i, expand(hs_, "cpipe-sc1 confirm i2r"));
  Bytes mac = crypto::hmac_sha256(k_i, hash_of({m1_, m2_, ByteSpan(m3_).first(m3_.size() - kMacSize)}));
  secure_zero(k_i);
  std::memcpy(m3_.data() + m3_.size() - kMacSize, mac.data(), kMacSize);
  return m3_;
}

Result<TrafficSecrets> InitiatorHandshake::traffic_secrets() const {
  if (m3_.empty()) return make_error(ErrorCode::INTERNAL, "traffic secrets before M3");
  return derive_traffic(hs_, m1_, m2_, m3_);
}

// ---- responder ----

Status ResponderHandshake::read_hello(ByteSpan m1_frame, runtime::Random& random) {
  if (m1_frame.size() != kFrameHeaderSize + kHelloBodySize) return bad_message("M1 has the wrong size");
  const uint8_t* b = m1_frame.data() + kFrameHeaderSize;
  if (std::memcmp(b, kMagic, 4) != 0) return bad_message("M1 magic is not CPSC");
  uint16_t version = load_u16_be(b + 4);
  uint16_t suite = load_u16_be(b + 6);
  if (version != kProtocolVersion)
    return make_error(ErrorCode::CHANNEL_VERSION_MISMATCH,
                      "peer speaks version " + std::to_string(version) + ", we speak 1");
  if (suite != kSuiteX25519ChaChaPolySha256)
    return make_error(ErrorCode::CHANNEL_VERSION_MISMATCH,
                      "peer offers suite " + std::to_string(suite) + ", we support 1");
  m1_.assign(m1_frame.begin(), m1_frame.end());
  e_i_.assign(b + 8, b + 40);
  e_ = crypto::x25519_generate(random);
  random.fill(n_r_);
  h1_ = hash_of({m1_, e_.public_key, n_r_});
  CPIPE_ASSIGN_OR_RETURN(Bytes ss, shared_secret_checked(e_.private_key, e_i_));
  hs_ = crypto::hkdf_extract(h1_, ss);
  secure_zero(ss);
  return Status::Ok();
}

runtime::AttestationRequest ResponderHandshake::own_attestation_request() const {
  runtime::AttestationRequest req;
  req.public_key.assign(e_.public_key.begin(), e_.public_key.end());
  req.nonce = h1_;
  return req;
}

Result<Bytes> ResponderHandshake::write_responder_auth(const runtime::Evidence& own) {
  if (hs_.empty()) return make_error(ErrorCode::INTERNAL, "M2 before M1");
  Bytes body(e_.public_key.begin(), e_.public_key.end());
  body.reserve(64 + 6 + own.platform.size() + own.document.size() + kMacSize);
  ByteWriter w(body);
  w.raw(n_r_);
  encode_evidence(own, body);
  body.resize(body.size() + kMacSize);
  m2_ = frame(FrameType::kResponderAuth, body);
  CPIPE_ASSIGN_OR_RETURN(Bytes k_r, expand(hs_, "cpipe-sc1 confirm r2i"));
  Bytes mac = crypto::hmac_sha256(k_r, hash_of({m1_, ByteSpan(m2_).first(m2_.size() - kMacSize)}));
  secure_zero(k_r);
  std::memcpy(m2_.data() + m2_.size() - kMacSize, mac.data(), kMacSize);
  return m2_;
}

Status ResponderHandshake::read_initiator_auth(ByteSpan m3_frame) {
  if (m2_.empty()) return make_error(ErrorCode::INTERNAL, "M3 before M2");
  if (m3_frame.size() < kFrameHeaderSize) return bad_message("M3 shorter than a header");
  ByteReader r(m3_frame.subspan(kFrameHeaderSize));
  CPIPE_RETURN_IF_ERROR(read_evidence_and_mac(r, peer_.evidence, mac_i_));
  m3_.assign(m3_frame.begin(), m3_frame.end());
  peer_.expect_public_key = e_i_;
  peer_.expect_nonce = hash_of({m1_, m2_});
  CPIPE_ASSIGN_OR_RETURN(Bytes k_i, expand(hs_, "cpipe-sc1 confirm i2r"));
  mac_i_expected_ = crypto::hmac_sha256(
      k_i, hash_of({m1_, m2_, ByteSpan(m3_).first(m3_.size() - kMacSize)}));
  secure_zero(k_i);
  return Status::Ok();
}

Status ResponderHandshake::check_initiator_confirm() const {
  if (mac_i_expected_.empty() || !constant_time_equal(mac_i_expected_, mac_i_))
    return make_error(ErrorCode::CHANNEL_CONFIRM_FAILED, "initiator key confirmation failed");
  return Status::Ok();
}

Result<TrafficSecrets> ResponderHandshake::traffic_secrets() const {
  if (m3_.empty()) return make_error(ErrorCode::INTERNAL, "traffic secrets before M3");
  return derive_traffic(hs_, m1_, m2_, m3_);
}

}  // namespace cpipe::channel

// Record sealing/opening and the per-direction key update.
#include "core/channel/record_layer.h"

#include <cstring>

#include "core/crypto/hkdf.h"

namespace cpipe::channel {
namespace {

void make_nonce(const DirectionKeys& keys, uint64_t seq, uint8_t* nonce) {
  std::memcpy(nonce, keys.iv.data(), keys.iv.size());
  for (int i = 0; i < 8; ++i) nonce[4 + i] ^= uint8_t(seq >> (56 - 8 * i));
}

}  // namespace

uint8_t* RecordBuffer::grow(size_t n) {
  if (size_ + n > capacity_) {
    size_t cap = std::max(size_ + n, capacity_ * 2);
    auto fresh = std::make_unique_for_overwrite<uint8_t[]>(cap);
    if (size_) std::memcpy(fresh.get(), data_.get(), size_);
    data_ = std::move(fresh);
    capacity_ = cap;
  }
  uint8_t* at = data_.get() + size_;
  size_ += n;
  return at;
}

Result<DirectionKeys> derive_direction_keys(ByteSpan secret) {
  DirectionKeys k;
  CPIPE_ASSIGN_OR_RETURN(Bytes key, crypto::hkdf_expand(secret, as_bytes("cpipe-sc1 key"), k.key.size()));
  CPIPE_ASSIGN_OR_RETURN(Bytes iv, crypto::hkdf_expand(secret, as_bytes("cpipe-sc1 iv"), k.iv.size()));
  std::memcpy(k.key.data(), key.data(), k.key.size());
  std::memcpy(k.iv.data(), iv.data(), k.iv.size());
  secure_zero(key);
  return k;
}

Result<Bytes> next_traffic_secret(ByteSpan secret) {
  return crypto::hkdf_expand(secret, as_bytes("cpipe-sc1 rekey"), kSecretSize);
}

Result<TrafficKey> TrafficKey::create(ByteSpan traffic_secret) {
  if (traffic_secret.size() != kSecretSize)
    return make_error(ErrorCode::INTERNAL, "traffic secret must be 32 bytes");
  CPIPE_ASSIGN_OR_RETURN(DirectionKeys keys, derive_direction_keys(traffic_secret));
  CPIPE_ASSIGN_OR_RETURN(crypto::ChaCha20Poly1305 aead, crypto::ChaCha20Poly1305::create(keys.key));
  return TrafficKey(Bytes(traffic_secret.begin(), traffic_secret.end()), keys, std::move(aead));
}

Status TrafficKey::advance() {
  CPIPE_ASSIGN_OR_RETURN(Bytes next, next_traffic_secret(secret_));
  CPIPE_ASSIGN_OR_RETURN(TrafficKey stepped, create(next));
  secure_zero(next);
  // Move assignment would free the old secret unwiped, so wipe it first.
  secure_zero(secret_);
  secure_zero(keys_.key);
  *this = std::move(stepped);  // the moved-from `stepped` wipes what it still holds
  return Status::Ok();
}

void TrafficKey::nonce(uint64_t seq, uint8_t out[crypto::kAeadNonceSize]) const {
  make_nonce(keys_, seq, out);
}

Result<RecordSealer> RecordSealer::create(ByteSpan traffic_secret) {
  CPIPE_ASSIGN_OR_RETURN(TrafficKey key, TrafficKey::create(traffic_secret));
  return RecordSealer(std::move(key));
}

Status RecordSealer::seal(FrameType type, std::span<const ByteSpan> parts, RecordBuffer& out) {
  size_t payload = 0;
  for (ByteSpan p : parts) payload += p.size();
  if (payload > kMaxRecordPayload)
    return make_error(ErrorCode::CHANNEL_OVERSIZE,
                      "record payload of " + std::to_string(payload) + " bytes exceeds 32 MiB");
  uint8_t* rec = out.grow(kFrameHeaderSize + payload + kTagSize);
  FrameHeader h;
  h.type = static_cast<uint8_t>(type);
  h.seq = seq_;
  h.length = static_cast<uint32_t>(payload + kTagSize);
  encode_frame_header(h, rec);
  uint8_t* body = rec + kFrameHeaderSize;
  for (ByteSpan p : parts) {
    if (!p.empty()) std::memcpy(body, p.data(), p.size());
    body += p.size();
  }
  uint8_t nonce[crypto::kAeadNonceSize];
  key_.nonce(seq_, nonce);
  CPIPE_RETURN_IF_ERROR(key_.aead().seal_in_place(ByteSpan(nonce), ByteSpan(rec, kFrameHeaderSize),
                                            MutableByteSpan(rec + kFrameHeaderSize, payload),
                                            MutableByteSpan(body, kTagSize)));
  ++seq_;
  ++records_under_key_;
  bytes_under_key_ += payload;
  return Status::Ok();
}

Status RecordSealer::rekey() {
  CPIPE_RETURN_IF_ERROR(key_.advance());
  records_under_key_ = 0;
  bytes_under_key_ = 0;
  return Status::Ok();
}

Result<RecordOpener> RecordOpener::create(ByteSpan traffic_secret) {
  CPIPE_ASSIGN_OR_RETURN(TrafficKey key, TrafficKey::create(traffic_secret));
  return RecordOpener(std::move(key));
}

Result<FrameHeader> RecordOpener::check_header(ByteSpan header) const {
  if (header.size() != kFrameHeaderSize)
    return make_error(ErrorCode::INTERNAL, "record header must be 16 bytes");
  FrameHeader h = decode_frame_header(header.data());
  if (!is_record_type(h.type))
    return make_error(ErrorCode::CHANNEL_UNKNOWN_TYPE,
                      "record type 0x" + hex_encode(ByteSpan(&h.type, 1)) + " is not a record type");
  if (h.flags != 0 || h.reserved != 0)
    return make_error(ErrorCode::CHANNEL_BAD_FLAGS, "record flags/reserved bits are not zero");
  if (h.length > kMaxRecordLength)
    return make_error(ErrorCode::CHANNEL_OVERSIZE,
                      "record length " + std::to_string(h.length) + " exceeds 32 MiB");
  if (h.length < kTagSize)
    return make_error(ErrorCode::CHANNEL_BAD_MESSAGE, "record shorter than its tag");
  if (h.seq > seq_)
    return make_error(ErrorCode::CHANNEL_SEQUENCE_GAP, "record " + std::to_string(h.seq) +
                                                           " arrived, expected " +
                                                           std::to_string(seq_));
  if (h.seq < seq_)
    return make_error(ErrorCode::CHANNEL_REPLAY, "record " + std::to_string(h.seq) +
                                                     " already seen (expected " +
                                                     std::to_string(seq_) + ")");
  if (records_under_key_ >= max_records_per_key_)
    return make_error(ErrorCode::CHANNEL_REKEY_REQUIRED,
                      "peer exceeded the record budget of one key without rekeying");
  return h;
}

Result<MutableByteSpan> RecordOpener::open(ByteSpan header, MutableByteSpan body) {
  FrameHeader h = decode_frame_header(header.data());
  if (h.seq != seq_ || body.size() != h.length || body.size() < kTagSize)
    return make_error(ErrorCode::INTERNAL, "open() without a checked header");
  size_t n = body.size() - kTagSize;
  uint8_t nonce[crypto::kAeadNonceSize];
  key_.nonce(seq_, nonce);
  Status s = key_.aead().open_in_place(ByteSpan(nonce), header, body.first(n), body.subspan(n));
  if (!s.ok())
    return make_error(ErrorCode::CHANNEL_BAD_TAG,
                      "record " + std::to_string(seq_) + " failed authentication");
  ++seq_;
  ++records_under_key_;
  return body.first(n);
}

Status RecordOpener::rekey() {
  CPIPE_RETURN_IF_ERROR(key_.advance());
  records_under_key_ = 0;
  return Status::Ok();
}

}  // namespace cpipe::channel

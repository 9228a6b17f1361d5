// The record layer, sans IO: seals records into a caller-owned buffer and opens them in place.
// One RecordSealer per sending direction, one RecordOpener per receiving direction. Each holds
// the direction's traffic secret, derives key and IV from it, and numbers records strictly
// consecutively from 0; the AEAD nonce is IV XOR the sequence number (TLS 1.3 style), the AAD is
// the 16-byte frame header. rekey() replaces the secret by HKDF-Expand(secret, "rekey").
//
// Performance contract (the relay between stages lives on this path): no allocation per record
// beyond growing the caller's buffer, the payload is copied once (into the output buffer) and
// encrypted there in place, and opening decrypts in place.
#pragma once

#include <array>
#include <memory>
#include <span>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/channel/frame.h"
#include "core/crypto/aead.h"

namespace cpipe::channel {

inline constexpr size_t kSecretSize = 32;

// A growable byte buffer that does not zero-fill what it grows (std::vector would, per record).
class RecordBuffer {
 public:
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  void clear() { size_ = 0; }
  // Appends n uninitialised bytes and returns where they start.
  uint8_t* grow(size_t n);
  ByteSpan span() const { return ByteSpan(data_.get(), size_); }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// Direction key material derived from a traffic secret.
struct DirectionKeys {
  std::array<uint8_t, crypto::kAeadKeySize> key{};
  std::array<uint8_t, crypto::kAeadNonceSize> iv{};
};
Result<DirectionKeys> derive_direction_keys(ByteSpan secret);
Result<Bytes> next_traffic_secret(ByteSpan secret);

// One direction's current key: its traffic secret, the AEAD keyed from it and the IV. The two
// ends of a direction each hold one and step it forward together on a rekey record.
class TrafficKey {
 public:
  // INTERNAL unless the secret is 32 bytes.
  static Result<TrafficKey> create(ByteSpan traffic_secret);
  TrafficKey(TrafficKey&&) noexcept = default;
  TrafficKey& operator=(TrafficKey&&) noexcept = default;
  ~TrafficKey() {
    secure_zero(secret_);
    secure_zero(keys_.key);
  }
  // Switches to next_traffic_secret(secret) and wipes the old one.
  Status advance();
  // The record nonce for `seq`: IV XOR the big-endian sequence number.
  void nonce(uint64_t seq, uint8_t out[crypto::kAeadNonceSize]) const;
  crypto::ChaCha20Poly1305& aead() { return aead_; }

 private:
  TrafficKey(Bytes secret, DirectionKeys keys, crypto::ChaCha20Poly1305 aead)
      : secret_(std::move(secret)), keys_(keys), aead_(std::move(aead)) {}
  Bytes secret_;
  DirectionKeys keys_;
  crypto::ChaCha20Poly1305 aead_;
};

class RecordSealer {
 public:
  static Result<RecordSealer> create(ByteSpan traffic_secret);
  RecordSealer(RecordSealer&&) noexcept = default;
  RecordSealer& operator=(RecordSealer&&) noexcept = default;

  // Appends one record of `type` carrying the concatenation of `parts` to `out`. The parts are
  // copied once and encrypted in place. CHANNEL_OVERSIZE when the payload exceeds 32 MiB - 16.
  Status seal(FrameType type, std::span<const ByteSpan> parts, RecordBuffer& out);
  // Switches to the next secret (call right after sealing a kRekey record).
  Status rekey();

  uint64_t next_seq() const { return seq_; }
  uint64_t records_under_key() const { return records_under_key_; }
  uint64_t bytes_under_key() const { return bytes_under_key_; }

 private:
  explicit RecordSealer(TrafficKey key) : key_(std::move(key)) {}
  TrafficKey key_;
  uint64_t seq_ = 0;
  uint64_t records_under_key_ = 0;
  uint64_t bytes_under_key_ = 0;
};

class RecordOpener {
 public:
  static Result<RecordOpener> create(ByteSpan traffic_secret);
  RecordOpener(RecordOpener&&) noexcept = default;
  RecordOpener& operator=(RecordOpener&&) noexcept = default;

  // Checks a received header before its body is read, in this order: type
  // (CHANNEL_UNKNOWN_TYPE), flags/reserved (CHANNEL_BAD_FLAGS), length (CHANNEL_OVERSIZE above
  // 32 MiB, CHANNEL_BAD_MESSAGE below the tag size), sequence number (CHANNEL_SEQUENCE_GAP when
  // ahead, CHANNEL_REPLAY when behind), then the per-key record budget (CHANNEL_REKEY_REQUIRED).
  Result<FrameHeader> check_header(ByteSpan header) const;
  // Authenticates and decrypts `body` (length bytes: ciphertext || tag) in place; returns the
  // plaintext (a prefix of body). CHANNEL_BAD_TAG on failure. Advances the sequence number.
  Result<MutableByteSpan> open(ByteSpan header, MutableByteSpan body);
  Status rekey();

  uint64_t next_seq() const { return seq_; }
  // Records accepted under one key before CHANNEL_REKEY_REQUIRED (default 2^32).
  void set_max_records_per_key(uint64_t n) { max_records_per_key_ = n; }

 private:
  explicit RecordOpener(TrafficKey key) : key_(std::move(key)) {}
  TrafficKey key_;
  uint64_t seq_ = 0;
  uint64_t records_under_key_ = 0;
  uint64_t max_records_per_key_ = uint64_t(1) << 32;
};

}  // namespace cpipe::channel

// The frame header every secure-channel frame starts with, handshake messages and records alike
// (docs/protocol.md, "Frames"): type, flags, reserved, sequence number, body length. It travels
// in clear — the relay can see frame boundaries — and for records it is the AEAD's AAD, so any
// change to it is detected.
#pragma once

#include <cstdint>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::channel {

inline constexpr size_t kFrameHeaderSize = 16;
inline constexpr uint32_t kMaxRecordLength = 32u * 1024 * 1024;  // body incl. tag
inline constexpr size_t kTagSize = 16;
inline constexpr size_t kMaxRecordPayload = kMaxRecordLength - kTagSize;

enum class FrameType : uint8_t {
  kHello = 0x01,         // M1, initiator -> responder
  kResponderAuth = 0x02, // M2, responder -> initiator
  kInitiatorAuth = 0x03, // M3, initiator -> responder
  kData = 0x10,
  kTensor = 0x11,
  kRekey = 0x12,
  kClose = 0x13,
};

bool is_handshake_type(uint8_t type);
bool is_record_type(uint8_t type);

struct FrameHeader {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint16_t reserved = 0;
  uint64_t seq = 0;
  uint32_t length = 0;  // body bytes after the header
};

void encode_frame_header(const FrameHeader& h, uint8_t* out);  // writes 16 bytes
FrameHeader decode_frame_header(const uint8_t* in);            // reads 16 bytes, no checks

}  // namespace cpipe::channel

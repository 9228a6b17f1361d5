// Frame header encoding.
#include "core/channel/frame.h"

namespace cpipe::channel {

bool is_handshake_type(uint8_t type) { return type >= 0x01 && type <= 0x03; }
bool is_record_type(uint8_t type) { return type >= 0x10 && type <= 0x13; }

void encode_frame_header(const FrameHeader& h, uint8_t* out) {
  out[0] = h.type;
  out[1] = h.flags;
  store_u16_be(out + 2, h.reserved);
  store_u64_be(out + 4, h.seq);
  store_u32_be(out + 12, h.length);
}

FrameHeader decode_frame_header(const uint8_t* in) {
  FrameHeader h;
  h.type = in[0];
  h.flags = in[1];
  h.reserved = load_u16_be(in + 2);
  h.seq = load_u64_be(in + 4);
  h.length = load_u32_be(in + 12);
  return h;
}

}  // namespace cpipe::channel

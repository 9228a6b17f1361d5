// Encoding and strict decoding of the pipeline's control messages and data frames (wire.h).
#include "core/pipeline/wire.h"

namespace cpipe::pipeline {
namespace {

constexpr size_t kMaxWeightHashes = 4096;
constexpr size_t kMaxMessageText = 4096;

Status protocol_error(std::string what) {
  return make_error(ErrorCode::PIPELINE_PROTOCOL_ERROR, std::move(what));
}

// Any reader failure (truncation, trailing bytes) is a protocol error of the peer.
template <typename T>
Result<T> field(Result<T> r, const char* name) {
  if (!r.ok()) return protocol_error(std::string("bad field ") + name + ": " + r.status().message());
  return r;
}

Result<std::string> read_string(ByteReader& r, const char* name, size_t max) {
  CPIPE_ASSIGN_OR_RETURN(ByteSpan s, field(r.var16(), name));
  if (s.size() > max) return protocol_error(std::string(name) + " too long");
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

void write_string(ByteWriter& w, std::string_view s) { w.var16(as_bytes(s)); }

}  // namespace

Bytes encode_control(const ControlMessage& m) {
  Bytes out;
  ByteWriter w(out);
  w.u8(uint8_t(m.type));
  switch (m.type) {
    case ControlType::kInit:
      w.raw(m.session_id);
      w.u32_be(m.stage_idx);
      w.var16(m.manifest_hash);
      break;
    case ControlType::kReady:
      w.u32_be(m.stage_idx);
      w.u32_be(m.layer_start);
      w.u32_be(m.layer_end);
      w.u32_be(uint32_t(m.weight_hashes.size()));
      for (const auto& h : m.weight_hashes) write_string(w, h);
      w.var16(m.receipt_public_key);
      break;
    case ControlType::kPing:
      w.u64_be(m.nonce);
      break;
    case ControlType::kPong:
      w.u64_be(m.nonce);
      w.u32_be(m.active_requests);
      w.u64_be(m.frames_processed);
      w.u64_be(m.compute_us);
      break;
    case ControlType::kShutdown:
      break;
    case ControlType::kRefuse:
    case ControlType::kFault:
      w.u16_be(m.code);
      write_string(w, m.message.substr(0, kMaxMessageText));
      break;
  }
  return out;
}

Result<ControlMessage> decode_control(ByteSpan bytes) {
  ByteReader r(bytes);
  ControlMessage m;
  CPIPE_ASSIGN_OR_RETURN(uint8_t type, field(r.u8(), "type"));
  m.type = ControlType(type);
  switch (m.type) {
    case ControlType::kInit: {
      CPIPE_ASSIGN_OR_RETURN(ByteSpan id, field(r.raw(kSessionIdSize), "session_id"));
      m.session_id.assign(id.begin(), id.end());
      CPIPE_ASSIGN_OR_RETURN(m.stage_idx, field(r.u32_be(), "stage_idx"));
      CPIPE_ASSIGN_OR_RETURN(ByteSpan h, field(r.var16(), "manifest_hash"));
      m.manifest_hash.assign(h.begin(), h.end());
      break;
    }
    case ControlType::kReady: {
      CPIPE_ASSIGN_OR_RETURN(m.stage_idx, field(r.u32_be(), "stage_idx"));
      CPIPE_ASSIGN_OR_RETURN(m.layer_start, field(r.u32_be(), "layer_start"));
      CPIPE_ASSIGN_OR_RETURN(m.layer_end, field(r.u32_be(), "layer_end"));
      CPIPE_ASSIGN_OR_RETURN(uint32_t n, field(r.u32_be(), "weight_hash_count"));
      if (n > kMaxWeightHashes) return protocol_error("too many weight hashes");
      for (uint32_t i = 0; i < n; ++i) {
        CPIPE_ASSIGN_OR_RETURN(std::string h, read_string(r, "weight_hash", 64));
        m.weight_hashes.push_back(std::move(h));
      }
      CPIPE_ASSIGN_OR_RETURN(ByteSpan k, field(r.var16(), "receipt_public_key"));
      m.receipt_public_key.assign(k.begin(), k.end());
      break;
    }
    case ControlType::kPing: {
      CPIPE_ASSIGN_OR_RETURN(m.nonce, field(r.u64_be(), "nonce"));
      break;
    }
    case ControlType::kPong: {
      CPIPE_ASSIGN_OR_RETURN(m.nonce, field(r.u64_be(), "nonce"));
      CPIPE_ASSIGN_OR_RETURN(m.active_requests, field(r.u32_be(), "active_requests"));
      CPIPE_ASSIGN_OR_RETURN(m.frames_processed, field(r.u64_be(), "frames_processed"));
      CPIPE_ASSIGN_OR_RETURN(m.compute_us, field(r.u64_be(), "compute_us"));
      break;
    }
    case ControlType::kShutdown:
      break;
    case ControlType::kRefuse:
    case ControlType::kFault: {
      CPIPE_ASSIGN_OR_RETURN(m.code, field(r.u16_be(), "code"));
      CPIPE_ASSIGN_OR_RETURN(m.message, read_string(r, "message", kMaxMessageText));
      break;
    }
    default:
      return protocol_error("unknown control message type " + std::to_string(type));
  }
  if (!r.empty()) return protocol_error("trailing bytes after control message");
  return m;
}

void encode_data_header(const DataHeader& h, uint8_t out[kDataHeaderSize]) {
  out[0] = uint8_t(h.kind);
  out[1] = h.flags;
  out[2] = 0;
  out[3] = 0;
  store_u64_be(out + 4, h.request_id);
  store_u32_be(out + 12, h.step);
  store_u32_be(out + 16, h.value);
}

Bytes encode_hello_body(ByteSpan session_id, uint32_t upstream) {
  Bytes out(session_id.begin(), session_id.end());
  ByteWriter(out).u32_be(upstream);
  return out;
}

Result<DataFrame> decode_data_frame(ByteSpan bytes) {
  if (bytes.size() < kDataHeaderSize) return protocol_error("data frame shorter than its header");
  DataFrame f;
  uint8_t kind = bytes[0];
  if (kind < uint8_t(DataKind::kHello) || kind > uint8_t(DataKind::kError))
    return protocol_error("unknown data frame kind " + std::to_string(kind));
  f.header.kind = DataKind(kind);
  f.header.flags = bytes[1];
  if (bytes[2] != 0 || bytes[3] != 0) return protocol_error("reserved header bytes are not zero");
  if (f.header.flags & ~kKnownFlags) return protocol_error("unknown data frame flags");
  f.header.request_id = load_u64_be(bytes.data() + 4);
  f.header.step = load_u32_be(bytes.data() + 12);
  f.header.value = load_u32_be(bytes.data() + 16);
  ByteSpan body = bytes.subspan(kDataHeaderSize);
  switch (f.header.kind) {
    case DataKind::kHello: {
      if (body.size() != kSessionIdSize + 4) return protocol_error("bad hello frame size");
      f.session_id.assign(body.begin(), body.begin() + kSessionIdSize);
      f.upstream = load_u32_be(body.data() + kSessionIdSize);
      break;
    }
    case DataKind::kTokens:
    case DataKind::kHidden:
    case DataKind::kLogits: {
      auto t = codec::decode_tensor(body);
      if (!t.ok()) return protocol_error("bad tensor in " + std::string(data_kind_name(f.header.kind)) +
                                         " frame: " + t.status().to_string());
      f.tensor = std::move(*t);
      break;
    }
    case DataKind::kError:
      if (body.size() > kMaxMessageText) return protocol_error("error message too long");
      f.message.assign(reinterpret_cast<const char*>(body.data()), body.size());
      break;
    case DataKind::kRelease:
      if ((f.header.flags & kFlagReceiptRequest) && (f.header.flags & kFlagReceipt))
        return protocol_error("release both asks for and carries a receipt");
      if (!(f.header.flags & (kFlagReceiptRequest | kFlagReceipt)) && !body.empty())
        return protocol_error("unexpected body in release frame");
      if (body.size() > kMaxReleaseBody) return protocol_error("release body too long");
      f.body = body;
      break;
    case DataKind::kToken:
      if (!body.empty()) return protocol_error("unexpected body in " +
                                               std::string(data_kind_name(f.header.kind)) + " frame");
      break;
  }
  return f;
}

std::string_view data_kind_name(DataKind kind) {
  switch (kind) {
    case DataKind::kHello: return "hello";
    case DataKind::kTokens: return "tokens";
    case DataKind::kHidden: return "hidden";
    case DataKind::kLogits: return "logits";
    case DataKind::kToken: return "token";
    case DataKind::kRelease: return "release";
    case DataKind::kError: return "error";
  }
  return "unknown";
}

}  // namespace cpipe::pipeline

// The pipeline's application protocol, carried inside secure-channel records (docs/protocol.md,
// "Pipeline messages"): control messages between the orchestrator and each stage, and data
// frames along the chain orchestrator -> stage 0 -> ... -> last stage -> orchestrator.
//
// Everything here is parsed from bytes that crossed a channel; the channel authenticates them,
// but a buggy or compromised peer may still send nonsense, so every decoder is strict
// (PIPELINE_PROTOCOL_ERROR with the reason) and bounded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/codec/tensor_frame.h"

namespace cpipe::pipeline {

inline constexpr size_t kSessionIdSize = 16;
// The upstream index the orchestrator uses in a data-chain hello.
inline constexpr uint32_t kOrchestratorIndex = 0xFFFFFFFFu;

// ---- control channel ----------------------------------------------------------------------

enum class ControlType : uint8_t {
  kInit = 1,      // orchestrator -> stage: join session S as stage i of manifest H
  kReady = 2,     // stage -> orchestrator: data chain connected, model loaded
  kPing = 3,      // orchestrator -> stage
  kPong = 4,      // stage -> orchestrator
  kShutdown = 5,  // orchestrator -> stage: end the session (the stage keeps listening)
  kRefuse = 6,    // stage -> orchestrator: cannot serve (code + message), e.g. no model key
  kFault = 7,     // stage -> orchestrator: its part of the data chain failed (code + message)
};

struct ControlMessage {
  ControlType type = ControlType::kPing;
  Bytes session_id;      // init
  uint32_t stage_idx = 0;  // init, ready
  Bytes manifest_hash;   // init: SHA-256 of the manifest's canonical JSON
  uint64_t nonce = 0;    // ping, pong
  // ready: the stage's layer range and the SHA-256 weight hashes it computed at load time.
  uint32_t layer_start = 0, layer_end = 0;
  std::vector<std::string> weight_hashes;
  Bytes receipt_public_key;  // ready: the stage's receipt signing key (may be empty)
  // pong: what the stage holds.
  uint32_t active_requests = 0;
  uint64_t frames_processed = 0;
  // pong: time spent in the model's forward passes since the stage started, in microseconds —
  // lets a client split a token's latency into compute and everything else (channels, hops).
  uint64_t compute_us = 0;
  // refuse, fault
  uint16_t code = 0;
  std::string message;
};

Bytes encode_control(const ControlMessage& message);
Result<ControlMessage> decode_control(ByteSpan bytes);

// ---- data chain ---------------------------------------------------------------------------

enum class DataKind : uint8_t {
  kHello = 1,    // first frame on every data channel: session id + upstream index
  kTokens = 2,   // orchestrator -> stage 0: I32 [1, T] token ids
  kHidden = 3,   // stage -> stage: F32 [1, T, hidden] activations
  kLogits = 4,   // last stage -> orchestrator: F32 [1, vocab] logits of the last position
  kToken = 5,    // last stage -> orchestrator: the greedy token (value), no tensor
  kRelease = 6,  // a request is over: every stage drops its KV cache, then forwards this
  kError = 7,    // a stage failed a request: value = error code, tensor-less, message follows
};

// Flags on kTokens/kHidden.
inline constexpr uint8_t kFlagStart = 1;         // a new request: fresh KV cache (value = capacity)
inline constexpr uint8_t kFlagGreedyInStage = 2;  // last stage picks the token (kToken reply)
// Flags on kRelease (docs/receipts.md): the orchestrator asks stage 0 for the request's receipt
// (value = the final generated token, which never went through the chain; body = the sampling
// text hashed into request_hash); stage 0 answers by replacing the body with the AIR v1 receipt
// and the flag with kFlagReceipt. A release that still carries kFlagReceiptRequest at the end
// of the chain means no stage signed.
inline constexpr uint8_t kFlagReceiptRequest = 4;
inline constexpr uint8_t kFlagReceipt = 8;
inline constexpr uint8_t kKnownFlags = kFlagStart | kFlagGreedyInStage | kFlagReceiptRequest | kFlagReceipt;
// The largest release body (a receipt is about 700 bytes).
inline constexpr size_t kMaxReleaseBody = 8192;

// Fixed 20-byte header in front of every data frame (big-endian):
//   kind u8 | flags u8 | reserved u16 (0) | request_id u64 | step u32 | value u32
// followed by a tensor frame (kTokens, kHidden, kLogits), a UTF-8 message (kError), the
// session id and upstream index (kHello), or nothing.
struct DataHeader {
  DataKind kind = DataKind::kTokens;
  uint8_t flags = 0;
  uint64_t request_id = 0;
  uint32_t step = 0;
  uint32_t value = 0;  // start: KV capacity in tokens; token: the id; error: the code
};
inline constexpr size_t kDataHeaderSize = 20;

void encode_data_header(const DataHeader& header, uint8_t out[kDataHeaderSize]);

// A decoded data frame; views point into the received record.
struct DataFrame {
  DataHeader header;
  codec::TensorView tensor;  // tensor kinds
  std::string message;       // kError
  ByteSpan body;             // kRelease: the sampling text or the receipt (see the flags)
  Bytes session_id;          // kHello
  uint32_t upstream = 0;     // kHello
};
Result<DataFrame> decode_data_frame(ByteSpan bytes);

// Body of a hello / error frame (what follows the header).
Bytes encode_hello_body(ByteSpan session_id, uint32_t upstream);
std::string_view data_kind_name(DataKind kind);

}  // namespace cpipe::pipeline

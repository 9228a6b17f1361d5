// The pipeline's control messages and data frames: round trips, and strict refusal of every
// malformed form a buggy or hostile peer could send.
#include "core/pipeline/wire.h"

#include <gtest/gtest.h>

namespace cpipe::pipeline {
namespace {

Bytes frame_bytes(const DataHeader& h, ByteSpan body = {}) {
  Bytes out(kDataHeaderSize);
  encode_data_header(h, out.data());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

TEST(PipelineWire, ControlMessagesRoundTrip) {
  ControlMessage init;
  init.type = ControlType::kInit;
  init.session_id = Bytes(kSessionIdSize, 0xab);
  init.stage_idx = 2;
  init.manifest_hash = Bytes(32, 0x11);
  auto back = decode_control(encode_control(init));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->session_id, init.session_id);
  EXPECT_EQ(back->stage_idx, 2u);
  EXPECT_EQ(back->manifest_hash, init.manifest_hash);

  ControlMessage ready;
  ready.type = ControlType::kReady;
  ready.stage_idx = 1;
  ready.layer_start = 6;
  ready.layer_end = 12;
  ready.weight_hashes = {std::string(64, 'a'), std::string(64, 'b')};
  ready.receipt_public_key = Bytes(32, 7);
  back = decode_control(encode_control(ready));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->layer_start, 6u);
  EXPECT_EQ(back->layer_end, 12u);
  EXPECT_EQ(back->weight_hashes, ready.weight_hashes);
  EXPECT_EQ(back->receipt_public_key, ready.receipt_public_key);

  ControlMessage pong;
  pong.type = ControlType::kPong;
  pong.nonce = 41;
  pong.active_requests = 3;
  pong.frames_processed = 1ull << 40;
  pong.compute_us = (1ull << 50) + 7;
  back = decode_control(encode_control(pong));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->nonce, 41u);
  EXPECT_EQ(back->active_requests, 3u);
  EXPECT_EQ(back->frames_processed, 1ull << 40);
  EXPECT_EQ(back->compute_us, (1ull << 50) + 7);

  ControlMessage refuse;
  refuse.type = ControlType::kRefuse;
  refuse.code = uint16_t(ErrorCode::KEYS_ACCESS_DENIED);
  refuse.message = "AccessDeniedException: PCR0 mismatch";
  back = decode_control(encode_control(refuse));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->code, refuse.code);
  EXPECT_EQ(back->message, refuse.message);
}

TEST(PipelineWire, ControlDecoderRejectsTruncationTrailingAndUnknownTypes) {
  ControlMessage pong;
  pong.type = ControlType::kPong;
  pong.nonce = 9;
  Bytes good = encode_control(pong);
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = decode_control(ByteSpan(good.data(), n));
    EXPECT_EQ(r.code(), ErrorCode::PIPELINE_PROTOCOL_ERROR) << "prefix " << n;
  }
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(decode_control(trailing).code(), ErrorCode::PIPELINE_PROTOCOL_ERROR);
  Bytes unknown = {0x7f};
  EXPECT_EQ(decode_control(unknown).code(), ErrorCode::PIPELINE_PROTOCOL_ERROR);
}

TEST(PipelineWire, DataFramesCarryTensorsByView) {
  std::vector<int32_t> ids = {464, 2068};
  codec::TensorHeader th{.dtype = codec::DType::I32, .shape = {1, 2}, .name = {}};
  auto tensor = codec::encode_tensor(th, ByteSpan(reinterpret_cast<const uint8_t*>(ids.data()), 8));
  ASSERT_TRUE(tensor.ok());
  DataHeader h{.kind = DataKind::kTokens, .flags = kFlagStart, .request_id = 0x0102030405060708,
               .step = 3, .value = 40};
  Bytes bytes = frame_bytes(h, *tensor);
  auto f = decode_data_frame(bytes);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->header.kind, DataKind::kTokens);
  EXPECT_EQ(f->header.flags, kFlagStart);
  EXPECT_EQ(f->header.request_id, 0x0102030405060708u);
  EXPECT_EQ(f->header.step, 3u);
  EXPECT_EQ(f->header.value, 40u);
  ASSERT_EQ(f->tensor.data.size(), 8u);
  EXPECT_EQ(f->tensor.data.data(), bytes.data() + bytes.size() - 8);  // a view, not a copy

  Bytes hello = frame_bytes(DataHeader{.kind = DataKind::kHello},
                            encode_hello_body(Bytes(kSessionIdSize, 5), kOrchestratorIndex));
  f = decode_data_frame(hello);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->session_id, Bytes(kSessionIdSize, 5));
  EXPECT_EQ(f->upstream, kOrchestratorIndex);

  std::string text = "stage 1: MODEL_CONTEXT_OVERFLOW";
  f = decode_data_frame(frame_bytes(DataHeader{.kind = DataKind::kError, .value = 604}, as_bytes(text)));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->message, text);
}

TEST(PipelineWire, DataDecoderRejectsMalformedFrames) {
  Bytes release = frame_bytes(DataHeader{.kind = DataKind::kRelease, .request_id = 1});
  ASSERT_TRUE(decode_data_frame(release).ok());
  auto expect_bad = [](Bytes b, const char* what) {
    EXPECT_EQ(decode_data_frame(b).code(), ErrorCode::PIPELINE_PROTOCOL_ERROR) << what;
  };
  expect_bad(Bytes(release.begin(), release.begin() + 19), "short header");
  Bytes kind = release;
  kind[0] = 0;
  expect_bad(kind, "kind 0");
  kind[0] = 8;
  expect_bad(kind, "kind 8");
  Bytes flags = release;
  flags[1] = 0x80;
  expect_bad(flags, "unknown flag");
  Bytes reserved = release;
  reserved[3] = 1;
  expect_bad(reserved, "reserved byte");
  Bytes body = release;
  body.push_back(0);
  expect_bad(body, "release with a body");
  expect_bad(frame_bytes(DataHeader{.kind = DataKind::kHello}, Bytes(5, 0)), "short hello");
  expect_bad(frame_bytes(DataHeader{.kind = DataKind::kHidden}, Bytes(3, 0)), "garbage tensor");
}

TEST(PipelineWire, ReleaseFramesCarryTheReceiptRequestAndTheReceipt) {
  std::string sampling = "greedy";
  auto f = decode_data_frame(frame_bytes(
      DataHeader{.kind = DataKind::kRelease, .flags = kFlagReceiptRequest, .request_id = 9, .value = 50256},
      as_bytes(sampling)));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->header.value, 50256u);
  EXPECT_EQ(to_string(f->body), sampling);
  Bytes receipt(700, 0xd2);
  f = decode_data_frame(frame_bytes(DataHeader{.kind = DataKind::kRelease, .flags = kFlagReceipt, .request_id = 9},
                                    receipt));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Bytes(f->body.begin(), f->body.end()), receipt);
  // Both flags at once, an oversized body: refused.
  EXPECT_EQ(decode_data_frame(frame_bytes(DataHeader{.kind = DataKind::kRelease,
                                                     .flags = kFlagReceipt | kFlagReceiptRequest},
                                          receipt))
                .code(),
            ErrorCode::PIPELINE_PROTOCOL_ERROR);
  EXPECT_EQ(decode_data_frame(frame_bytes(DataHeader{.kind = DataKind::kRelease, .flags = kFlagReceipt},
                                          Bytes(kMaxReleaseBody + 1, 0)))
                .code(),
            ErrorCode::PIPELINE_PROTOCOL_ERROR);
}

}  // namespace
}  // namespace cpipe::pipeline

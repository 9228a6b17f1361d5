// The record layer at byte level: framing, AAD over the header, nonce per sequence number,
// the order of header checks and their codes, rekey, and that nothing altered ever opens.
#include "core/channel/record_layer.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/base/bytes.h"

namespace cpipe::channel {
namespace {

Bytes secret(uint8_t fill) { return Bytes(32, fill); }

struct Pair {
  RecordSealer sealer;
  RecordOpener opener;
};

Pair make_pair(uint8_t fill = 7) {
  auto s = RecordSealer::create(secret(fill));
  auto o = RecordOpener::create(secret(fill));
  EXPECT_TRUE(s.ok() && o.ok());
  return Pair{std::move(*s), std::move(*o)};
}

Bytes seal_one(RecordSealer& s, FrameType type, ByteSpan payload) {
  RecordBuffer buf;
  ByteSpan parts[1] = {payload};
  Status st = s.seal(type, parts, buf);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return Bytes(buf.span().begin(), buf.span().end());
}

// Header check + open, as the driver does it.
Result<Bytes> open_one(RecordOpener& o, Bytes record) {
  if (record.size() < kFrameHeaderSize) return make_error(ErrorCode::CHANNEL_TRUNCATED, "short");
  auto h = o.check_header(ByteSpan(record).first(kFrameHeaderSize));
  if (!h.ok()) return h.status();
  if (record.size() != kFrameHeaderSize + h->length)
    return make_error(ErrorCode::CHANNEL_TRUNCATED, "length");
  auto p = o.open(ByteSpan(record).first(kFrameHeaderSize),
                  MutableByteSpan(record).subspan(kFrameHeaderSize));
  if (!p.ok()) return p.status();
  return Bytes(p->begin(), p->end());
}

TEST(RecordLayer, SealOpenRoundTripWithConsecutiveSequenceNumbers) {
  Pair p = make_pair();
  for (uint64_t i = 0; i < 5; ++i) {
    Bytes msg = to_bytes("message " + std::to_string(i));
    Bytes rec = seal_one(p.sealer, FrameType::kData, msg);
    FrameHeader h = decode_frame_header(rec.data());
    EXPECT_EQ(h.type, 0x10);
    EXPECT_EQ(h.flags, 0);
    EXPECT_EQ(h.reserved, 0);
    EXPECT_EQ(h.seq, i);
    EXPECT_EQ(h.length, msg.size() + kTagSize);
    EXPECT_EQ(rec.size(), kFrameHeaderSize + msg.size() + kTagSize);
    // Ciphertext differs from the plaintext.
    EXPECT_NE(Bytes(rec.begin() + 16, rec.begin() + 16 + long(msg.size())), msg);
    auto out = open_one(p.opener, rec);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(*out, msg);
  }
  EXPECT_EQ(p.opener.next_seq(), 5u);
}

TEST(RecordLayer, SamePayloadGivesDifferentCiphertextPerSequence) {
  Pair p = make_pair();
  Bytes msg(64, 0xaa);
  Bytes a = seal_one(p.sealer, FrameType::kData, msg);
  Bytes b = seal_one(p.sealer, FrameType::kData, msg);
  EXPECT_NE(Bytes(a.begin() + 16, a.end()), Bytes(b.begin() + 16, b.end()));
}

TEST(RecordLayer, EmptyPayloadAndMultiPartPayload) {
  Pair p = make_pair();
  EXPECT_EQ(*open_one(p.opener, seal_one(p.sealer, FrameType::kData, {})), Bytes{});
  RecordBuffer buf;
  Bytes a = to_bytes("head"), b = to_bytes("-tail");
  ByteSpan parts[2] = {a, b};
  ASSERT_TRUE(p.sealer.seal(FrameType::kTensor, parts, buf).ok());
  auto out = open_one(p.opener, Bytes(buf.span().begin(), buf.span().end()));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(to_string(*out), "head-tail");
}

TEST(RecordLayer, SeveralRecordsAppendToOneBuffer) {
  Pair p = make_pair();
  RecordBuffer buf;
  Bytes m = to_bytes("abc");
  ByteSpan parts[1] = {m};
  ASSERT_TRUE(p.sealer.seal(FrameType::kData, parts, buf).ok());
  ASSERT_TRUE(p.sealer.seal(FrameType::kData, parts, buf).ok());
  EXPECT_EQ(buf.size(), 2 * (16 + 3 + 16));
  Bytes all(buf.span().begin(), buf.span().end());
  EXPECT_TRUE(open_one(p.opener, Bytes(all.begin(), all.begin() + 35)).ok());
  EXPECT_TRUE(open_one(p.opener, Bytes(all.begin() + 35, all.end())).ok());
}

TEST(RecordLayer, DifferentSecretsDoNotInteroperate) {
  auto s = RecordSealer::create(secret(1));
  auto o = RecordOpener::create(secret(2));
  ASSERT_TRUE(s.ok() && o.ok());
  EXPECT_EQ(open_one(*o, seal_one(*s, FrameType::kData, to_bytes("x"))).code(),
            ErrorCode::CHANNEL_BAD_TAG);
}

// Every byte of a record, flipped, makes it fail with the code of the field it hits.
TEST(RecordLayer, EveryFlippedByteFailsWithItsFieldsCode) {
  Bytes msg = to_bytes("the quick brown fox jumps over the lazy dog, 64 bytes of payload!");
  for (size_t pos = 0; pos < 16 + msg.size() + 16; ++pos) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      Pair p = make_pair();
      Bytes rec = seal_one(p.sealer, FrameType::kData, msg);
      rec[pos] ^= mask;
      FrameHeader h = decode_frame_header(rec.data());
      ErrorCode want = ErrorCode::CHANNEL_BAD_TAG;
      if (pos == 0) {
        want = is_record_type(h.type) ? ErrorCode::CHANNEL_BAD_TAG : ErrorCode::CHANNEL_UNKNOWN_TYPE;
      } else if (pos <= 3) {
        want = ErrorCode::CHANNEL_BAD_FLAGS;
      } else if (pos <= 11) {
        want = ErrorCode::CHANNEL_SEQUENCE_GAP;  // 0 -> anything is ahead
      } else if (pos <= 15) {
        want = h.length > kMaxRecordLength ? ErrorCode::CHANNEL_OVERSIZE
               : h.length < kTagSize       ? ErrorCode::CHANNEL_BAD_MESSAGE
                                           : ErrorCode::CHANNEL_TRUNCATED;  // body length differs
        if (h.length < rec.size() - 16 && h.length >= kTagSize) {
          // A shorter body is read as a (different) record: authentication fails.
          rec.resize(16 + h.length);
          want = ErrorCode::CHANNEL_BAD_TAG;
        }
      }
      auto r = open_one(p.opener, rec);
      EXPECT_EQ(r.code(), want) << "pos " << pos << " mask " << int(mask) << ": "
                                << r.status().to_string();
    }
  }
}

TEST(RecordLayer, SequenceGapAndReplay) {
  Pair p = make_pair();
  Bytes r0 = seal_one(p.sealer, FrameType::kData, to_bytes("0"));
  Bytes r1 = seal_one(p.sealer, FrameType::kData, to_bytes("1"));
  Bytes r2 = seal_one(p.sealer, FrameType::kData, to_bytes("2"));
  EXPECT_EQ(open_one(p.opener, r1).code(), ErrorCode::CHANNEL_SEQUENCE_GAP);
  ASSERT_TRUE(open_one(p.opener, r0).ok());
  EXPECT_EQ(open_one(p.opener, r0).code(), ErrorCode::CHANNEL_REPLAY);
  EXPECT_EQ(open_one(p.opener, r2).code(), ErrorCode::CHANNEL_SEQUENCE_GAP);
  ASSERT_TRUE(open_one(p.opener, r1).ok());
  ASSERT_TRUE(open_one(p.opener, r2).ok());
  EXPECT_EQ(open_one(p.opener, r1).code(), ErrorCode::CHANNEL_REPLAY);
}

TEST(RecordLayer, HeaderChecksComeInTheDocumentedOrder) {
  Pair p = make_pair();
  uint8_t hdr[16];
  FrameHeader h{0x7f, 1, 1, 99, kMaxRecordLength + 1};
  encode_frame_header(h, hdr);
  EXPECT_EQ(p.opener.check_header(ByteSpan(hdr)).code(), ErrorCode::CHANNEL_UNKNOWN_TYPE);
  h.type = 0x10;
  encode_frame_header(h, hdr);
  EXPECT_EQ(p.opener.check_header(ByteSpan(hdr)).code(), ErrorCode::CHANNEL_BAD_FLAGS);
  h.flags = 0;
  encode_frame_header(h, hdr);
  EXPECT_EQ(p.opener.check_header(ByteSpan(hdr)).code(), ErrorCode::CHANNEL_BAD_FLAGS);
  h.reserved = 0;
  encode_frame_header(h, hdr);
  EXPECT_EQ(p.opener.check_header(ByteSpan(hdr)).code(), ErrorCode::CHANNEL_OVERSIZE);
  h.length = kMaxRecordLength;  // exactly 32 MiB is allowed
  encode_frame_header(h, hdr);
  EXPECT_EQ(p.opener.check_header(ByteSpan(hdr)).code(), ErrorCode::CHANNEL_SEQUENCE_GAP);
  h.seq = 0;
  encode_frame_header(h, hdr);
  EXPECT_TRUE(p.opener.check_header(ByteSpan(hdr)).ok());
}

TEST(RecordLayer, HandshakeTypesAreNotRecordTypes) {
  Pair p = make_pair();
  for (uint8_t t : {0x00, 0x01, 0x02, 0x03, 0x14, 0xff}) {
    uint8_t hdr[16];
    encode_frame_header(FrameHeader{t, 0, 0, 0, 16}, hdr);
    EXPECT_EQ(p.opener.check_header(ByteSpan(hdr)).code(), ErrorCode::CHANNEL_UNKNOWN_TYPE) << int(t);
  }
}

TEST(RecordLayer, OversizePayloadIsRefusedBySender) {
  Pair p = make_pair();
  RecordBuffer buf;
  Bytes big(kMaxRecordPayload + 1);
  ByteSpan parts[1] = {big};
  EXPECT_EQ(p.sealer.seal(FrameType::kData, parts, buf).code(), ErrorCode::CHANNEL_OVERSIZE);
  EXPECT_EQ(p.sealer.next_seq(), 0u);
  Bytes max(kMaxRecordPayload);
  ByteSpan parts2[1] = {max};
  EXPECT_TRUE(p.sealer.seal(FrameType::kData, parts2, buf).ok());
}

TEST(RecordLayer, RekeyChangesKeysInLockstepAndKeepsSequence) {
  Pair p = make_pair();
  auto stale = RecordOpener::create(secret(7));
  ASSERT_TRUE(stale.ok());
  Bytes r0 = seal_one(p.sealer, FrameType::kData, to_bytes("a"));
  Bytes r1 = seal_one(p.sealer, FrameType::kRekey, {});
  for (RecordOpener* o : {&p.opener, &*stale}) {
    ASSERT_TRUE(open_one(*o, r0).ok());
    ASSERT_TRUE(open_one(*o, r1).ok());
  }
  ASSERT_TRUE(p.sealer.rekey().ok());
  Bytes after = seal_one(p.sealer, FrameType::kData, to_bytes("b"));
  EXPECT_EQ(decode_frame_header(after.data()).seq, 2u);
  // An opener still on the old key cannot open it...
  EXPECT_EQ(open_one(*stale, after).code(), ErrorCode::CHANNEL_BAD_TAG);
  // ...and after its own rekey it can.
  ASSERT_TRUE(p.opener.rekey().ok());
  auto out = open_one(p.opener, after);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(to_string(*out), "b");
  EXPECT_EQ(p.sealer.records_under_key(), 1u);
}

TEST(RecordLayer, RekeyedSecretIsHkdfExpandOfTheOldOne) {
  auto next = next_traffic_secret(secret(7));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->size(), 32u);
  EXPECT_NE(*next, secret(7));
  auto again = next_traffic_secret(secret(7));
  EXPECT_EQ(*next, *again);
}

TEST(RecordLayer, PeerRecordBudgetPerKeyIsEnforced) {
  Pair p = make_pair();
  p.opener.set_max_records_per_key(2);
  ASSERT_TRUE(open_one(p.opener, seal_one(p.sealer, FrameType::kData, to_bytes("1"))).ok());
  ASSERT_TRUE(open_one(p.opener, seal_one(p.sealer, FrameType::kData, to_bytes("2"))).ok());
  EXPECT_EQ(open_one(p.opener, seal_one(p.sealer, FrameType::kData, to_bytes("3"))).code(),
            ErrorCode::CHANNEL_REKEY_REQUIRED);
}

TEST(RecordLayer, BufferGrowsWithoutLosingContent) {
  RecordBuffer b;
  std::memcpy(b.grow(3), "abc", 3);
  uint8_t* big = b.grow(1 << 20);
  big[0] = 'd';
  EXPECT_EQ(b.size(), 3u + (1 << 20));
  EXPECT_EQ(b.data()[0], 'a');
  EXPECT_EQ(b.data()[3], 'd');
  b.clear();
  EXPECT_EQ(b.size(), 0u);
}

}  // namespace
}  // namespace cpipe::channel

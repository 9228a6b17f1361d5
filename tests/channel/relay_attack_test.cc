// Every attack of a hostile host on the channel, in the simulator: the relay (an actor on the
// "host" node between client and server) flips any byte of any frame, drops, duplicates,
// reorders, replays, truncates, forges and oversizes frames, and replays whole handshakes.
// Each attack must fail closed with its own error code, and the application must never receive
// altered data.
#include <gtest/gtest.h>

#include "tests/channel/sim_world_util.h"

namespace cpipe::channel::testing {
namespace {

constexpr size_t kMaxHs = 64 * 1024;

// The frames of a clean session through the relay (client sends `n` data records of 64 bytes).
struct CleanFrames {
  Bytes m1, m2, m3;
  std::vector<Bytes> c2s_records;
};
CleanFrames clean_frames(size_t n) {
  ChannelWorld w(100);
  for (size_t i = 0; i < n; ++i) w.client_spec.to_send.push_back(Outgoing::bytes(pattern(64, uint8_t(i))));
  w.server_spec.receive_count = n;
  w.run();
  CleanFrames f;
  EXPECT_GE(w.relay.seen[kToServer].size(), 2 + n);
  f.m1 = w.relay.seen[kToServer][0];
  f.m3 = w.relay.seen[kToServer][1];
  f.m2 = w.relay.seen[kToClient][0];
  for (size_t i = 0; i < n; ++i) f.c2s_records.push_back(w.relay.seen[kToServer][2 + i]);
  return f;
}

RelayPolicy flip_at(int dir, size_t index, size_t pos, uint8_t mask) {
  return [=](int d, size_t i, const Bytes& frame) {
    Bytes f = frame;
    if (d == dir && i == index) f[pos] ^= mask;
    return RelayDecision::forward(std::move(f));
  };
}

std::vector<uint8_t> masks_for(size_t pos) {
  if (pos < kFrameHeaderSize) return {0x01, 0x80, 0xff};
  return {0x01};
}

ErrorCode header_code(const Bytes& original, size_t pos, uint8_t mask, uint8_t expected_type,
                      ErrorCode on_longer) {
  Bytes f = original;
  f[pos] ^= mask;
  FrameHeader h = decode_frame_header(f.data());
  uint32_t orig_len = decode_frame_header(original.data()).length;
  if (pos == 0)
    return (is_handshake_type(h.type) || is_record_type(h.type)) ? ErrorCode::CHANNEL_BAD_MESSAGE
                                                                 : ErrorCode::CHANNEL_UNKNOWN_TYPE;
  (void)expected_type;
  if (pos <= 3) return ErrorCode::CHANNEL_BAD_FLAGS;
  if (pos <= 11) return ErrorCode::CHANNEL_BAD_MESSAGE;
  if (h.length > kMaxHs) return ErrorCode::CHANNEL_OVERSIZE;
  if (expected_type == 0x01) return ErrorCode::CHANNEL_BAD_MESSAGE;  // M1 has a fixed length
  return h.length > orig_len ? on_longer : ErrorCode::CHANNEL_BAD_MESSAGE;
}

// One handshake attack run; returns (client handshake, server handshake, client receive end).
struct HsOutcome {
  std::optional<Status> client, server, client_receive_end, server_receive_end;
  size_t delivered = 0;
};
HsOutcome run_hs_attack(RelayPolicy policy) {
  ChannelWorld w(200);
  w.relay.policy = std::move(policy);
  // The initiator gives up first when both wait (2 s < 3 s), so an enlarged M2 length shows
  // as its own timeout rather than as the responder's close.
  w.server_spec.config.handshake_timeout = std::chrono::seconds(3);
  w.run();
  return HsOutcome{w.client_state.handshake, w.server_state.handshake, w.client_state.receive_end,
                   w.server_state.receive_end,
                   w.client_state.received.size() + w.server_state.received.size()};
}

void expect_fails(const HsOutcome& o, bool client_detects, ErrorCode want, const std::string& where) {
  const std::optional<Status>& detector = client_detects ? o.client : o.server;
  EXPECT_EQ(code_name(detector), name(want)) << where << ": " << (detector ? detector->to_string() : "");
  // The other side never ends up with a working channel either.
  const std::optional<Status>& other = client_detects ? o.server : o.client;
  const std::optional<Status>& other_rx = client_detects ? o.server_receive_end : o.client_receive_end;
  bool other_failed = (other && !other->ok()) || (other_rx && !other_rx->ok());
  EXPECT_TRUE(other_failed) << where;
  EXPECT_EQ(o.delivered, 0u) << where;
}

TEST(RelayAttack, CleanSessionThroughTheRelayWorks) {
  CleanFrames f = clean_frames(2);
  EXPECT_EQ(f.m1.size(), 16 + kHelloBodySize);
  EXPECT_EQ(f.c2s_records.size(), 2u);
  EXPECT_EQ(f.c2s_records[0].size(), 16u + 64 + 16);
}

TEST(RelayAttack, EveryByteOfM1Flipped) {
  CleanFrames f = clean_frames(0);
  for (size_t pos = 0; pos < f.m1.size(); ++pos) {
    for (uint8_t mask : masks_for(pos)) {
      std::string where = "M1 byte " + std::to_string(pos) + " ^" + std::to_string(mask);
      bool client_detects = false;
      ErrorCode want;
      if (pos < 16) {
        want = header_code(f.m1, pos, mask, 0x01, ErrorCode::CHANNEL_BAD_MESSAGE);
      } else if (pos < 20) {
        want = ErrorCode::CHANNEL_BAD_MESSAGE;  // magic
      } else if (pos < 24) {
        want = ErrorCode::CHANNEL_VERSION_MISMATCH;  // version, suite
      } else {
        // e_i or n_i: the responder attests over the altered transcript; the initiator sees
        // evidence bound to another transcript.
        client_detects = true;
        want = ErrorCode::CHANNEL_BINDING_MISMATCH;
      }
      expect_fails(run_hs_attack(flip_at(kToServer, 0, pos, mask)), client_detects, want, where);
    }
  }
}

TEST(RelayAttack, EveryByteOfM2Flipped) {
  CleanFrames f = clean_frames(0);
  size_t n = f.m2.size();
  for (size_t pos = 0; pos < n; ++pos) {
    for (uint8_t mask : masks_for(pos)) {
      std::string where = "M2 byte " + std::to_string(pos) + " ^" + std::to_string(mask);
      ErrorCode want;
      if (pos < 16) {
        want = header_code(f.m2, pos, mask, 0x02, ErrorCode::CHANNEL_HANDSHAKE_TIMEOUT);
      } else if (pos < 80) {
        want = ErrorCode::CHANNEL_BINDING_MISMATCH;  // e_r, n_r
      } else if (pos < 82) {
        want = ErrorCode::CHANNEL_BAD_MESSAGE;  // platform length
      } else if (pos < 90) {
        want = ErrorCode::CHANNEL_ATTESTATION_REJECTED;  // platform name
      } else if (pos < 94) {
        want = ErrorCode::CHANNEL_BAD_MESSAGE;  // document length
      } else if (pos < n - 32) {
        want = ErrorCode::CHANNEL_ATTESTATION_REJECTED;  // document
      } else {
        want = ErrorCode::CHANNEL_CONFIRM_FAILED;  // mac_r
      }
      expect_fails(run_hs_attack(flip_at(kToClient, 0, pos, mask)), true, want, where);
    }
  }
}

TEST(RelayAttack, EveryByteOfM3Flipped) {
  CleanFrames f = clean_frames(0);
  size_t n = f.m3.size();
  for (size_t pos = 0; pos < n; ++pos) {
    for (uint8_t mask : masks_for(pos)) {
      std::string where = "M3 byte " + std::to_string(pos) + " ^" + std::to_string(mask);
      ErrorCode want;
      if (pos < 16) {
        want = header_code(f.m3, pos, mask, 0x03, ErrorCode::CHANNEL_HANDSHAKE_TIMEOUT);
      } else if (pos < 18) {
        want = ErrorCode::CHANNEL_BAD_MESSAGE;
      } else if (pos < 26) {
        want = ErrorCode::CHANNEL_ATTESTATION_REJECTED;
      } else if (pos < 30) {
        want = ErrorCode::CHANNEL_BAD_MESSAGE;
      } else if (pos < n - 32) {
        want = ErrorCode::CHANNEL_ATTESTATION_REJECTED;
      } else {
        want = ErrorCode::CHANNEL_CONFIRM_FAILED;
      }
      expect_fails(run_hs_attack(flip_at(kToServer, 1, pos, mask)), false, want, where);
    }
  }
}

TEST(RelayAttack, LowOrderEphemeralKeysAreRefused) {
  auto zero_key = [](int dir, size_t at) {
    return [=](int d, size_t i, const Bytes& frame) {
      Bytes f = frame;
      if (d == dir && i == 0) std::fill(f.begin() + long(at), f.begin() + long(at) + 32, 0);
      return RelayDecision::forward(std::move(f));
    };
  };
  expect_fails(run_hs_attack(zero_key(kToServer, 24)), false, ErrorCode::CHANNEL_WEAK_KEY, "e_i = 0");
  expect_fails(run_hs_attack(zero_key(kToClient, 16)), true, ErrorCode::CHANNEL_WEAK_KEY, "e_r = 0");
}

TEST(RelayAttack, ReflectedHelloIsRefused) {
  // The host answers the client's M1 with the client's own M1.
  ChannelWorld w(201);
  auto m1 = std::make_shared<Bytes>();
  w.relay.policy = [m1](int d, size_t i, const Bytes& frame) {
    if (d == kToServer && i == 0) *m1 = frame;
    if (d == kToClient && i == 0) return RelayDecision::forward(*m1);
    return RelayDecision::forward(frame);
  };
  w.run();
  EXPECT_EQ(code_name(w.client_state.handshake), "CHANNEL_BAD_MESSAGE");
  EXPECT_NE(code_name(w.server_state.handshake), "OK");
}

// ---- records ----------------------------------------------------------------------------------

struct RecOutcome {
  std::vector<Received> received;
  std::optional<Status> end;
  bool server_ok = false;
};

// Client sends `msgs` data records and then does `after`; the relay applies `policy`.
RecOutcome run_record_attack(RelayPolicy policy, const std::vector<Bytes>& msgs, After after,
                             uint64_t rekey_after_records = uint64_t(1) << 24) {
  ChannelWorld w(300);
  w.relay.policy = std::move(policy);
  for (const Bytes& m : msgs) w.client_spec.to_send.push_back(Outgoing::bytes(m));
  w.client_spec.after = after;
  w.client_spec.receive_count = 0;
  w.client_spec.config.rekey_after_records = rekey_after_records;
  w.run();
  RecOutcome o;
  o.server_ok = w.server_state.handshake && w.server_state.handshake->ok();
  o.received = w.server_state.received;
  o.end = w.server_state.receive_end;
  if (w.server_state.channel) {
    // Fail closed for good: nothing is readable afterwards.
    EXPECT_FALSE(w.server_state.channel->is_open());
  }
  return o;
}

std::vector<Bytes> three_msgs() { return {pattern(64, 1), pattern(64, 2), pattern(64, 3)}; }

void expect_record_outcome(const RecOutcome& o, size_t intact_prefix, ErrorCode want,
                           const std::vector<Bytes>& sent, const std::string& where) {
  ASSERT_TRUE(o.server_ok) << where;
  EXPECT_EQ(code_name(o.end), name(want)) << where << ": " << (o.end ? o.end->to_string() : "");
  ASSERT_EQ(o.received.size(), intact_prefix) << where;
  for (size_t i = 0; i < intact_prefix; ++i) EXPECT_EQ(o.received[i].payload, sent[i]) << where;
}

TEST(RelayAttack, EveryByteOfARecordFlipped) {
  std::vector<Bytes> msgs = {pattern(64, 1), pattern(64, 2)};
  CleanFrames f = clean_frames(2);
  const Bytes& rec = f.c2s_records[0];
  uint32_t len = decode_frame_header(rec.data()).length;
  size_t avail = len + f.c2s_records[1].size();  // bytes that follow the header before EOF
  for (size_t pos = 0; pos < rec.size(); ++pos) {
    for (uint8_t mask : masks_for(pos)) {
      std::string where = "record byte " + std::to_string(pos) + " ^" + std::to_string(mask);
      Bytes m = rec;
      m[pos] ^= mask;
      FrameHeader h = decode_frame_header(m.data());
      ErrorCode want = ErrorCode::CHANNEL_BAD_TAG;
      if (pos == 0) {
        want = is_record_type(h.type) ? ErrorCode::CHANNEL_BAD_TAG : ErrorCode::CHANNEL_UNKNOWN_TYPE;
      } else if (pos <= 3) {
        want = ErrorCode::CHANNEL_BAD_FLAGS;
      } else if (pos <= 11) {
        want = ErrorCode::CHANNEL_SEQUENCE_GAP;
      } else if (pos <= 15) {
        if (h.length > kMaxRecordLength) want = ErrorCode::CHANNEL_OVERSIZE;
        else if (h.length < kTagSize) want = ErrorCode::CHANNEL_BAD_MESSAGE;
        else if (h.length <= avail) want = ErrorCode::CHANNEL_BAD_TAG;
        else want = ErrorCode::CHANNEL_TRUNCATED;
      }
      expect_record_outcome(run_record_attack(flip_at(kToServer, 2, pos, mask), msgs, After::kAbort),
                            0, want, msgs, where);
    }
  }
}

TEST(RelayAttack, FlipsInALaterRecordLeaveEarlierOnesIntact) {
  std::vector<Bytes> msgs = three_msgs();
  struct Case {
    size_t pos;
    uint8_t mask;
    ErrorCode want;
  };
  const Case cases[] = {
      {0, 0x80, ErrorCode::CHANNEL_UNKNOWN_TYPE},
      {1, 0x01, ErrorCode::CHANNEL_BAD_FLAGS},
      {5, 0x01, ErrorCode::CHANNEL_SEQUENCE_GAP},   // seq 2 ^ 2^48
      {11, 0x01, ErrorCode::CHANNEL_SEQUENCE_GAP},  // seq 2 -> 3
      {15, 0x01, ErrorCode::CHANNEL_TRUNCATED},     // 81 bytes announced, 80 follow, then EOF
      {16, 0x01, ErrorCode::CHANNEL_BAD_TAG},
      {40, 0x01, ErrorCode::CHANNEL_BAD_TAG},
      {79, 0x01, ErrorCode::CHANNEL_BAD_TAG},
      {80, 0x01, ErrorCode::CHANNEL_BAD_TAG},  // first tag byte
      {95, 0x01, ErrorCode::CHANNEL_BAD_TAG},  // last tag byte
  };
  for (const Case& c : cases) {
    // The third record (frame 4 towards the server); the client aborts after sending.
    RecOutcome o = run_record_attack(flip_at(kToServer, 4, c.pos, c.mask), msgs, After::kAbort);
    expect_record_outcome(o, 2, c.want, msgs, "record 2 byte " + std::to_string(c.pos));
  }
}

TEST(RelayAttack, LowerSequenceNumberIsReplay) {
  std::vector<Bytes> msgs = three_msgs();
  // Record 2 with its sequence number rewritten to 1 (the header is not secret).
  RecOutcome o = run_record_attack(flip_at(kToServer, 4, 11, 0x03), msgs, After::kNothing);
  expect_record_outcome(o, 2, ErrorCode::CHANNEL_REPLAY, msgs, "seq 2 -> 1");
}

TEST(RelayAttack, ServerToClientRecordsAreProtectedToo) {
  for (size_t pos : {0, 2, 7, 20, 100}) {
    ChannelWorld w(301);
    w.relay.policy = flip_at(kToClient, 1, pos, pos == 0 ? 0x40 : 0x01);
    w.server_spec.to_send = {Outgoing::bytes(pattern(100, 7))};
    w.client_spec.receive_count = 1;
    w.run();
    ErrorCode want = pos == 0 ? ErrorCode::CHANNEL_UNKNOWN_TYPE
                     : pos == 2 ? ErrorCode::CHANNEL_BAD_FLAGS
                     : pos == 7 ? ErrorCode::CHANNEL_SEQUENCE_GAP
                                : ErrorCode::CHANNEL_BAD_TAG;
    EXPECT_EQ(code_name(w.client_state.receive_end), name(want)) << pos;
    EXPECT_TRUE(w.client_state.received.empty()) << pos;
  }
}

TEST(RelayAttack, DroppedRecordIsASequenceGap) {
  auto msgs = three_msgs();
  RecOutcome o = run_record_attack(
      [](int d, size_t i, const Bytes& f) {
        return d == kToServer && i == 3 ? RelayDecision::drop() : RelayDecision::forward(f);
      },
      msgs, After::kNothing);
  expect_record_outcome(o, 1, ErrorCode::CHANNEL_SEQUENCE_GAP, msgs, "drop");
}

TEST(RelayAttack, DuplicatedRecordIsAReplay) {
  auto msgs = three_msgs();
  RecOutcome o = run_record_attack(
      [](int d, size_t i, const Bytes& f) {
        if (d == kToServer && i == 3) return RelayDecision{{f, f}, false, false};
        return RelayDecision::forward(f);
      },
      msgs, After::kNothing);
  expect_record_outcome(o, 2, ErrorCode::CHANNEL_REPLAY, msgs, "duplicate");
}

TEST(RelayAttack, ReorderedRecordsAreASequenceGap) {
  auto msgs = three_msgs();
  auto held = std::make_shared<Bytes>();
  RecOutcome o = run_record_attack(
      [held](int d, size_t i, const Bytes& f) {
        if (d == kToServer && i == 3) {
          *held = f;
          return RelayDecision::drop();
        }
        if (d == kToServer && i == 4) return RelayDecision{{f, *held}, false, false};
        return RelayDecision::forward(f);
      },
      msgs, After::kNothing);
  expect_record_outcome(o, 1, ErrorCode::CHANNEL_SEQUENCE_GAP, msgs, "reorder");
}

TEST(RelayAttack, ReplayedOldRecordIsAReplay) {
  auto msgs = three_msgs();
  auto first = std::make_shared<Bytes>();
  RecOutcome o = run_record_attack(
      [first](int d, size_t i, const Bytes& f) {
        if (d == kToServer && i == 2) *first = f;
        if (d == kToServer && i == 4) return RelayDecision{{f, *first}, false, false};
        return RelayDecision::forward(f);
      },
      msgs, After::kNothing);
  expect_record_outcome(o, 3, ErrorCode::CHANNEL_REPLAY, msgs, "replay");
}

TEST(RelayAttack, TruncationInsideAFrame) {
  auto msgs = three_msgs();
  RecOutcome o = run_record_attack(
      [](int d, size_t i, const Bytes& f) {
        if (d == kToServer && i == 3)
          return RelayDecision{{Bytes(f.begin(), f.begin() + long(f.size() / 2))}, true, false};
        return RelayDecision::forward(f);
      },
      msgs, After::kNothing);
  expect_record_outcome(o, 1, ErrorCode::CHANNEL_TRUNCATED, msgs, "truncate in frame");
}

TEST(RelayAttack, TruncationInsideAHeader) {
  auto msgs = three_msgs();
  RecOutcome o = run_record_attack(
      [](int d, size_t i, const Bytes& f) {
        if (d == kToServer && i == 3) return RelayDecision{{Bytes(f.begin(), f.begin() + 7)}, true, false};
        return RelayDecision::forward(f);
      },
      msgs, After::kNothing);
  expect_record_outcome(o, 1, ErrorCode::CHANNEL_TRUNCATED, msgs, "truncate in header");
}

TEST(RelayAttack, TruncationAtAFrameBoundaryIsNotAClose) {
  auto msgs = three_msgs();
  RecOutcome o = run_record_attack(
      [](int d, size_t i, const Bytes& f) {
        if (d == kToServer && i == 3) return RelayDecision{{}, true, false};
        return RelayDecision::forward(f);
      },
      msgs, After::kNothing);
  expect_record_outcome(o, 1, ErrorCode::CHANNEL_TRUNCATED, msgs, "cut at boundary");
}

TEST(RelayAttack, DroppedCloseRecordIsTruncationNotPeerClosed) {
  auto msgs = three_msgs();
  RecOutcome o = run_record_attack(
      [](int d, size_t i, const Bytes& f) {
        if (d == kToServer && i == 5) return RelayDecision::drop();  // the close record
        return RelayDecision::forward(f);
      },
      msgs, After::kClose);
  expect_record_outcome(o, 3, ErrorCode::CHANNEL_TRUNCATED, msgs, "drop close");
}

TEST(RelayAttack, AlteredCloseRecordIsBadTagNotPeerClosed) {
  auto msgs = three_msgs();
  for (size_t pos : {0, 16, 31}) {
    // Frame 5 is the close record; 0x13 ^ 0x01 = 0x12 turns it into a "rekey" (bad tag too).
    RecOutcome o = run_record_attack(flip_at(kToServer, 5, pos, 0x01), msgs, After::kClose);
    expect_record_outcome(o, 3, ErrorCode::CHANNEL_BAD_TAG, msgs, "close byte " + std::to_string(pos));
  }
}

TEST(RelayAttack, AlteredTensorRecordIsNeverDelivered) {
  for (size_t pos : {16, 40, 1000, 4000}) {
    ChannelWorld w(302);
    w.relay.policy = flip_at(kToServer, 2, pos, 0x01);
    codec::TensorHeader h{codec::DType::F16, {2, 1024}, "x"};
    w.client_spec.to_send = {Outgoing::tensor_of(h, pattern(4096, 4))};
    w.server_spec.receive_count = 1;
    w.run();
    EXPECT_EQ(code_name(w.server_state.receive_end), "CHANNEL_BAD_TAG") << pos;
    EXPECT_TRUE(w.server_state.received.empty()) << pos;
  }
}

TEST(RelayAttack, OversizeLengthFailsBeforeTheBodyIsRead) {
  auto msgs = three_msgs();
  for (uint32_t bad : {kMaxRecordLength + 1, 0xffffffffu}) {
    RecOutcome o = run_record_attack(
        [bad](int d, size_t i, const Bytes& f) {
          if (d == kToServer && i == 3) {
            Bytes hdr(f.begin(), f.begin() + 16);
            store_u32_be(hdr.data() + 12, bad);
            return RelayDecision{{hdr}, false, true};  // header only, connection stays open
          }
          return RelayDecision::forward(f);
        },
        msgs, After::kNothing);
    expect_record_outcome(o, 1, ErrorCode::CHANNEL_OVERSIZE, msgs, "oversize " + std::to_string(bad));
  }
}

TEST(RelayAttack, ForgedRecordFailsAuthentication) {
  auto msgs = three_msgs();
  RecOutcome o = run_record_attack(
      [](int d, size_t i, const Bytes& f) {
        if (d == kToServer && i == 3) {
          Bytes forged = f;
          for (size_t k = 16; k < forged.size(); ++k) forged[k] = uint8_t(k * 31);
          return RelayDecision::forward(forged);
        }
        return RelayDecision::forward(f);
      },
      msgs, After::kNothing);
  expect_record_outcome(o, 1, ErrorCode::CHANNEL_BAD_TAG, msgs, "forged");
}

TEST(RelayAttack, RekeyRecordDroppedOrAltered) {
  auto msgs = three_msgs();
  // rekey_after_records = 1: m0 (seq 0), rekey (seq 1), m1 (seq 2), rekey (seq 3), m2 (seq 4).
  RecOutcome dropped = run_record_attack(
      [](int d, size_t i, const Bytes& f) {
        return d == kToServer && i == 3 ? RelayDecision::drop() : RelayDecision::forward(f);
      },
      msgs, After::kNothing, 1);
  expect_record_outcome(dropped, 1, ErrorCode::CHANNEL_SEQUENCE_GAP, msgs, "rekey dropped");
  RecOutcome altered = run_record_attack(flip_at(kToServer, 3, 20, 0x01), msgs, After::kNothing, 1);
  expect_record_outcome(altered, 1, ErrorCode::CHANNEL_BAD_TAG, msgs, "rekey altered");
  // A data record retyped as rekey (the type is in the AAD): bad tag, never a silent rekey.
  RecOutcome retyped = run_record_attack(flip_at(kToServer, 2, 0, 0x02), msgs, After::kNothing);
  expect_record_outcome(retyped, 0, ErrorCode::CHANNEL_BAD_TAG, msgs, "data as rekey");
}

// ---- replaying a whole handshake -----------------------------------------------------------------

TEST(RelayAttack, ReplayedInitiatorHandshakeIsRefused) {
  ChannelWorld w(400);
  w.client_spec.to_send = {Outgoing::bytes(to_bytes("session one"))};
  w.server_spec.receive_count = 1;
  w.run();
  ASSERT_EQ(w.server_state.received.size(), 1u);
  Bytes m1 = w.relay.seen[kToServer][0], m3 = w.relay.seen[kToServer][1];
  // The host replays the recorded M1 and M3 into a new connection to the server.
  w.server2_spec = w.server_spec;
  PeerState& st2 = w.server2_state;
  runtime::spawn(w.server, run_peer(&w.server_env, &w.server2_spec, &st2));
  runtime::spawn(w.host, replay_handshake(&w.host_env, runtime::Endpoint::tcp("server", 7000), m1,
                                          m3, &w.replay));
  ASSERT_TRUE(w.world.run_until_idle().ok());
  EXPECT_EQ(code_name(st2.handshake), "CHANNEL_BINDING_MISMATCH")
      << (st2.handshake ? st2.handshake->to_string() : "");
  EXPECT_TRUE(st2.received.empty());
}

TEST(RelayAttack, ReplayedResponderHandshakeIsRefused) {
  ChannelWorld w(401);
  auto old_m2 = std::make_shared<Bytes>();
  w.relay.policy = [old_m2](int d, size_t i, const Bytes& f) {
    if (d == kToClient && i == 0) {
      if (old_m2->empty()) {
        *old_m2 = f;  // first session: record it
      } else {
        return RelayDecision::forward(*old_m2);  // second session: answer with the old one
      }
    }
    return RelayDecision::forward(f);
  };
  w.client_spec.to_send = {Outgoing::bytes(to_bytes("one"))};
  w.server_spec.receive_count = 1;
  w.run(2);
  ASSERT_EQ(code_name(w.client_state.handshake), "OK");
  w.client2_spec = w.client_spec;
  w.server2_spec = w.server_spec;
  PeerState &cst2 = w.client2_state, &sst2 = w.server2_state;
  runtime::spawn(w.server, run_peer(&w.server_env, &w.server2_spec, &sst2));
  runtime::spawn(w.client, run_peer(&w.client_env, &w.client2_spec, &cst2));
  ASSERT_TRUE(w.world.run_until_idle().ok());
  EXPECT_EQ(code_name(cst2.handshake), "CHANNEL_BINDING_MISMATCH")
      << (cst2.handshake ? cst2.handshake->to_string() : "");
  EXPECT_TRUE(sst2.received.empty());
}

TEST(RelayAttack, RecordFromAnotherSessionFailsAuthentication) {
  ChannelWorld w(402);
  auto old_rec = std::make_shared<Bytes>();
  auto sessions = std::make_shared<int>(0);
  w.relay.policy = [old_rec, sessions](int d, size_t i, const Bytes& f) {
    if (d == kToServer && i == 0) ++*sessions;
    if (d == kToServer && i == 2) {
      if (*sessions == 1) *old_rec = f;
      else return RelayDecision::forward(*old_rec);  // same seq 0, other keys
    }
    return RelayDecision::forward(f);
  };
  w.client_spec.to_send = {Outgoing::bytes(to_bytes("one"))};
  w.server_spec.receive_count = 1;
  w.run(2);
  w.client2_spec = w.client_spec;
  w.server2_spec = w.server_spec;
  w.client2_spec.to_send = {Outgoing::bytes(to_bytes("two"))};
  PeerState &cst2 = w.client2_state, &sst2 = w.server2_state;
  runtime::spawn(w.server, run_peer(&w.server_env, &w.server2_spec, &sst2));
  runtime::spawn(w.client, run_peer(&w.client_env, &w.client2_spec, &cst2));
  ASSERT_TRUE(w.world.run_until_idle().ok());
  EXPECT_EQ(code_name(sst2.handshake), "OK");
  EXPECT_EQ(code_name(sst2.receive_end), "CHANNEL_BAD_TAG");
  EXPECT_TRUE(sst2.received.empty());
}

}  // namespace
}  // namespace cpipe::channel::testing

// The channel driver against a hand-scripted initiator that holds real keys (the sans-IO
// handshake plus a RecordSealer): what an authenticated but misbehaving peer can send — a tensor
// record that does not decode, rekey/close records with a payload — still closes the channel with
// its own code and delivers nothing.
#include <gtest/gtest.h>

#include "core/channel/handshake.h"
#include "core/channel/record_layer.h"
#include "tests/channel/sim_world_util.h"

namespace cpipe::channel::testing {
namespace {

struct Script {
  FrameType type;
  Bytes payload;
  std::optional<Status> result;
};

// Runs the initiator side by hand, then seals `script->payload` as one record of `script->type`.
Task<void> scripted_initiator(runtime::Env* env, runtime::AttestationProvider* provider,
                              Script* script) {
  Result<StreamPtr> s = co_await env->network->connect(runtime::Endpoint::tcp("server", 7000),
                                                       std::chrono::seconds(5));
  if (!s.ok()) {
    script->result = s.status();
    co_return;
  }
  StreamPtr stream = *s;
  InitiatorHandshake hs;
  Status st = co_await stream->write_all(hs.write_hello(*env->random));
  Bytes m2(kFrameHeaderSize);
  if (st.ok()) st = co_await runtime::read_exact(*stream, m2);
  if (st.ok()) {
    m2.resize(kFrameHeaderSize + decode_frame_header(m2.data()).length);
    st = co_await runtime::read_exact(*stream, MutableByteSpan(m2).subspan(kFrameHeaderSize));
  }
  if (st.ok()) st = hs.read_responder_auth(m2);
  Result<runtime::Evidence> ev = co_await provider->attest(hs.own_attestation_request());
  if (st.ok() && !ev.ok()) st = ev.status();
  Result<Bytes> m3 = st.ok() ? hs.write_initiator_auth(*ev) : Result<Bytes>(st);
  if (st.ok() && !m3.ok()) st = m3.status();
  if (st.ok()) st = co_await stream->write_all(*m3);
  if (!st.ok()) {
    script->result = st;
    co_return;
  }
  auto secrets = hs.traffic_secrets();
  auto sealer = RecordSealer::create(secrets->initiator_to_responder);
  RecordBuffer buf;
  ByteSpan parts[1] = {script->payload};
  st = sealer->seal(script->type, parts, buf);
  if (st.ok()) st = co_await stream->write_all(buf.span());
  script->result = st;
  // Wait for the server to hang up.
  Bytes sink(64);
  (void)co_await stream->read_some(sink);
}

std::string run_script(FrameType type, Bytes payload, size_t* delivered) {
  ChannelWorld w(500, /*via_relay=*/false);
  Script script{type, std::move(payload), std::nullopt};
  runtime::spawn(w.server, run_peer(&w.server_env, &w.server_spec, &w.server_state));
  runtime::spawn(w.client, scripted_initiator(&w.client_env, w.client_att.provider.get(), &script));
  EXPECT_TRUE(w.world.run_until_idle().ok());
  EXPECT_EQ(code_name(script.result), "OK");
  EXPECT_EQ(code_name(w.server_state.handshake), "OK");
  *delivered = w.server_state.received.size();
  return code_name(w.server_state.receive_end);
}

TEST(ScriptedPeer, ValidRecordIsDelivered) {
  ChannelWorld w(501, false);
  Script script{FrameType::kData, to_bytes("hand-made"), std::nullopt};
  w.server_spec.receive_count = 1;
  runtime::spawn(w.server, run_peer(&w.server_env, &w.server_spec, &w.server_state));
  runtime::spawn(w.client, scripted_initiator(&w.client_env, w.client_att.provider.get(), &script));
  ASSERT_TRUE(w.world.run_until_idle().ok());
  ASSERT_EQ(w.server_state.received.size(), 1u);
  EXPECT_EQ(to_string(w.server_state.received[0].payload), "hand-made");
}

TEST(ScriptedPeer, UndecodableTensorIsBadTensor) {
  size_t delivered = 1;
  EXPECT_EQ(run_script(FrameType::kTensor, to_bytes("not a tensor frame"), &delivered),
            "CHANNEL_BAD_TENSOR");
  EXPECT_EQ(delivered, 0u);
  auto frame = codec::encode_tensor(codec::TensorHeader{codec::DType::F32, {2}, "x"}, Bytes(8));
  ASSERT_TRUE(frame.ok());
  Bytes trailing = *frame;
  trailing.push_back(0);
  EXPECT_EQ(run_script(FrameType::kTensor, trailing, &delivered), "CHANNEL_BAD_TENSOR");
  EXPECT_EQ(delivered, 0u);
}

TEST(ScriptedPeer, RekeyOrCloseWithAPayloadIsBadMessage) {
  size_t delivered = 1;
  EXPECT_EQ(run_script(FrameType::kRekey, to_bytes("x"), &delivered), "CHANNEL_BAD_MESSAGE");
  EXPECT_EQ(delivered, 0u);
  EXPECT_EQ(run_script(FrameType::kClose, to_bytes("bye"), &delivered), "CHANNEL_BAD_MESSAGE");
  EXPECT_EQ(delivered, 0u);
}

TEST(ScriptedPeer, EmptyCloseIsPeerClosed) {
  size_t delivered = 1;
  EXPECT_EQ(run_script(FrameType::kClose, {}, &delivered), "CHANNEL_PEER_CLOSED");
}

}  // namespace
}  // namespace cpipe::channel::testing

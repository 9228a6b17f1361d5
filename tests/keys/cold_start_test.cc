// The cold start end to end in a SimWorld, DEVELOPMENT-ONLY dev-key path: the sealed tiny GPT-2
// comes from SimS3 through the host proxy in ranged GETs and arrives byte-identical; a chunk the
// host flips fails authentication and yields no model; truncated, padded, missing or foreign
// objects are refused; S3 faults are retried; and the model loaded from the in-memory files
// computes the same logits as the model loaded from disk.
#include <gtest/gtest.h>

#include "backends/simulated/sim_random.h"
#include "model/gpt2.h"
#include "tests/keys/cold_start_test_util.h"

namespace cpipe::keys {
namespace {

using testing::ColdStartWorld;
using testing::TinyModel;

class ColdStartDevTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto wrap = wrap_data_key_dev(dev_key, data_key, testing::kModelId, testing::kModelVersion, random);
    ASSERT_TRUE(wrap.ok());
    sealed = testing::seal_tiny(data_key, *wrap, random);
    ASSERT_FALSE(sealed.empty());
  }
  sim::SimRandom random{99};
  Bytes data_key = random.bytes(32);
  Bytes dev_key = random.bytes(32);
  Bytes sealed;
};

TEST_F(ColdStartDevTest, DeliversEveryFileByteIdenticalThroughTheProxy) {
  ColdStartWorld w;
  w.s3.put_object(testing::kObjectKey, sealed);
  auto r = w.run(w.dev_config(dev_key));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const TinyModel& m = TinyModel::get();
  ASSERT_EQ(r->files.size(), m.files.size());
  for (size_t i = 0; i < m.files.size(); ++i) {
    EXPECT_EQ(r->files[i].name, m.files[i].first);
    EXPECT_TRUE(r->files[i].data == m.files[i].second) << m.files[i].first;
  }
  EXPECT_EQ(r->model_id, testing::kModelId);
  EXPECT_EQ(r->manifest_hash, r->manifest.hash());
  EXPECT_TRUE(r->development_key);
  EXPECT_TRUE(r->evidence.document.empty());

  // Memory: each file in exactly one buffer of its size; the bound counts two chunks in flight.
  EXPECT_EQ(r->bytes_held(), m.total_bytes());
  const uint64_t chunks = (sealed.size() + testing::kChunkSize - 1) / testing::kChunkSize;
  EXPECT_EQ(r->stats.chunks, chunks);
  EXPECT_EQ(r->stats.object_size, sealed.size());
  EXPECT_EQ(r->stats.plaintext_bytes, m.total_bytes());
  EXPECT_LE(r->stats.peak_bytes_held, m.total_bytes() + 2 * (testing::kChunkSize + 16) + 64 * 1024);
  EXPECT_GT(r->stats.peak_bytes_held, m.total_bytes());

  // Every sealed byte crossed the host once, and only sealed bytes: the host never saw the
  // plaintext (a 64-byte window of the safetensors file does not appear in what it relayed).
  EXPECT_GE(r->stats.sealed_bytes_fetched, sealed.size() - 64 * 1024);
  EXPECT_GE(w.tap.down, sealed.size());
  const Bytes& st = m.files[1].second;
  const Bytes probe(st.begin() + 500000, st.begin() + 500064);
  EXPECT_EQ(std::search(w.tap.seen.begin(), w.tap.seen.end(), probe.begin(), probe.end()), w.tap.seen.end());

  // Timings come from the virtual clock: fetching took time, KMS and attestation were skipped.
  EXPECT_GT(r->timings.model_fetch_ms, 0);
  EXPECT_GT(r->timings.model_decrypt_ms, 0);
  EXPECT_EQ(r->timings.attestation_ms, 0);
  EXPECT_GE(r->timings.cold_start_total_ms + 1e-6, r->timings.model_fetch_ms + r->timings.model_decrypt_ms);
  EXPECT_NE(r->timings.to_json().find("\"cold_start_total_ms\":"), std::string::npos);

  // The dev path says so.
  bool dev_event = false;
  for (const auto& e : w.world.kept_events())
    if (e.event.name == "dev_key_used")
      for (const auto& f : e.event.fields) dev_event |= f.value == "DEVELOPMENT-ONLY";
  EXPECT_TRUE(dev_event);
}

TEST_F(ColdStartDevTest, AChunkTheHostFlipsFailsAuthenticationAndNoModelIsReturned) {
  ColdStartWorld w;
  w.s3.put_object(testing::kObjectKey, sealed);
  // Connection 0 carries HEAD, the 64 KiB header read, then chunk 0: offset 200000 is inside
  // chunk 0's body.
  w.proxy->add_tamper({"s3", 0, pipeline::RelayDirection::kToDownstream, 200000, 0x04});
  auto r = w.run(w.dev_config(dev_key));
  EXPECT_EQ(r.code(), ErrorCode::KEYS_CHUNK_AUTH_FAILED) << r.status().to_string();
  EXPECT_EQ(w.proxy->tampered_bytes(), 1u);
  EXPECT_TRUE(w.saw_event("cold_start_failed"));
}

TEST_F(ColdStartDevTest, ALaterChunkFlippedOnTheSecondConnectionFailsToo) {
  ColdStartWorld w;
  w.s3.put_object(testing::kObjectKey, sealed);
  w.proxy->add_tamper({"s3", 1, pipeline::RelayDirection::kToDownstream, 1500000, 0x80});
  auto r = w.run(w.dev_config(dev_key));
  EXPECT_EQ(r.code(), ErrorCode::KEYS_CHUNK_AUTH_FAILED) << r.status().to_string();
}

TEST_F(ColdStartDevTest, TruncatedOrPaddedObjectsAreRefusedBeforeAnyKeyUse) {
  {
    ColdStartWorld w;
    w.s3.put_object(testing::kObjectKey, Bytes(sealed.begin(), sealed.end() - 100));
    auto r = w.run(w.dev_config(dev_key));
    EXPECT_EQ(r.code(), ErrorCode::KEYS_TRUNCATED) << r.status().to_string();
  }
  {
    ColdStartWorld w;
    w.s3.put_object(testing::kObjectKey, Bytes(sealed.begin(), sealed.begin() + 100));  // inside the header
    auto r = w.run(w.dev_config(dev_key));
    EXPECT_EQ(r.code(), ErrorCode::KEYS_TRUNCATED) << r.status().to_string();
  }
  {
    ColdStartWorld w;
    w.s3.put_object(testing::kObjectKey, {});
    EXPECT_EQ(w.run(w.dev_config(dev_key)).code(), ErrorCode::KEYS_TRUNCATED);
  }
  {
    ColdStartWorld w;
    Bytes padded = sealed;
    padded.resize(padded.size() + 10, 0);
    w.s3.put_object(testing::kObjectKey, padded);
    auto r = w.run(w.dev_config(dev_key));
    EXPECT_EQ(r.code(), ErrorCode::KEYS_TRAILING_DATA) << r.status().to_string();
  }
}

TEST_F(ColdStartDevTest, MissingObjectWrongModelAndWrongKeyAreRefused) {
  {
    ColdStartWorld w;
    auto r = w.run(w.dev_config(dev_key));
    EXPECT_EQ(r.code(), ErrorCode::NOT_FOUND) << r.status().to_string();
  }
  {
    ColdStartWorld w;
    w.s3.put_object(testing::kObjectKey, sealed);
    ColdStartConfig c = w.dev_config(dev_key);
    c.model_id = "gpt2-other";  // the host serves another model than the stage means to load
    auto r = w.run(c);
    EXPECT_EQ(r.code(), ErrorCode::KEYS_SEALED_MODEL_INVALID) << r.status().to_string();
  }
  {
    ColdStartWorld w;
    w.s3.put_object(testing::kObjectKey, sealed);
    ColdStartConfig c = w.dev_config(dev_key);
    c.expected_manifest_hash = Bytes(32, 0xab);
    EXPECT_EQ(w.run(c).code(), ErrorCode::KEYS_SEALED_MODEL_INVALID);
  }
  {
    ColdStartWorld w;
    w.s3.put_object(testing::kObjectKey, sealed);
    auto r = w.run(w.dev_config(Bytes(32, 7)));
    EXPECT_EQ(r.code(), ErrorCode::KEYS_UNWRAP_FAILED) << r.status().to_string();
  }
  {
    ColdStartWorld w;
    w.s3.put_object(testing::kObjectKey, sealed);
    ColdStartConfig c = w.dev_config(dev_key);
    c.dev_key.reset();  // production path on a dev-key-sealed model
    EXPECT_EQ(w.run(c).code(), ErrorCode::FAILED_PRECONDITION);
  }
}

TEST_F(ColdStartDevTest, S3FaultsOnTheWayAreRetried) {
  ColdStartWorld w;
  w.s3.put_object(testing::kObjectKey, sealed);
  w.s3.fail_next(2, 503);
  auto r = w.run(w.dev_config(dev_key));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(w.store->stats().retries, 2u);
  EXPECT_EQ(w.s3.stats().injected, 2u);
}

TEST_F(ColdStartDevTest, WindowOfOneAndOfFourGiveTheSameFiles) {
  for (size_t window : {size_t(1), size_t(4)}) {
    ColdStartWorld w;
    w.s3.put_object(testing::kObjectKey, sealed);
    ColdStartConfig c = w.dev_config(dev_key);
    c.window_chunks = window;
    auto r = w.run(c);
    ASSERT_TRUE(r.ok()) << window << ": " << r.status().to_string();
    EXPECT_TRUE(r->files[1].data == TinyModel::get().files[1].second);
    EXPECT_EQ(w.store->stats().connections_opened, window == 1 ? 1u : 4u);
  }
}

TEST_F(ColdStartDevTest, SameSeedSameTraceHash) {
  std::string hashes[2];
  for (std::string& h : hashes) {
    ColdStartWorld w(77);
    w.s3.put_object(testing::kObjectKey, sealed);
    auto r = w.run(w.dev_config(dev_key));
    ASSERT_TRUE(r.ok());
    h = w.world.trace_hash();
  }
  EXPECT_EQ(hashes[0], hashes[1]);
}

// The load step builds the GPT-2 stage from the in-memory files; its logits equal those of the
// same model loaded from disk.
struct Loaded {
  std::unique_ptr<model::Gpt2Model> model;
};

Status load_gpt2(ColdStartResult& r, Loaded* out) {
  ModelFile* config = r.find("config.json");
  ModelFile* weights = r.find("model.safetensors");
  if (!config || !weights) return make_error(ErrorCode::MODEL_BAD_FILE, "missing files");
  CPIPE_ASSIGN_OR_RETURN(model::Gpt2Config c, model::parse_gpt2_config(to_string(config->data)));
  CPIPE_ASSIGN_OR_RETURN(auto st, model::SafetensorsFile::from_bytes(std::move(weights->data)));
  model::Gpt2Options o;
  o.threads = 1;
  CPIPE_ASSIGN_OR_RETURN(out->model, model::Gpt2Model::from_file(st, c, o));
  return Status::Ok();
}

std::vector<float> logits_of(model::Gpt2Model& m) {
  auto seq = m.new_sequence(16);
  const std::vector<int32_t> tokens = {464, 2068, 7586, 21831};
  auto r = m.forward(*seq, tokens);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return {};
  return std::vector<float>(r->begin(), r->end());
}

TEST_F(ColdStartDevTest, TheModelLoadedFromMemoryGivesTheSameLogitsAsFromDisk) {
  ColdStartWorld w;
  w.s3.put_object(testing::kObjectKey, sealed);
  Loaded loaded;
  ColdStartConfig c = w.dev_config(dev_key);
  c.load = [&loaded](ColdStartResult& r) { return load_gpt2(r, &loaded); };
  c.load_cost = std::chrono::milliseconds(30);
  auto r = w.run(c);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_NE(loaded.model, nullptr);
  EXPECT_NEAR(r->timings.model_load_ms, 30.0, 1e-9);
  EXPECT_TRUE(r->find("model.safetensors")->data.empty());  // moved into the engine, not copied

  model::Gpt2Options o;
  o.threads = 1;
  auto from_disk = model::Gpt2Model::load(TinyModel::get().dir, o);
  ASSERT_TRUE(from_disk.ok()) << from_disk.status().to_string();
  const std::vector<float> a = logits_of(*loaded.model), b = logits_of(**from_disk);
  ASSERT_EQ(a.size(), 50257u);
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace cpipe::keys

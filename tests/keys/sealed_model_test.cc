// Sealed-model format: round trips (one chunk, many, empty files, exact chunk boundaries, the
// real tiny-gpt2 files) and every tamper — header bytes, chunk bytes, tags, swapped, dropped,
// appended and spliced chunks, wrong keys — each rejected with its code and with no plaintext
// of the bad chunk released.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "backends/simulated/sim_random.h"
#include "core/crypto/aead.h"
#include "core/crypto/hash.h"
#include "core/keys/dev_key_wrap.h"
#include "core/keys/sealed_model_reader.h"
#include "core/keys/sealed_model_writer.h"

namespace cpipe::keys {
namespace {

using Files = std::vector<std::pair<std::string, Bytes>>;

struct Sealed {
  Bytes header;
  std::vector<Bytes> chunks;
  SealedModelHeader h;
};

Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 31 + (i >> 8));
  return b;
}

Manifest manifest_of(const Files& files) {
  Manifest m;
  for (const auto& [name, data] : files) m.files.push_back({name, data.size(), crypto::sha256(data)});
  return m;
}

// Seals `files` (fed in `piece`-byte writes, in manifest order).
Sealed seal(Files files, ByteSpan data_key, KeyWrap wrap, runtime::Random& random, uint32_t chunk_size,
            const std::string& model_id = "gpt2-test", size_t piece = 1000) {
  std::sort(files.begin(), files.end());
  Sealed s;
  SealOptions o{model_id, "1", chunk_size};
  auto w = SealedModelWriter::create(o, manifest_of(files), data_key, std::move(wrap), random,
                                     [&](uint64_t index, ByteSpan chunk) {
                                       EXPECT_EQ(index, s.chunks.size());
                                       s.chunks.emplace_back(chunk.begin(), chunk.end());
                                       return Status::Ok();
                                     });
  EXPECT_TRUE(w.ok()) << w.status().to_string();
  s.header = (*w)->header_bytes();
  s.h = (*w)->header();
  for (const auto& f : files)
    for (size_t off = 0; off < f.second.size(); off += piece)
      EXPECT_TRUE((*w)->write(ByteSpan(f.second).subspan(off, std::min(piece, f.second.size() - off))).ok());
  Status fin = (*w)->finish();
  EXPECT_TRUE(fin.ok()) << fin.to_string();
  EXPECT_EQ(s.chunks.size(), s.h.chunk_count);
  return s;
}

struct CollectSink : ModelSink {
  std::optional<Manifest> manifest;
  std::map<size_t, Bytes> files;
  std::vector<size_t> ended;
  size_t released = 0;
  Status on_manifest(const Manifest& m) override {
    manifest = m;
    return Status::Ok();
  }
  Status on_file_data(size_t i, uint64_t offset, ByteSpan data) override {
    EXPECT_EQ(offset, files[i].size());
    files[i].insert(files[i].end(), data.begin(), data.end());
    released += data.size();
    return Status::Ok();
  }
  Status on_file_end(size_t i) override {
    ended.push_back(i);
    return Status::Ok();
  }
};

// Parses the header, opens with `key`, pushes every chunk, finishes: the first error.
Status open_all(ByteSpan header, const std::vector<Bytes>& chunks, ByteSpan key, CollectSink& sink) {
  CPIPE_ASSIGN_OR_RETURN(SealedModelHeader h, parse_header(header));
  CPIPE_ASSIGN_OR_RETURN(auto reader, SealedModelReader::open(h, key));
  for (const Bytes& c : chunks) CPIPE_RETURN_IF_ERROR(reader->push_chunk(c, sink));
  return reader->finish();
}

class SealedModelTest : public ::testing::Test {
 protected:
  sim::SimRandom random{42};
  Bytes data_key = random.bytes(32);
  Bytes dev_key = random.bytes(32);
  KeyWrap dev_wrap(const std::string& model_id = "gpt2-test") {
    auto w = wrap_data_key_dev(dev_key, data_key, model_id, "1", random);
    EXPECT_TRUE(w.ok());
    return *w;
  }
  Files multi_files() {
    return {{"config.json", to_bytes("{\"n_layer\": 2}")},
            {"model.safetensors", pattern(23000, 7)},
            {"tokenizer/empty.txt", {}},
            {"tokenizer/vocab.json", pattern(5000, 99)}};
  }
  void expect_round_trip(const Files& files, uint32_t chunk_size, size_t piece = 1000) {
    Sealed s = seal(files, data_key, dev_wrap(), random, chunk_size, "gpt2-test", piece);
    auto h = parse_header(s.header);
    ASSERT_TRUE(h.ok());
    auto key = unwrap_data_key_dev(*h, dev_key);
    ASSERT_TRUE(key.ok()) << key.status().to_string();
    CollectSink sink;
    ASSERT_TRUE(open_all(s.header, s.chunks, *key, sink).ok());
    Files sorted = files;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_TRUE(sink.manifest.has_value());
    ASSERT_EQ(sink.manifest->files.size(), sorted.size());
    for (size_t i = 0; i < sorted.size(); ++i) {
      EXPECT_EQ(sink.manifest->files[i].name, sorted[i].first);
      EXPECT_EQ(sink.files[i], sorted[i].second) << sorted[i].first;
    }
    std::vector<size_t> all(sorted.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    EXPECT_EQ(sink.ended, all);
    // The sealed size is the header plus every chunk, and offsets are computable.
    size_t total = s.header.size();
    for (size_t i = 0; i < s.chunks.size(); ++i) {
      EXPECT_EQ(h->chunk_offset(i), total);
      EXPECT_EQ(s.chunks[i].size(), h->sealed_chunk_size(i));
      total += s.chunks[i].size();
    }
    EXPECT_EQ(h->sealed_size(), total);
  }
  // File sizes making the plaintext stream exactly `stream_size` bytes.
  Files files_with_stream_size(uint64_t stream_size) {
    Files f = {{"a.bin", pattern(100, 1)}, {"b.bin", {}}};
    const uint64_t overhead = 4 + manifest_of(f).encode().size() + 100;
    f[1].second = pattern(stream_size - overhead, 2);
    return f;
  }
};

TEST_F(SealedModelTest, RoundTripSingleChunk) {
  Files f = {{"config.json", to_bytes("{}")}, {"model.safetensors", pattern(300, 3)}};
  Sealed s = seal(f, data_key, dev_wrap(), random, kMinChunkSize);
  EXPECT_EQ(s.chunks.size(), 1u);
  expect_round_trip(f, kMinChunkSize);
}

TEST_F(SealedModelTest, RoundTripManyChunksWithEmptyFileAndOddWriteSizes) {
  for (size_t piece : {1u, 999u, 4096u, 100000u}) {
    SCOPED_TRACE(piece);
    expect_round_trip(multi_files(), kMinChunkSize, piece);
  }
}

TEST_F(SealedModelTest, RoundTripManifestSpanningSeveralChunksWithEmptiesAtBothEnds) {
  Files f;
  f.emplace_back("000-empty", Bytes{});
  for (int i = 0; i < 300; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "shard/%03d-of-300-with-a-longish-name.bin", i);
    f.emplace_back(name, pattern(static_cast<size_t>(i * 7 % 50), static_cast<uint8_t>(i)));
  }
  f.emplace_back("zzz-empty", Bytes{});
  ASSERT_GT(manifest_of(f).encode().size(), 4u * kMinChunkSize);
  expect_round_trip(f, kMinChunkSize, 333);
}

TEST_F(SealedModelTest, RoundTripOnlyEmptyFilesAndNoFiles) {
  expect_round_trip({{"empty", {}}}, kMinChunkSize);
  expect_round_trip({}, kMinChunkSize);
}

TEST_F(SealedModelTest, RoundTripAtExactChunkBoundaries) {
  for (uint64_t stream :
       {uint64_t(kMinChunkSize) - 1, uint64_t(kMinChunkSize), uint64_t(kMinChunkSize) + 1,
        uint64_t(3) * kMinChunkSize - 1, uint64_t(3) * kMinChunkSize, uint64_t(3) * kMinChunkSize + 1}) {
    SCOPED_TRACE(stream);
    Files f = files_with_stream_size(stream);
    Sealed s = seal(f, data_key, dev_wrap(), random, kMinChunkSize);
    EXPECT_EQ(s.h.stream_size, stream);
    EXPECT_EQ(s.chunks.size(), (stream + kMinChunkSize - 1) / kMinChunkSize);
    EXPECT_EQ(s.chunks.back().size(), stream - (s.chunks.size() - 1) * kMinChunkSize + kSealedTagSize);
    expect_round_trip(f, kMinChunkSize);
  }
}

TEST_F(SealedModelTest, RoundTripRealTinyGpt2Files) {
  Files f;
  for (const char* name : {"config.json", "model.safetensors", "generation_config.json"}) {
    std::ifstream in(std::string(CPIPE_SHARED_DATA) + "/tiny-gpt2/" + name, std::ios::binary);
    ASSERT_TRUE(in.good()) << name;
    std::stringstream ss;
    ss << in.rdbuf();
    f.emplace_back(name, to_bytes(ss.str()));
  }
  expect_round_trip(f, 64 * 1024, 1u << 20);
}

TEST_F(SealedModelTest, DefaultChunkSizeIsFourMiB) {
  Sealed s = seal({{"m", pattern(10, 1)}}, data_key, dev_wrap(), random, kDefaultChunkSize);
  EXPECT_EQ(s.h.chunk_size, 4u << 20);
}

TEST_F(SealedModelTest, EveryHeaderByteFlipIsRejectedBeforeAnyPlaintext) {
  Sealed s = seal(multi_files(), data_key, dev_wrap(), random, kMinChunkSize);
  const size_t core_size = s.header.size() - (1 + kDevKeyIdSize + 12 + kDataKeySize + kSealedTagSize);
  const std::set<ErrorCode> allowed = {ErrorCode::KEYS_SEALED_MODEL_INVALID, ErrorCode::KEYS_TRUNCATED,
                                       ErrorCode::KEYS_CHUNK_AUTH_FAILED, ErrorCode::KEYS_UNWRAP_FAILED};
  for (size_t pos = 0; pos < s.header.size(); ++pos) {
    for (uint8_t mask : {0x01, 0x80}) {
      Bytes header = s.header;
      header[pos] ^= mask;
      SCOPED_TRACE("byte " + std::to_string(pos));
      // The dev-key path: unwrap, then open.
      auto h = parse_header(header);
      Status st = h.status();
      CollectSink sink;
      if (h.ok()) {
        auto key = unwrap_data_key_dev(*h, dev_key);
        st = key.ok() ? open_all(header, s.chunks, *key, sink) : key.status();
      }
      EXPECT_FALSE(st.ok());
      EXPECT_TRUE(allowed.count(st.code())) << st.to_string();
      EXPECT_EQ(sink.released, 0u);
      // The KMS path (data key released directly): every byte of the core is still bound by
      // the chunks' AAD, so the first chunk refuses whenever the header still parses.
      if (pos < core_size) {
        CollectSink sink2;
        Status st2 = open_all(header, s.chunks, data_key, sink2);
        // (A changed chunk size shows as a chunk of the wrong length first.)
        if (h.ok()) {
          EXPECT_TRUE(st2.code() == ErrorCode::KEYS_CHUNK_AUTH_FAILED || st2.code() == ErrorCode::KEYS_TRUNCATED)
              << st2.to_string();
        }
        EXPECT_FALSE(st2.ok());
        EXPECT_EQ(sink2.released, 0u);
      }
    }
  }
}

TEST_F(SealedModelTest, CoreFieldChangesFailChunkZeroEvenWithTheRightKey) {
  // Re-encode headers with one field changed (a consistent, well-formed header): the chunks,
  // whose AAD binds the original, must all refuse.
  Sealed s = seal(multi_files(), data_key, dev_wrap(), random, kMinChunkSize);
  auto mutate = [&](auto fn) {
    SealedModelHeader h = s.h;
    fn(h);
    auto bytes = encode_header(h);
    EXPECT_TRUE(bytes.ok());
    CollectSink sink;
    Status st = open_all(*bytes, s.chunks, data_key, sink);
    EXPECT_EQ(st.code(), ErrorCode::KEYS_CHUNK_AUTH_FAILED) << st.to_string();
    EXPECT_EQ(sink.released, 0u);
  };
  mutate([](SealedModelHeader& h) { h.model_id = "other-model"; });
  mutate([](SealedModelHeader& h) { h.model_version = "2"; });
  mutate([](SealedModelHeader& h) { h.manifest_hash[0] ^= 1; });
  mutate([](SealedModelHeader& h) { h.file_id[15] ^= 1; });
  mutate([](SealedModelHeader& h) {  // one chunk more: stream_size grows by a chunk
    h.stream_size += h.chunk_size;
    h.chunk_count += 1;
  });
}

TEST_F(SealedModelTest, EveryChunkAndTagByteFlipFailsThatChunkOnly) {
  Sealed s = seal(multi_files(), data_key, dev_wrap(), random, kMinChunkSize);
  ASSERT_GE(s.chunks.size(), 5u);
  CollectSink clean;
  ASSERT_TRUE(open_all(s.header, s.chunks, data_key, clean).ok());
  Bytes all_files;
  for (auto& [i, b] : clean.files) all_files.insert(all_files.end(), b.begin(), b.end());
  const size_t prefix = s.h.stream_size - all_files.size();  // u32 length + manifest
  for (size_t i = 0; i < s.chunks.size(); ++i) {
    for (size_t pos :
         {size_t(0), s.chunks[i].size() / 2, s.chunks[i].size() - kSealedTagSize, s.chunks[i].size() - 1}) {
      SCOPED_TRACE("chunk " + std::to_string(i) + " byte " + std::to_string(pos));
      auto chunks = s.chunks;
      chunks[i][pos] ^= 0x04;
      CollectSink sink;
      Status st = open_all(s.header, chunks, data_key, sink);
      EXPECT_EQ(st.code(), ErrorCode::KEYS_CHUNK_AUTH_FAILED) << st.to_string();
      // Exactly the file bytes of the chunks before i were released, none of chunk i.
      const size_t before = std::max<int64_t>(0, int64_t(i * kMinChunkSize) - int64_t(prefix));
      EXPECT_EQ(sink.released, std::min(before, all_files.size()));
    }
  }
}

TEST_F(SealedModelTest, FailedChunkBufferHoldsNoPlaintextAndReaderStaysClosed) {
  Sealed s = seal(multi_files(), data_key, dev_wrap(), random, kMinChunkSize);
  auto reader = SealedModelReader::open(s.h, data_key);
  ASSERT_TRUE(reader.ok());
  CollectSink sink;
  Bytes c0 = s.chunks[0];
  ASSERT_TRUE((*reader)->push_chunk_in_place(c0, sink).ok());
  Bytes bad = s.chunks[1];
  bad[10] ^= 1;
  EXPECT_EQ((*reader)->push_chunk_in_place(bad, sink).code(), ErrorCode::KEYS_CHUNK_AUTH_FAILED);
  EXPECT_EQ(bad, Bytes(bad.size(), 0));
  // Fail closed: even the genuine chunk 1 is refused now.
  Bytes good = s.chunks[1];
  EXPECT_EQ((*reader)->push_chunk_in_place(good, sink).code(), ErrorCode::KEYS_CHUNK_AUTH_FAILED);
  EXPECT_EQ((*reader)->finish().code(), ErrorCode::KEYS_CHUNK_AUTH_FAILED);
}

TEST_F(SealedModelTest, SwappedChunksFail) {
  Sealed s = seal(multi_files(), data_key, dev_wrap(), random, kMinChunkSize);
  for (size_t i = 0; i + 1 < s.chunks.size(); ++i) {
    auto chunks = s.chunks;
    std::swap(chunks[i], chunks[i + 1]);
    CollectSink sink;
    Status st = open_all(s.header, chunks, data_key, sink);
    // The last chunk is shorter: swapped in early it is a short chunk, otherwise a bad tag.
    EXPECT_TRUE(st.code() == ErrorCode::KEYS_CHUNK_AUTH_FAILED || st.code() == ErrorCode::KEYS_TRUNCATED)
        << st.to_string();
  }
  auto chunks = s.chunks;
  std::swap(chunks[1], chunks[3]);  // same-size chunks
  CollectSink sink;
  EXPECT_EQ(open_all(s.header, chunks, data_key, sink).code(), ErrorCode::KEYS_CHUNK_AUTH_FAILED);
}

TEST_F(SealedModelTest, DroppedLastChunkIsTruncation) {
  Sealed s = seal(multi_files(), data_key, dev_wrap(), random, kMinChunkSize);
  auto chunks = s.chunks;
  chunks.pop_back();
  CollectSink sink;
  EXPECT_EQ(open_all(s.header, chunks, data_key, sink).code(), ErrorCode::KEYS_TRUNCATED);
  // A chunk cut short is truncation too; one byte too many is not a valid chunk.
  chunks = s.chunks;
  chunks.back().pop_back();
  CollectSink sink2, sink3;
  EXPECT_EQ(open_all(s.header, chunks, data_key, sink2).code(), ErrorCode::KEYS_TRUNCATED);
  chunks = s.chunks;
  chunks.back().push_back(0);
  EXPECT_EQ(open_all(s.header, chunks, data_key, sink3).code(), ErrorCode::KEYS_CHUNK_AUTH_FAILED);
}

TEST_F(SealedModelTest, AppendedChunkIsTrailingData) {
  Sealed s = seal(multi_files(), data_key, dev_wrap(), random, kMinChunkSize);
  auto chunks = s.chunks;
  chunks.push_back(s.chunks.back());
  CollectSink sink;
  EXPECT_EQ(open_all(s.header, chunks, data_key, sink).code(), ErrorCode::KEYS_TRAILING_DATA);
}

TEST_F(SealedModelTest, ChunkSplicedFromAnotherModelWithTheSameKeyFails) {
  // Same data key, same model id, version and contents: only the per-sealing file id differs.
  Sealed a = seal(multi_files(), data_key, dev_wrap(), random, kMinChunkSize);
  Sealed b = seal(multi_files(), data_key, dev_wrap(), random, kMinChunkSize);
  ASSERT_NE(a.h.file_id, b.h.file_id);
  for (size_t i = 0; i < a.chunks.size(); ++i) {
    auto chunks = a.chunks;
    chunks[i] = b.chunks[i];
    CollectSink sink;
    EXPECT_EQ(open_all(a.header, chunks, data_key, sink).code(), ErrorCode::KEYS_CHUNK_AUTH_FAILED) << i;
  }
  // And a different model sealed under the same key.
  Sealed c = seal(multi_files(), data_key, dev_wrap("other"), random, kMinChunkSize, "other");
  auto chunks = a.chunks;
  chunks[2] = c.chunks[2];
  CollectSink sink;
  EXPECT_EQ(open_all(a.header, chunks, data_key, sink).code(), ErrorCode::KEYS_CHUNK_AUTH_FAILED);
}

TEST_F(SealedModelTest, WrongKeysAreRefused) {
  Sealed s = seal(multi_files(), data_key, dev_wrap(), random, kMinChunkSize);
  CollectSink sink;
  EXPECT_EQ(open_all(s.header, s.chunks, random.bytes(32), sink).code(), ErrorCode::KEYS_CHUNK_AUTH_FAILED);
  EXPECT_EQ(sink.released, 0u);
  auto h = parse_header(s.header);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(unwrap_data_key_dev(*h, random.bytes(32)).code(), ErrorCode::KEYS_UNWRAP_FAILED);
  EXPECT_EQ(unwrap_data_key_dev(*h, Bytes(16, 1)).code(), ErrorCode::CRYPTO_BAD_KEY);
  // A dev wrap moved onto another model's header does not unwrap.
  SealedModelHeader moved = *h;
  moved.model_id = "other";
  EXPECT_EQ(unwrap_data_key_dev(moved, dev_key).code(), ErrorCode::KEYS_UNWRAP_FAILED);
}

TEST_F(SealedModelTest, TruncatedHeaderAndForeignFilesAreRecognized) {
  Sealed s = seal(multi_files(), data_key, dev_wrap(), random, kMinChunkSize);
  for (size_t n : {size_t(0), size_t(10), size_t(16), s.header.size() - 1})
    EXPECT_EQ(parse_header(ByteSpan(s.header).subspan(0, n)).code(), ErrorCode::KEYS_TRUNCATED) << n;
  EXPECT_EQ(parse_header(to_bytes("PK\x03\x04 this is a zip file, not a model")).code(),
            ErrorCode::KEYS_SEALED_MODEL_INVALID);
}

// A dishonest or buggy sealer (it holds the data key, so its chunks authenticate): the reader
// still refuses contents that disagree with the manifest, and unsafe names.
class DishonestSealerTest : public SealedModelTest {
 protected:
  // Seals `stream` as-is under data_key, with `manifest_hash` in the header.
  Sealed seal_raw(const Bytes& stream, const Bytes& manifest_hash) {
    Sealed s;
    s.h.model_id = "m";
    s.h.model_version = "1";
    s.h.chunk_size = kMinChunkSize;
    s.h.stream_size = stream.size();
    s.h.chunk_count = chunk_count_for(stream.size(), kMinChunkSize);
    s.h.manifest_hash = manifest_hash;
    s.h.file_id = random.bytes(kFileIdSize);
    s.h.wrap = dev_wrap("m");
    s.header = *encode_header(s.h);
    auto aead = crypto::ChaCha20Poly1305::create(*derive_chunk_key(data_key, s.h.file_id));
    for (uint64_t i = 0; i < s.h.chunk_count; ++i) {
      ByteSpan plain = ByteSpan(stream).subspan(i * kMinChunkSize, s.h.plain_chunk_size(i));
      s.chunks.push_back(*aead->seal(chunk_nonce(i), chunk_aad(s.h, i), plain));
    }
    return s;
  }
  static Bytes stream_of(const Manifest& m, const Bytes& contents) {
    // Sized up front: GCC 12 misreports inserts into a small fresh vector (-Warray-bounds).
    const Bytes mb = m.encode();
    Bytes out(4 + mb.size() + contents.size());
    store_u32_be(out.data(), static_cast<uint32_t>(mb.size()));
    std::copy(mb.begin(), mb.end(), out.begin() + 4);
    std::copy(contents.begin(), contents.end(), out.begin() + 4 + static_cast<std::ptrdiff_t>(mb.size()));
    return out;
  }
};

TEST_F(DishonestSealerTest, FileHashDisagreeingWithTheManifestIsRefusedAtTheFileEnd) {
  Bytes contents = pattern(9000, 1);
  Manifest m;
  m.files.push_back({"model.safetensors", contents.size(), crypto::sha256(pattern(9000, 2))});
  Sealed s = seal_raw(stream_of(m, contents), m.hash());
  CollectSink sink;
  EXPECT_EQ(open_all(s.header, s.chunks, data_key, sink).code(), ErrorCode::KEYS_MANIFEST_MISMATCH);
  EXPECT_TRUE(sink.ended.empty());  // the file is never declared complete
}

TEST_F(DishonestSealerTest, ManifestHashOrSizesDisagreeingWithTheHeaderAreRefused) {
  Bytes contents = pattern(100, 1);
  Manifest m;
  m.files.push_back({"a", contents.size(), crypto::sha256(contents)});
  Bytes wrong = m.hash();
  wrong[0] ^= 1;
  CollectSink s1;
  Sealed a = seal_raw(stream_of(m, contents), wrong);
  EXPECT_EQ(open_all(a.header, a.chunks, data_key, s1).code(), ErrorCode::KEYS_MANIFEST_MISMATCH);
  EXPECT_FALSE(s1.manifest.has_value());
  Bytes longer = contents;
  longer.push_back(0);  // one byte more than the manifest lists
  CollectSink s2;
  Sealed b = seal_raw(stream_of(m, longer), m.hash());
  EXPECT_EQ(open_all(b.header, b.chunks, data_key, s2).code(), ErrorCode::KEYS_MANIFEST_MISMATCH);
  EXPECT_EQ(s2.released, 0u);
}

TEST_F(DishonestSealerTest, PathTraversalNamesAreRefusedEvenWhenAuthenticated) {
  Manifest m;
  m.files.push_back({"../../etc/cron.d/evil", 0, crypto::sha256({})});
  Sealed s = seal_raw(stream_of(m, {}), m.hash());
  CollectSink sink;
  EXPECT_EQ(open_all(s.header, s.chunks, data_key, sink).code(), ErrorCode::KEYS_MANIFEST_MISMATCH);
  EXPECT_FALSE(sink.manifest.has_value());
}

TEST_F(SealedModelTest, WriterRefusesBytesThatDifferFromTheManifest) {
  Files f = {{"a", pattern(5000, 1)}};
  std::vector<Bytes> out;
  auto sink = [&](uint64_t, ByteSpan c) {
    out.emplace_back(c.begin(), c.end());
    return Status::Ok();
  };
  auto w =
      SealedModelWriter::create({"m", "1", kMinChunkSize}, manifest_of(f), data_key, dev_wrap("m"), random, sink);
  ASSERT_TRUE(w.ok());
  Bytes other = pattern(5000, 2);
  EXPECT_EQ((*w)->write(other).code(), ErrorCode::KEYS_MANIFEST_MISMATCH);
  EXPECT_EQ((*w)->finish().code(), ErrorCode::KEYS_MANIFEST_MISMATCH);

  auto w2 =
      SealedModelWriter::create({"m", "1", kMinChunkSize}, manifest_of(f), data_key, dev_wrap("m"), random, sink);
  ASSERT_TRUE(w2.ok());
  ASSERT_TRUE((*w2)->write(ByteSpan(f[0].second).subspan(0, 4000)).ok());
  EXPECT_EQ((*w2)->finish().code(), ErrorCode::KEYS_MANIFEST_MISMATCH);

  auto w3 =
      SealedModelWriter::create({"m", "1", kMinChunkSize}, manifest_of(f), data_key, dev_wrap("m"), random, sink);
  ASSERT_TRUE(w3.ok());
  Bytes longer = f[0].second;
  longer.push_back(0);
  EXPECT_EQ((*w3)->write(longer).code(), ErrorCode::KEYS_MANIFEST_MISMATCH);
}

TEST_F(SealedModelTest, UnsafeOrDuplicateNamesAreRefused) {
  for (const char* name : {"../etc/passwd", "/abs", "a//b", "a/./b", "a/..", "", "a\\b"}) {
    EXPECT_FALSE(is_safe_manifest_name(name)) << name;
    Manifest m;
    m.files.push_back({name, 0, crypto::sha256({})});
    EXPECT_EQ(m.normalize().code(), ErrorCode::INVALID_ARGUMENT) << name;
  }
  EXPECT_TRUE(is_safe_manifest_name("tokenizer/vocab.json"));
  Manifest dup;
  dup.files = {{"a", 0, crypto::sha256({})}, {"a", 0, crypto::sha256({})}};
  EXPECT_EQ(dup.normalize().code(), ErrorCode::INVALID_ARGUMENT);
}

TEST_F(SealedModelTest, OptionsOutOfRangeAreRefused) {
  auto sink = [](uint64_t, ByteSpan) { return Status::Ok(); };
  EXPECT_EQ(SealedModelWriter::create({"m", "1", 100}, {}, data_key, dev_wrap("m"), random, sink).code(),
            ErrorCode::INVALID_ARGUMENT);
  EXPECT_EQ(SealedModelWriter::create({"", "1", kMinChunkSize}, {}, data_key, dev_wrap(""), random, sink).code(),
            ErrorCode::INVALID_ARGUMENT);
  EXPECT_EQ(
      SealedModelWriter::create({"m", "1", kMinChunkSize}, {}, Bytes(31), dev_wrap("m"), random, sink).code(),
      ErrorCode::CRYPTO_BAD_KEY);
}

TEST_F(SealedModelTest, CallersCheckTheHeaderIsTheModelTheyExpect) {
  Sealed s = seal(multi_files(), data_key, dev_wrap(), random, kMinChunkSize);
  EXPECT_TRUE(check_expected_model(s.h, "gpt2-test", "1").ok());
  EXPECT_TRUE(check_expected_model(s.h, "gpt2-test", "1", s.h.manifest_hash).ok());
  EXPECT_EQ(check_expected_model(s.h, "gpt2-test", "0").code(), ErrorCode::KEYS_SEALED_MODEL_INVALID);
  EXPECT_EQ(check_expected_model(s.h, "other", "1").code(), ErrorCode::KEYS_SEALED_MODEL_INVALID);
  Bytes other_hash = s.h.manifest_hash;
  other_hash[31] ^= 1;
  EXPECT_EQ(check_expected_model(s.h, "gpt2-test", "1", other_hash).code(), ErrorCode::KEYS_SEALED_MODEL_INVALID);
}

TEST_F(SealedModelTest, KmsWrappedHeaderRoundTripsItsFields) {
  KeyWrap wrap;
  wrap.kind = KeyWrapKind::kKms;
  wrap.kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
  wrap.kms_ciphertext_blob = pattern(184, 5);
  Sealed s = seal(multi_files(), data_key, wrap, random, kMinChunkSize);
  auto h = parse_header(s.header);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->wrap.kind, KeyWrapKind::kKms);
  EXPECT_EQ(h->wrap.kms_key_arn, wrap.kms_key_arn);
  EXPECT_EQ(h->wrap.kms_ciphertext_blob, wrap.kms_ciphertext_blob);
  EXPECT_EQ(unwrap_data_key_dev(*h, dev_key).code(), ErrorCode::FAILED_PRECONDITION);
  CollectSink sink;
  EXPECT_TRUE(open_all(s.header, s.chunks, data_key, sink).ok());
}

}  // namespace
}  // namespace cpipe::keys

// SealedModelWriter: turns a model directory's files, fed in manifest order and in pieces of
// any size, into a sealed model, emitting one sealed chunk at a time. Memory: one chunk.
//
// The caller hashes the files first (the manifest goes into the header and every chunk's AAD
// before the first chunk exists), then streams their bytes; the writer re-hashes what it is
// given and fails with KEYS_MANIFEST_MISMATCH if the bytes differ from the manifest.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/crypto/aead.h"
#include "core/crypto/hash.h"
#include "core/keys/sealed_model_format.h"
#include "core/runtime/random.h"

namespace cpipe::keys {

struct SealOptions {
  std::string model_id;
  std::string model_version;
  uint32_t chunk_size = kDefaultChunkSize;
};

// Receives sealed chunks in order (index 0, 1, ...). An error stops the writer.
using SealedChunkSink = std::function<Status(uint64_t index, ByteSpan sealed_chunk)>;

class SealedModelWriter {
 public:
  // `manifest` is normalized (sorted) here; file contents must then be written in that order.
  // The file id comes from `random`. data_key: 32 bytes, wrapped by `wrap`.
  static Result<std::unique_ptr<SealedModelWriter>> create(const SealOptions& options, Manifest manifest,
                                                           ByteSpan data_key, KeyWrap wrap,
                                                           runtime::Random& random, SealedChunkSink sink);
  ~SealedModelWriter();

  // The complete header: write it before the chunks.
  const Bytes& header_bytes() const { return header_bytes_; }
  const SealedModelHeader& header() const { return header_; }
  const Manifest& manifest() const { return manifest_; }

  // The next bytes of file contents (files concatenated in manifest order).
  Status write(ByteSpan data);
  // Emits the last chunk. KEYS_MANIFEST_MISMATCH if fewer bytes came than the manifest says.
  Status finish();

 private:
  SealedModelWriter(SealedModelHeader header, Bytes header_bytes, Manifest manifest, crypto::ChaCha20Poly1305 aead,
                    SealedChunkSink sink);
  Status append(ByteSpan data);  // into the chunk buffer, sealing full chunks
  Status seal_buffer();
  Status account_file_bytes(ByteSpan data);

  SealedModelHeader header_;
  Bytes header_bytes_;
  Manifest manifest_;
  crypto::ChaCha20Poly1305 aead_;
  SealedChunkSink sink_;
  Bytes buffer_;  // chunk_size + tag
  size_t fill_ = 0;
  uint64_t next_index_ = 0;
  size_t file_index_ = 0;
  uint64_t file_offset_ = 0;
  std::unique_ptr<crypto::Sha256> file_hash_;
  Status failed_;
  bool finished_ = false;
};

}  // namespace cpipe::keys

// SealedModelReader: opens a sealed model chunk by chunk, in order, from any source (a file, or
// S3 ranged GETs through the host proxy), and hands verified plaintext to a ModelSink. It fails
// closed: the first chunk that does not authenticate (tampered, reordered, from another model,
// wrong length) stops it for good, and that chunk's bytes never reach the sink. finish() then
// checks that every chunk came and that the contents match the manifest.
//
// Extra memory: none with push_chunk_in_place (decrypts the caller's buffer); one chunk with
// push_chunk.
#pragma once

#include <memory>
#include <optional>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/crypto/aead.h"
#include "core/crypto/hash.h"
#include "core/keys/sealed_model_format.h"

namespace cpipe::keys {

// Receives the model's files. Only authenticated bytes arrive here. Returning an error stops
// the reader with that error.
class ModelSink {
 public:
  virtual ~ModelSink() = default;
  // Once, before any file data, after the manifest authenticated and matched the header.
  virtual Status on_manifest(const Manifest& manifest) {
    (void)manifest;
    return Status::Ok();
  }
  // Consecutive pieces of file `file_index` (manifest order), starting at `offset`.
  virtual Status on_file_data(size_t file_index, uint64_t offset, ByteSpan data) = 0;
  // After the last byte of a file (also for empty files), once its SHA-256 matched the manifest.
  virtual Status on_file_end(size_t file_index) {
    (void)file_index;
    return Status::Ok();
  }
};

class SealedModelReader {
 public:
  // data_key: 32 bytes (unwrapped by KMS release or, DEVELOPMENT ONLY, by a dev key). Check the
  // header with check_expected_model first: it comes from untrusted storage.
  static Result<std::unique_ptr<SealedModelReader>> open(SealedModelHeader header, ByteSpan data_key);

  const SealedModelHeader& header() const { return header_; }
  // Index of the chunk push_chunk expects next; == chunk_count when all came.
  uint64_t next_chunk() const { return next_index_; }
  bool complete() const { return next_index_ == header_.chunk_count; }
  // Set once the manifest (in chunk 0, or the first few) was read.
  const std::optional<Manifest>& manifest() const { return manifest_; }

  // The sealed bytes of chunk next_chunk(): header.sealed_chunk_size(index) bytes.
  //   KEYS_TRAILING_DATA   all chunks were already read (an appended chunk)
  //   KEYS_TRUNCATED       fewer bytes than the chunk needs
  //   KEYS_CHUNK_AUTH_FAILED  more bytes than the chunk has, or the tag does not verify
  //   KEYS_MANIFEST_MISMATCH  the contents disagree with the manifest
  // On failure `sealed_chunk` holds no plaintext.
  Status push_chunk_in_place(MutableByteSpan sealed_chunk, ModelSink& sink);
  Status push_chunk(ByteSpan sealed_chunk, ModelSink& sink);
  // KEYS_TRUNCATED unless every chunk came; the first error again if one happened.
  Status finish();

 private:
  SealedModelReader(SealedModelHeader header, crypto::ChaCha20Poly1305 aead);
  Status consume(ByteSpan plain, ModelSink& sink);
  Status close_finished_files(ModelSink& sink);

  SealedModelHeader header_;
  crypto::ChaCha20Poly1305 aead_;
  uint64_t next_index_ = 0;
  Status failed_;
  Bytes scratch_;  // for push_chunk
  // Plaintext stream position.
  Bytes manifest_buffer_;  // u32 length + manifest until complete
  uint64_t manifest_size_ = 0;
  std::optional<Manifest> manifest_;
  size_t file_index_ = 0;
  uint64_t file_offset_ = 0;
  std::unique_ptr<crypto::Sha256> file_hash_;
};

}  // namespace cpipe::keys

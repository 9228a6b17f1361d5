// Streaming sealer: plaintext stream = u32be(manifest length) || manifest || file contents,
// cut into chunk_size pieces, each sealed with ChaCha20-Poly1305 under the per-sealing chunk
// key with a counter nonce and the header-binding AAD (sealed_model_format.h).
#include "core/keys/sealed_model_writer.h"

#include <algorithm>

namespace cpipe::keys {

Result<std::unique_ptr<SealedModelWriter>> SealedModelWriter::create(const SealOptions& options, Manifest manifest,
                                                                     ByteSpan data_key, KeyWrap wrap,
                                                                     runtime::Random& random,
                                                                     SealedChunkSink sink) {
  CPIPE_RETURN_IF_ERROR(manifest.normalize());
  if (data_key.size() != kDataKeySize)
    return make_error(ErrorCode::CRYPTO_BAD_KEY, "sealed model data key must be 32 bytes");
  const Bytes manifest_bytes = manifest.encode();
  SealedModelHeader h;
  h.model_id = options.model_id;
  h.model_version = options.model_version;
  h.chunk_size = options.chunk_size;
  h.stream_size = 4 + manifest_bytes.size() + manifest.total_file_bytes();
  if (options.chunk_size < kMinChunkSize || options.chunk_size > kMaxChunkSize)
    return make_error(ErrorCode::INVALID_ARGUMENT, "chunk size must be 4 KiB .. 64 MiB");
  if (manifest.total_file_bytes() > kMaxStreamSize)
    return make_error(ErrorCode::INVALID_ARGUMENT, "a sealed model holds at most 1 TiB");
  h.chunk_count = chunk_count_for(h.stream_size, h.chunk_size);
  h.manifest_hash = crypto::sha256(manifest_bytes);
  h.file_id = random.bytes(kFileIdSize);
  h.wrap = std::move(wrap);
  CPIPE_ASSIGN_OR_RETURN(Bytes header_bytes, encode_header(h));
  CPIPE_ASSIGN_OR_RETURN(Bytes chunk_key, derive_chunk_key(data_key, h.file_id));
  auto aead = crypto::ChaCha20Poly1305::create(chunk_key);
  secure_zero(chunk_key);
  if (!aead.ok()) return aead.status();
  std::unique_ptr<SealedModelWriter> w(new SealedModelWriter(
      std::move(h), std::move(header_bytes), std::move(manifest), std::move(*aead), std::move(sink)));
  Bytes len(4);
  store_u32_be(len.data(), static_cast<uint32_t>(manifest_bytes.size()));
  CPIPE_RETURN_IF_ERROR(w->append(len));
  CPIPE_RETURN_IF_ERROR(w->append(manifest_bytes));
  return w;
}

SealedModelWriter::SealedModelWriter(SealedModelHeader header, Bytes header_bytes, Manifest manifest,
                                     crypto::ChaCha20Poly1305 aead, SealedChunkSink sink)
    : header_(std::move(header)),
      header_bytes_(std::move(header_bytes)),
      manifest_(std::move(manifest)),
      aead_(std::move(aead)),
      sink_(std::move(sink)),
      buffer_(header_.chunk_size + kSealedTagSize) {}

SealedModelWriter::~SealedModelWriter() { secure_zero(buffer_); }

Status SealedModelWriter::seal_buffer() {
  const uint64_t index = next_index_;
  if (index >= header_.chunk_count || fill_ != header_.plain_chunk_size(index))
    return make_error(ErrorCode::INTERNAL, "sealed chunk size disagrees with the header");
  MutableByteSpan data(buffer_.data(), fill_);
  MutableByteSpan tag(buffer_.data() + fill_, kSealedTagSize);
  CPIPE_RETURN_IF_ERROR(aead_.seal_in_place(chunk_nonce(index), chunk_aad(header_, index), data, tag));
  CPIPE_RETURN_IF_ERROR(sink_(index, ByteSpan(buffer_.data(), fill_ + kSealedTagSize)));
  ++next_index_;
  fill_ = 0;
  return Status::Ok();
}

Status SealedModelWriter::append(ByteSpan data) {
  while (!data.empty()) {
    const size_t n = std::min(data.size(), size_t(header_.chunk_size) - fill_);
    std::copy(data.begin(), data.begin() + n, buffer_.begin() + fill_);
    fill_ += n;
    data = data.subspan(n);
    if (fill_ == header_.chunk_size) CPIPE_RETURN_IF_ERROR(seal_buffer());
  }
  return Status::Ok();
}

// Walks the manifest alongside the bytes, hashing each file and checking it at its end.
Status SealedModelWriter::account_file_bytes(ByteSpan data) {
  while (true) {
    while (file_index_ < manifest_.files.size() && file_offset_ == manifest_.files[file_index_].size) {
      const ManifestEntry& f = manifest_.files[file_index_];
      Bytes digest = file_hash_ ? file_hash_->finish() : crypto::sha256({});
      file_hash_.reset();
      if (digest != f.sha256)
        return make_error(ErrorCode::KEYS_MANIFEST_MISMATCH,
                          "contents of " + f.name + " differ from the manifest hash");
      ++file_index_;
      file_offset_ = 0;
    }
    if (data.empty()) return Status::Ok();
    if (file_index_ == manifest_.files.size())
      return make_error(ErrorCode::KEYS_MANIFEST_MISMATCH, "more file bytes than the manifest lists");
    const ManifestEntry& f = manifest_.files[file_index_];
    const size_t n = static_cast<size_t>(std::min<uint64_t>(data.size(), f.size - file_offset_));
    if (!file_hash_) file_hash_ = std::make_unique<crypto::Sha256>();
    file_hash_->update(data.subspan(0, n));
    file_offset_ += n;
    data = data.subspan(n);
  }
}

Status SealedModelWriter::write(ByteSpan data) {
  if (!failed_.ok()) return failed_;
  if (finished_) return make_error(ErrorCode::FAILED_PRECONDITION, "writer already finished");
  Status s = account_file_bytes(data);
  if (s.ok()) s = append(data);
  if (!s.ok()) failed_ = s;
  return s;
}

Status SealedModelWriter::finish() {
  if (!failed_.ok()) return failed_;
  if (finished_) return make_error(ErrorCode::FAILED_PRECONDITION, "writer already finished");
  Status s = account_file_bytes({});
  if (s.ok() && file_index_ != manifest_.files.size())
    s = make_error(ErrorCode::KEYS_MANIFEST_MISMATCH, "fewer file bytes than the manifest lists (stopped in " +
                                                          manifest_.files[file_index_].name + ")");
  if (s.ok() && fill_ > 0) s = seal_buffer();
  if (s.ok() && next_index_ != header_.chunk_count) s = make_error(ErrorCode::INTERNAL, "chunk count mismatch");
  if (!s.ok()) {
    failed_ = s;
    return s;
  }
  finished_ = true;
  return Status::Ok();
}

}  // namespace cpipe::keys

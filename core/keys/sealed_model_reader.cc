// Streaming opener of sealed models (format: sealed_model_format.h, docs/sealed-model.md).
#include "core/keys/sealed_model_reader.h"

#include <algorithm>

namespace cpipe::keys {

Result<std::unique_ptr<SealedModelReader>> SealedModelReader::open(SealedModelHeader header, ByteSpan data_key) {
  if (header.core_digest.size() != crypto::kSha256Size || header.header_size == 0)
    return make_error(ErrorCode::INVALID_ARGUMENT, "header was not produced by parse_header/encode_header");
  CPIPE_ASSIGN_OR_RETURN(Bytes chunk_key, derive_chunk_key(data_key, header.file_id));
  auto aead = crypto::ChaCha20Poly1305::create(chunk_key);
  secure_zero(chunk_key);
  if (!aead.ok()) return aead.status();
  return std::unique_ptr<SealedModelReader>(new SealedModelReader(std::move(header), std::move(*aead)));
}

SealedModelReader::SealedModelReader(SealedModelHeader header, crypto::ChaCha20Poly1305 aead)
    : header_(std::move(header)), aead_(std::move(aead)) {}

Status SealedModelReader::push_chunk(ByteSpan sealed_chunk, ModelSink& sink) {
  scratch_.assign(sealed_chunk.begin(), sealed_chunk.end());
  Status s = push_chunk_in_place(scratch_, sink);
  secure_zero(scratch_);
  return s;
}

Status SealedModelReader::push_chunk_in_place(MutableByteSpan sealed, ModelSink& sink) {
  if (!failed_.ok()) {
    secure_zero(sealed);
    return failed_;
  }
  const uint64_t index = next_index_;
  Status s;
  if (index >= header_.chunk_count) {
    s = make_error(ErrorCode::KEYS_TRAILING_DATA,
                   "chunk " + std::to_string(index) + " after the last of " + std::to_string(header_.chunk_count));
  } else if (sealed.size() < header_.sealed_chunk_size(index)) {
    s = make_error(ErrorCode::KEYS_TRUNCATED, "chunk " + std::to_string(index) +
                                                  " is short: " + std::to_string(sealed.size()) + " of " +
                                                  std::to_string(header_.sealed_chunk_size(index)) + " bytes");
  } else if (sealed.size() > header_.sealed_chunk_size(index)) {
    s = make_error(ErrorCode::KEYS_CHUNK_AUTH_FAILED,
                   "chunk " + std::to_string(index) + " is longer than it must be");
  } else {
    const size_t n = sealed.size() - kSealedTagSize;
    Status open = aead_.open_in_place(chunk_nonce(index), chunk_aad(header_, index), sealed.subspan(0, n),
                                      sealed.subspan(n));
    if (!open.ok()) {
      s = make_error(ErrorCode::KEYS_CHUNK_AUTH_FAILED,
                     "chunk " + std::to_string(index) +
                         " failed authentication (tampered, reordered, or from another model or key)");
    } else {
      ++next_index_;
      s = consume(sealed.subspan(0, n), sink);
    }
  }
  if (!s.ok()) {
    secure_zero(sealed);
    failed_ = s;
  }
  return s;
}

Status SealedModelReader::close_finished_files(ModelSink& sink) {
  while (file_index_ < manifest_->files.size() && file_offset_ == manifest_->files[file_index_].size) {
    const ManifestEntry& f = manifest_->files[file_index_];
    Bytes digest = file_hash_ ? file_hash_->finish() : crypto::sha256({});
    file_hash_.reset();
    if (digest != f.sha256)
      return make_error(ErrorCode::KEYS_MANIFEST_MISMATCH,
                        "contents of " + f.name + " differ from the manifest hash");
    CPIPE_RETURN_IF_ERROR(sink.on_file_end(file_index_));
    ++file_index_;
    file_offset_ = 0;
  }
  return Status::Ok();
}

Status SealedModelReader::consume(ByteSpan plain, ModelSink& sink) {
  if (!manifest_) {
    // Length prefix, then the manifest itself; both may straddle chunk boundaries.
    while (!plain.empty() && manifest_buffer_.size() < 4) {
      manifest_buffer_.push_back(plain[0]);
      plain = plain.subspan(1);
    }
    if (manifest_buffer_.size() < 4) return Status::Ok();
    manifest_size_ = load_u32_be(manifest_buffer_.data());
    if (manifest_size_ > kMaxManifestSize || 4 + manifest_size_ > header_.stream_size)
      return make_error(ErrorCode::KEYS_MANIFEST_MISMATCH, "manifest length out of range");
    const size_t want = static_cast<size_t>(4 + manifest_size_ - manifest_buffer_.size());
    const size_t n = std::min(want, plain.size());
    manifest_buffer_.insert(manifest_buffer_.end(), plain.begin(), plain.begin() + n);
    plain = plain.subspan(n);
    if (manifest_buffer_.size() < 4 + manifest_size_) return Status::Ok();
    ByteSpan mbytes = ByteSpan(manifest_buffer_).subspan(4);
    if (crypto::sha256(mbytes) != header_.manifest_hash)
      return make_error(ErrorCode::KEYS_MANIFEST_MISMATCH, "manifest hash differs from the header");
    auto m = Manifest::decode(mbytes);
    if (!m.ok()) return make_error(ErrorCode::KEYS_MANIFEST_MISMATCH, m.status().message());
    if (4 + manifest_size_ + m->total_file_bytes() != header_.stream_size)
      return make_error(ErrorCode::KEYS_MANIFEST_MISMATCH, "manifest file sizes disagree with the stream size");
    manifest_ = std::move(*m);
    manifest_buffer_.clear();
    CPIPE_RETURN_IF_ERROR(sink.on_manifest(*manifest_));
    CPIPE_RETURN_IF_ERROR(close_finished_files(sink));
  }
  while (!plain.empty()) {
    if (file_index_ >= manifest_->files.size())
      return make_error(ErrorCode::KEYS_MANIFEST_MISMATCH, "more bytes than the manifest lists");
    const ManifestEntry& f = manifest_->files[file_index_];
    const size_t n = static_cast<size_t>(std::min<uint64_t>(plain.size(), f.size - file_offset_));
    if (!file_hash_) file_hash_ = std::make_unique<crypto::Sha256>();
    file_hash_->update(plain.subspan(0, n));
    CPIPE_RETURN_IF_ERROR(sink.on_file_data(file_index_, file_offset_, plain.subspan(0, n)));
    file_offset_ += n;
    plain = plain.subspan(n);
    CPIPE_RETURN_IF_ERROR(close_finished_files(sink));
  }
  return Status::Ok();
}

Status SealedModelReader::finish() {
  if (!failed_.ok()) return failed_;
  if (next_index_ < header_.chunk_count) {
    failed_ =
        make_error(ErrorCode::KEYS_TRUNCATED, "sealed model ended after chunk " + std::to_string(next_index_) +
                                                  " of " + std::to_string(header_.chunk_count));
    return failed_;
  }
  if (!manifest_ || file_index_ != manifest_->files.size()) {
    failed_ = make_error(ErrorCode::KEYS_MANIFEST_MISMATCH, "stream ended before the manifest's files");
    return failed_;
  }
  return Status::Ok();
}

}  // namespace cpipe::keys

// Encoding and validation of the sealed-model header and manifest. Parsing is strict: every
// length is bounded before it is used, reserved fields must be zero, and derived fields
// (chunk_count, header_size) must agree with the rest, so a header has one encoding.
#include "core/keys/sealed_model_format.h"

#include <algorithm>
#include <cstring>

#include "core/crypto/hash.h"
#include "core/crypto/hkdf.h"

namespace cpipe::keys {
namespace {

constexpr std::string_view kChunkKeyInfo = "cpipe sealed-model v1 chunk key";

Status invalid(std::string message) {
  return make_error(ErrorCode::KEYS_SEALED_MODEL_INVALID, std::move(message));
}

// Reader errors: running out of bytes inside the header means "truncated", everything else is
// a malformed header.
Status map_read(const Status& s, std::string_view what) {
  if (s.code() == ErrorCode::CODEC_TRUNCATED)
    return make_error(ErrorCode::KEYS_TRUNCATED, "sealed model header ends inside " + std::string(what));
  return invalid(std::string(what) + ": " + s.message());
}

#define KEYS_READ(lhs, expr, what)                                                                    \
  auto CPIPE_CONCAT_(r_, __LINE__) = (expr);                                                          \
  if (!CPIPE_CONCAT_(r_, __LINE__).ok()) return map_read(CPIPE_CONCAT_(r_, __LINE__).status(), what); \
  lhs = std::move(CPIPE_CONCAT_(r_, __LINE__)).value()

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

}  // namespace

bool is_safe_manifest_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxManifestNameSize || name.front() == '/') return false;
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

Bytes Manifest::encode() const {
  Bytes out;
  ByteWriter w(out);
  w.u32_be(static_cast<uint32_t>(files.size()));
  for (const ManifestEntry& f : files) {
    w.var16(as_bytes(f.name));
    w.u64_be(f.size);
    w.raw(f.sha256);
  }
  return out;
}

Result<Manifest> Manifest::decode(ByteSpan data) {
  ByteReader r(data);
  auto count = r.u32_be();
  if (!count.ok()) return invalid("manifest: truncated file count");
  if (*count > kMaxManifestFiles) return invalid("manifest: too many files");
  Manifest m;
  for (uint32_t i = 0; i < *count; ++i) {
    auto name = r.var16();
    auto size = name.ok() ? r.u64_be() : Result<uint64_t>(name.status());
    auto hash = size.ok() ? r.raw(crypto::kSha256Size) : Result<ByteSpan>(size.status());
    if (!hash.ok()) return invalid("manifest: truncated entry " + std::to_string(i));
    ManifestEntry e{to_string(*name), *size, Bytes(hash->begin(), hash->end())};
    if (!is_safe_manifest_name(e.name)) return invalid("manifest: unsafe file name");
    if (!m.files.empty() && !(m.files.back().name < e.name))
      return invalid("manifest: names not strictly ascending");
    m.files.push_back(std::move(e));
  }
  if (!r.empty()) return invalid("manifest: trailing bytes");
  return m;
}

Bytes Manifest::hash() const { return crypto::sha256(encode()); }

uint64_t Manifest::total_file_bytes() const {
  uint64_t total = 0;
  for (const ManifestEntry& f : files) total += f.size;
  return total;
}

Status Manifest::normalize() {
  if (files.size() > kMaxManifestFiles)
    return make_error(ErrorCode::INVALID_ARGUMENT, "too many files for one sealed model");
  std::sort(files.begin(), files.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.name < b.name; });
  for (size_t i = 0; i < files.size(); ++i) {
    if (!is_safe_manifest_name(files[i].name))
      return make_error(ErrorCode::INVALID_ARGUMENT, "unsafe file name: " + files[i].name);
    if (i > 0 && files[i - 1].name == files[i].name)
      return make_error(ErrorCode::INVALID_ARGUMENT, "duplicate file name: " + files[i].name);
    if (files[i].sha256.size() != crypto::kSha256Size)
      return make_error(ErrorCode::INVALID_ARGUMENT, "manifest hash must be 32 bytes");
  }
  if (encode().size() > kMaxManifestSize) return make_error(ErrorCode::INVALID_ARGUMENT, "manifest exceeds 1 MiB");
  return Status::Ok();
}

std::string_view key_wrap_kind_name(KeyWrapKind kind) {
  switch (kind) {
    case KeyWrapKind::kKms:
      return "kms";
    case KeyWrapKind::kDevKey:
      return "dev-key";
  }
  return "unknown";
}

uint64_t chunk_count_for(uint64_t stream_size, uint32_t chunk_size) {
  return (stream_size + chunk_size - 1) / chunk_size;
}

uint64_t SealedModelHeader::chunk_offset(uint64_t index) const {
  return header_size + index * (uint64_t(chunk_size) + kSealedTagSize);
}

size_t SealedModelHeader::plain_chunk_size(uint64_t index) const {
  if (index + 1 < chunk_count) return chunk_size;
  return static_cast<size_t>(stream_size - (chunk_count - 1) * uint64_t(chunk_size));
}

uint64_t SealedModelHeader::sealed_size() const {
  return header_size + stream_size + chunk_count * kSealedTagSize;
}

Result<Bytes> encode_header(SealedModelHeader& h) {
  if (h.model_id.empty() || h.model_id.size() > kMaxModelIdSize || !printable_ascii(h.model_id))
    return make_error(ErrorCode::INVALID_ARGUMENT, "model id must be 1-256 printable ASCII bytes");
  if (h.model_version.size() > kMaxModelVersionSize || !printable_ascii(h.model_version))
    return make_error(ErrorCode::INVALID_ARGUMENT, "model version must be 0-128 printable ASCII bytes");
  if (h.chunk_size < kMinChunkSize || h.chunk_size > kMaxChunkSize)
    return make_error(ErrorCode::INVALID_ARGUMENT, "chunk size must be 4 KiB .. 64 MiB");
  if (h.stream_size == 0 || h.stream_size > kMaxStreamSize ||
      h.chunk_count != chunk_count_for(h.stream_size, h.chunk_size))
    return make_error(ErrorCode::INVALID_ARGUMENT, "stream size out of range or chunk count disagrees with it");
  if (h.manifest_hash.size() != crypto::kSha256Size || h.file_id.size() != kFileIdSize)
    return make_error(ErrorCode::INVALID_ARGUMENT, "manifest hash / file id have the wrong size");
  Bytes wrap;
  ByteWriter ww(wrap);
  ww.u8(static_cast<uint8_t>(h.wrap.kind));
  if (h.wrap.kind == KeyWrapKind::kKms) {
    if (h.wrap.kms_key_arn.empty() || h.wrap.kms_key_arn.size() > kMaxKmsArnSize ||
        h.wrap.kms_ciphertext_blob.empty() || h.wrap.kms_ciphertext_blob.size() > kMaxKmsBlobSize)
      return make_error(ErrorCode::INVALID_ARGUMENT, "KMS key ARN / ciphertext blob empty or too long");
    ww.var16(as_bytes(h.wrap.kms_key_arn));
    ww.var32(h.wrap.kms_ciphertext_blob);
  } else if (h.wrap.kind == KeyWrapKind::kDevKey) {
    if (h.wrap.dev_key_id.size() != kDevKeyIdSize || h.wrap.dev_nonce.size() != 12 ||
        h.wrap.dev_wrapped.size() != kDataKeySize + kSealedTagSize)
      return make_error(ErrorCode::INVALID_ARGUMENT, "dev-key wrap fields have the wrong sizes");
    ww.raw(h.wrap.dev_key_id);
    ww.raw(h.wrap.dev_nonce);
    ww.raw(h.wrap.dev_wrapped);
  } else {
    return make_error(ErrorCode::INVALID_ARGUMENT, "unknown key wrap kind");
  }

  Bytes out;
  ByteWriter w(out);
  w.raw(as_bytes(std::string_view(kSealedMagic, 8)));
  w.u16_be(kSealedFormatVersion);
  w.u16_be(0);  // flags
  w.u32_be(0);  // header_size, patched below
  w.u8(kSealedAeadChaCha20Poly1305);
  w.raw(h.file_id);
  w.u32_be(h.chunk_size);
  w.u64_be(h.chunk_count);
  w.u64_be(h.stream_size);
  w.raw(h.manifest_hash);
  w.var16(as_bytes(h.model_id));
  w.var16(as_bytes(h.model_version));
  const size_t core_size = out.size();
  h.header_size = static_cast<uint32_t>(core_size + wrap.size());
  store_u32_be(out.data() + 12, h.header_size);
  h.core_digest = crypto::sha256(out);
  out.insert(out.end(), wrap.begin(), wrap.end());
  return out;
}

Result<uint32_t> peek_header_size(ByteSpan prefix) {
  if (prefix.size() < kHeaderPrefixSize)
    return make_error(ErrorCode::KEYS_TRUNCATED, "sealed model shorter than its header prefix");
  if (std::memcmp(prefix.data(), kSealedMagic, 8) != 0) return invalid("bad magic: not a sealed model");
  if (load_u16_be(prefix.data() + 8) != kSealedFormatVersion)
    return invalid("unsupported sealed model format version");
  if (load_u16_be(prefix.data() + 10) != 0) return invalid("reserved header flags are set");
  const uint32_t size = load_u32_be(prefix.data() + 12);
  if (size < kHeaderPrefixSize || size > kMaxHeaderSize) return invalid("header size out of range");
  return size;
}

Result<SealedModelHeader> parse_header(ByteSpan data) {
  CPIPE_ASSIGN_OR_RETURN(uint32_t header_size, peek_header_size(data));
  ByteReader r(data);
  KEYS_READ(ByteSpan fixed, r.raw(kHeaderPrefixSize), "prefix");
  (void)fixed;
  SealedModelHeader h;
  KEYS_READ(uint8_t aead, r.u8(), "aead id");
  if (aead != kSealedAeadChaCha20Poly1305) return invalid("unknown AEAD id");
  KEYS_READ(ByteSpan file_id, r.raw(kFileIdSize), "file id");
  h.file_id.assign(file_id.begin(), file_id.end());
  KEYS_READ(h.chunk_size, r.u32_be(), "chunk size");
  KEYS_READ(h.chunk_count, r.u64_be(), "chunk count");
  KEYS_READ(h.stream_size, r.u64_be(), "stream size");
  KEYS_READ(ByteSpan mh, r.raw(crypto::kSha256Size), "manifest hash");
  h.manifest_hash.assign(mh.begin(), mh.end());
  KEYS_READ(ByteSpan id, r.var16(), "model id");
  KEYS_READ(ByteSpan version, r.var16(), "model version");
  h.model_id = to_string(id);
  h.model_version = to_string(version);
  const size_t core_size = r.position();
  if (h.chunk_size < kMinChunkSize || h.chunk_size > kMaxChunkSize) return invalid("chunk size out of range");
  if (h.stream_size == 0 || h.stream_size > kMaxStreamSize ||
      h.chunk_count != chunk_count_for(h.stream_size, h.chunk_size))
    return invalid("stream size out of range or chunk count disagrees with it");
  if (h.model_id.empty() || h.model_id.size() > kMaxModelIdSize || !printable_ascii(h.model_id))
    return invalid("bad model id");
  if (h.model_version.size() > kMaxModelVersionSize || !printable_ascii(h.model_version))
    return invalid("bad model version");

  KEYS_READ(uint8_t kind, r.u8(), "key wrap kind");
  h.wrap.kind = static_cast<KeyWrapKind>(kind);
  if (h.wrap.kind == KeyWrapKind::kKms) {
    KEYS_READ(ByteSpan arn, r.var16(), "KMS key ARN");
    KEYS_READ(ByteSpan blob, r.var32(kMaxKmsBlobSize), "KMS ciphertext blob");
    if (arn.empty() || arn.size() > kMaxKmsArnSize || blob.empty()) return invalid("bad KMS key wrap");
    h.wrap.kms_key_arn = to_string(arn);
    h.wrap.kms_ciphertext_blob.assign(blob.begin(), blob.end());
  } else if (h.wrap.kind == KeyWrapKind::kDevKey) {
    KEYS_READ(ByteSpan key_id, r.raw(kDevKeyIdSize), "dev key id");
    KEYS_READ(ByteSpan nonce, r.raw(12), "dev key nonce");
    KEYS_READ(ByteSpan wrapped, r.raw(kDataKeySize + kSealedTagSize), "dev wrapped key");
    h.wrap.dev_key_id.assign(key_id.begin(), key_id.end());
    h.wrap.dev_nonce.assign(nonce.begin(), nonce.end());
    h.wrap.dev_wrapped.assign(wrapped.begin(), wrapped.end());
  } else {
    return invalid("unknown key wrap kind " + std::to_string(kind));
  }
  if (r.position() != header_size) return invalid("header size field disagrees with the header");
  h.header_size = header_size;
  h.core_digest = crypto::sha256(data.subspan(0, core_size));
  return h;
}

Status check_expected_model(const SealedModelHeader& h, std::string_view model_id, std::string_view model_version,
                            ByteSpan expected_manifest_hash) {
  if (h.model_id != model_id || h.model_version != model_version)
    return invalid("sealed model is " + h.model_id + " version " + h.model_version + ", expected " +
                   std::string(model_id) + " version " + std::string(model_version));
  if (!expected_manifest_hash.empty() && !std::equal(expected_manifest_hash.begin(), expected_manifest_hash.end(),
                                                     h.manifest_hash.begin(), h.manifest_hash.end()))
    return invalid("sealed model manifest hash differs from the expected one");
  return Status::Ok();
}

Result<Bytes> derive_chunk_key(ByteSpan data_key, ByteSpan file_id) {
  if (data_key.size() != kDataKeySize)
    return make_error(ErrorCode::CRYPTO_BAD_KEY, "sealed model data key must be 32 bytes");
  return crypto::hkdf_expand(crypto::hkdf_extract(file_id, data_key), as_bytes(kChunkKeyInfo), kDataKeySize);
}

Bytes chunk_nonce(uint64_t index) {
  Bytes n(12, 0);
  store_u64_be(n.data() + 4, index);
  return n;
}

Bytes chunk_aad(const SealedModelHeader& h, uint64_t index) {
  Bytes aad;
  ByteWriter w(aad);
  w.raw(h.core_digest);
  w.u64_be(index);
  w.u64_be(h.chunk_count);
  w.u8(index + 1 == h.chunk_count ? 1 : 0);
  return aad;
}

#undef KEYS_READ

}  // namespace cpipe::keys

// The sealed-model file format (docs/sealed-model.md is the byte-level specification): the
// header, the plaintext manifest that leads the sealed stream, and the per-chunk key, nonce and
// AAD derivation shared by SealedModelWriter and SealedModelReader.
//
// Layout: header || chunk 0 || ... || chunk n-1. Every chunk but the last seals exactly
// chunk_size plaintext bytes (+16-byte tag), so chunk i sits at a computable offset and a stage
// can fetch it with one ranged GET.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::keys {

inline constexpr char kSealedMagic[8] = {'C', 'P', 'S', 'E', 'A', 'L', 'E', 'D'};
inline constexpr uint16_t kSealedFormatVersion = 1;
inline constexpr uint8_t kSealedAeadChaCha20Poly1305 = 1;
inline constexpr uint32_t kDefaultChunkSize = 4u << 20;  // 4 MiB
inline constexpr uint32_t kMinChunkSize = 4096;
inline constexpr uint32_t kMaxChunkSize = 64u << 20;
inline constexpr size_t kSealedTagSize = 16;
inline constexpr size_t kFileIdSize = 16;
inline constexpr size_t kDataKeySize = 32;
inline constexpr size_t kHeaderPrefixSize = 16;  // enough to read header_size
inline constexpr size_t kMaxModelIdSize = 256;
inline constexpr size_t kMaxModelVersionSize = 128;
inline constexpr size_t kMaxManifestFiles = 4096;
inline constexpr size_t kMaxManifestNameSize = 1024;
inline constexpr size_t kMaxManifestSize = 1u << 20;
inline constexpr size_t kMaxKmsArnSize = 2048;
inline constexpr size_t kMaxKmsBlobSize = 64u << 10;
inline constexpr size_t kDevKeyIdSize = 8;
inline constexpr uint32_t kMaxHeaderSize = 128u << 10;
inline constexpr uint64_t kMaxStreamSize = uint64_t(1) << 40;  // 1 TiB: offsets never overflow

// One plaintext file of the model directory. Names are relative, '/'-separated paths.
struct ManifestEntry {
  std::string name;
  uint64_t size = 0;
  Bytes sha256;  // 32 bytes
};

struct Manifest {
  std::vector<ManifestEntry> files;  // strictly ascending by name (bytewise)

  Bytes encode() const;
  // KEYS_SEALED_MODEL_INVALID on any malformed field, bad name, or unsorted/duplicate names.
  static Result<Manifest> decode(ByteSpan data);
  // SHA-256 of encode(): what the header and every chunk's AAD bind.
  Bytes hash() const;
  uint64_t total_file_bytes() const;
  // Sorts by name and checks every name and hash length (INVALID_ARGUMENT).
  Status normalize();
};

// A name that is safe to create under an output directory: no absolute path, no "." or ".."
// component, no empty component, no backslash or control character.
bool is_safe_manifest_name(std::string_view name);

enum class KeyWrapKind : uint8_t {
  kKms = 1,     // KMS CiphertextBlob of the data key, released to an attested enclave
  kDevKey = 2,  // DEVELOPMENT ONLY: data key sealed under a local 32-byte key file
};
std::string_view key_wrap_kind_name(KeyWrapKind kind);

struct KeyWrap {
  KeyWrapKind kind = KeyWrapKind::kDevKey;
  // kKms
  std::string kms_key_arn;
  Bytes kms_ciphertext_blob;
  // kDevKey
  Bytes dev_key_id;   // 8 bytes, identifies the dev key (see dev_key_wrap.h)
  Bytes dev_nonce;    // 12 bytes
  Bytes dev_wrapped;  // 48 bytes: ChaCha20-Poly1305(data key) || tag
};

struct SealedModelHeader {
  std::string model_id;
  std::string model_version;
  uint32_t chunk_size = kDefaultChunkSize;
  uint64_t chunk_count = 0;
  uint64_t stream_size = 0;  // plaintext stream: u32 manifest length, manifest, file contents
  Bytes manifest_hash;       // 32 bytes
  Bytes file_id;             // 16 random bytes, unique per sealing
  KeyWrap wrap;
  uint32_t header_size = 0;  // bytes of the whole header; set by encode/parse
  Bytes core_digest;         // SHA-256 of the core bytes; set by encode/parse

  uint64_t chunk_offset(uint64_t index) const;
  size_t plain_chunk_size(uint64_t index) const;
  size_t sealed_chunk_size(uint64_t index) const { return plain_chunk_size(index) + kSealedTagSize; }
  uint64_t sealed_size() const;  // header + every chunk
};

uint64_t chunk_count_for(uint64_t stream_size, uint32_t chunk_size);

// Serializes the header and fills header_size and core_digest. INVALID_ARGUMENT on fields out
// of range.
Result<Bytes> encode_header(SealedModelHeader& header);
// The header size from the first kHeaderPrefixSize bytes (KEYS_TRUNCATED if fewer,
// KEYS_SEALED_MODEL_INVALID if it is not a sealed model).
Result<uint32_t> peek_header_size(ByteSpan prefix);
// Parses a header from the start of `data` (may continue into the chunks). KEYS_TRUNCATED if
// data ends inside the header, KEYS_SEALED_MODEL_INVALID on anything malformed.
Result<SealedModelHeader> parse_header(ByteSpan data);

// The header's identity against what the caller means to load. The header comes from untrusted
// storage: without this check a host could serve another model (or an older version) sealed
// under a key the enclave may also open. An empty expected_manifest_hash is not checked.
// KEYS_SEALED_MODEL_INVALID on a mismatch.
Status check_expected_model(const SealedModelHeader& header, std::string_view model_id,
                            std::string_view model_version, ByteSpan expected_manifest_hash = {});

// Per-sealing chunk key: HKDF-SHA256(salt = file_id, ikm = data key, info = label).
Result<Bytes> derive_chunk_key(ByteSpan data_key, ByteSpan file_id);
// 12-byte nonce: 4 zero bytes || u64be(index).
Bytes chunk_nonce(uint64_t index);
// core_digest || u64be(index) || u64be(chunk_count) || u8(index == chunk_count - 1).
Bytes chunk_aad(const SealedModelHeader& header, uint64_t index);

}  // namespace cpipe::keys

// SHA-2 digests and HMAC-SHA256 over OpenSSL. Used by the channel key schedule, attestation
// (SHA-384 digests of COSE/SNP) and receipts.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <memory>

#include "core/base/bytes.h"

namespace cpipe::crypto {

inline constexpr size_t kSha256Size = 32;
inline constexpr size_t kSha384Size = 48;

Bytes sha256(ByteSpan data);
Bytes sha384(ByteSpan data);
Bytes sha512(ByteSpan data);
Bytes hmac_sha256(ByteSpan key, ByteSpan data);

// Incremental SHA-256 (for transcripts and streamed hashing of weights).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(ByteSpan data);
  // Digest of everything so far; the hasher can keep absorbing afterwards.
  Bytes peek() const;
  Bytes finish();

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace cpipe::crypto

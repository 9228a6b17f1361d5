// SHA-2 and HMAC-SHA256 over OpenSSL 3. The digests are fetched once per process: an implicit
// fetch (EVP_sha256()) costs a provider lookup on every call in OpenSSL 3.
#include "core/crypto/hash.h"

#include <openssl/hmac.h>

#include <cassert>
#include <cstdlib>

namespace cpipe::crypto {
namespace {

const EVP_MD* fetched(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) std::abort();  // the default provider lacks SHA-2: unusable build
  return md;
}

const EVP_MD* md_sha256() {
  static const EVP_MD* md = fetched("SHA256");
  return md;
}
const EVP_MD* md_sha384() {
  static const EVP_MD* md = fetched("SHA384");
  return md;
}
const EVP_MD* md_sha512() {
  static const EVP_MD* md = fetched("SHA512");
  return md;
}

Bytes digest(const EVP_MD* md, ByteSpan data) {
  Bytes out(EVP_MD_get_size(md));
  unsigned int len = 0;
  int ok = EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr);
  if (ok != 1) std::abort();  // only fails on allocation failure
  assert(len == out.size());
  return out;
}

}  // namespace

Bytes sha256(ByteSpan data) { return digest(md_sha256(), data); }
Bytes sha384(ByteSpan data) { return digest(md_sha384(), data); }
Bytes sha512(ByteSpan data) { return digest(md_sha512(), data); }

Bytes hmac_sha256(ByteSpan key, ByteSpan data) {
  Bytes out(kSha256Size);
  unsigned int len = 0;
  // HMAC() wants a non-null key pointer even for an empty key.
  static const uint8_t kEmpty = 0;
  const uint8_t* k = key.empty() ? &kEmpty : key.data();
  if (HMAC(md_sha256(), k, int(key.size()), data.data(), data.size(), out.data(), &len) ==
      nullptr) {
    std::abort();
  }
  assert(len == kSha256Size);
  return out;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, md_sha256(), nullptr) != 1) std::abort();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(ByteSpan data) {
  if (data.empty()) return;
  if (EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1) std::abort();
}

Bytes Sha256::peek() const {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  if (copy == nullptr || EVP_MD_CTX_copy_ex(copy, ctx_) != 1) std::abort();
  Bytes out(kSha256Size);
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(copy, out.data(), &len) != 1) std::abort();
  EVP_MD_CTX_free(copy);
  return out;
}

Bytes Sha256::finish() {
  Bytes out(kSha256Size);
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1) std::abort();
  // Start over so the object stays usable (a fresh, empty hash).
  if (EVP_DigestInit_ex(ctx_, md_sha256(), nullptr) != 1) std::abort();
  return out;
}

}  // namespace cpipe::crypto

// DEVELOPMENT ONLY data-key wrapping under a local key file (see dev_key_wrap.h).
#include "core/keys/dev_key_wrap.h"

#include "core/crypto/aead.h"
#include "core/crypto/hash.h"

namespace cpipe::keys {

Result<Bytes> dev_key_id(ByteSpan dev_key) {
  if (dev_key.size() != kDataKeySize)
    return make_error(ErrorCode::CRYPTO_BAD_KEY, "DEVELOPMENT ONLY dev key must be exactly 32 bytes");
  Bytes mac = crypto::hmac_sha256(dev_key, as_bytes("cpipe dev-key id v1"));
  mac.resize(kDevKeyIdSize);
  return mac;
}

Bytes encryption_context_aad(const std::string& model_id, const std::string& model_version) {
  // Built as a string: GCC 12 misreports vector range-inserts of literals (stringop-overflow).
  std::string aad = "cpipe dev-key wrap v1";
  for (const std::string* field : {&model_id, &model_version}) {
    aad.push_back(static_cast<char>(field->size() >> 8));
    aad.push_back(static_cast<char>(field->size() & 0xff));
    aad += *field;
  }
  return to_bytes(aad);
}

Result<KeyWrap> wrap_data_key_dev(ByteSpan dev_key, ByteSpan data_key, const std::string& model_id,
                                  const std::string& model_version, runtime::Random& random) {
  CPIPE_ASSIGN_OR_RETURN(Bytes id, dev_key_id(dev_key));
  if (data_key.size() != kDataKeySize) return make_error(ErrorCode::CRYPTO_BAD_KEY, "data key must be 32 bytes");
  CPIPE_ASSIGN_OR_RETURN(auto aead, crypto::ChaCha20Poly1305::create(dev_key));
  KeyWrap wrap;
  wrap.kind = KeyWrapKind::kDevKey;
  wrap.dev_key_id = std::move(id);
  wrap.dev_nonce = random.bytes(crypto::kAeadNonceSize);
  CPIPE_ASSIGN_OR_RETURN(wrap.dev_wrapped,
                         aead.seal(wrap.dev_nonce, encryption_context_aad(model_id, model_version), data_key));
  return wrap;
}

Result<Bytes> unwrap_data_key_dev(const SealedModelHeader& header, ByteSpan dev_key) {
  if (header.wrap.kind != KeyWrapKind::kDevKey)
    return make_error(ErrorCode::FAILED_PRECONDITION,
                      "model is sealed for KMS key release, not a development key");
  CPIPE_ASSIGN_OR_RETURN(Bytes id, dev_key_id(dev_key));
  if (!constant_time_equal(id, header.wrap.dev_key_id))
    return make_error(ErrorCode::KEYS_UNWRAP_FAILED, "the dev key file is not the one this model was sealed with");
  CPIPE_ASSIGN_OR_RETURN(auto aead, crypto::ChaCha20Poly1305::create(dev_key));
  auto key = aead.open(header.wrap.dev_nonce, encryption_context_aad(header.model_id, header.model_version),
                       header.wrap.dev_wrapped);
  if (!key.ok()) return make_error(ErrorCode::KEYS_UNWRAP_FAILED, "the wrapped data key failed authentication");
  return key;
}

}  // namespace cpipe::keys

// DEVELOPMENT ONLY key wrapping: the sealed model's data key encrypted under a local 32-byte
// key file instead of KMS. Nothing about it is attested — whoever has the file has the model —
// so it exists for tests, the simulator's fixtures and local runs, and says so in its name.
#pragma once

#include <string>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/keys/sealed_model_format.h"
#include "core/runtime/random.h"

namespace cpipe::keys {

// First 8 bytes of HMAC-SHA256(dev_key, "cpipe dev-key id v1"): tells "wrong key file" from
// "tampered blob" without revealing the key.
Result<Bytes> dev_key_id(ByteSpan dev_key);

// Wraps `data_key` (32 bytes) for (model_id, model_version): ChaCha20-Poly1305 under dev_key
// with a random nonce and AAD = encryption_context_aad(model_id, model_version).
Result<KeyWrap> wrap_data_key_dev(ByteSpan dev_key, ByteSpan data_key, const std::string& model_id,
                                  const std::string& model_version, runtime::Random& random);

// The data key of a dev-key sealed model. KEYS_UNWRAP_FAILED for another key file or a
// tampered wrap (or a wrap moved to another model id/version); FAILED_PRECONDITION if the
// model is KMS-wrapped.
Result<Bytes> unwrap_data_key_dev(const SealedModelHeader& header, ByteSpan dev_key);

// "cpipe dev-key wrap v1" || var16(model_id) || var16(model_version).
Bytes encryption_context_aad(const std::string& model_id, const std::string& model_version);

}  // namespace cpipe::keys

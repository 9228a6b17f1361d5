// KmsClient: the key-release call a stage makes at cold start, behind one interface so the same
// cold-start code runs against AWS KMS (HttpKmsClient over TLS through the vsock proxy), the
// simulated KMS (HttpKmsClient over plain simulated TCP) or a test double, and so decorators
// (RetryingKmsClient: deadlines, backoff, circuit breaker) stack on any of them.
#pragma once

#include "core/base/status.h"
#include "core/keys/kms_request.h"
#include "core/runtime/task.h"

namespace cpipe::keys {

class KmsClient {
 public:
  virtual ~KmsClient() = default;
  // KMS Decrypt with a Recipient. Errors are KMS's (kms_error_status codes, message keeping
  // KMS's exception name and text), the transport's (TRANSPORT_*), KEYS_KMS_BAD_RESPONSE for an
  // answer that is not a well-formed KMS response, DEADLINE_EXCEEDED when a deadline ran out.
  virtual runtime::Task<Result<KmsDecryptResponse>> decrypt(KmsDecryptRequest request) = 0;
};

}  // namespace cpipe::keys

// X.509 chain check of a Nitro document: pinned root == cabundle[0], then OpenSSL path
// validation root -> cabundle[1..] -> leaf at a caller-supplied time (X509_VERIFY_PARAM_set_time;
// never the wall clock), requiring that the validated path uses every cabundle certificate in
// order and that the leaf key is EC P-384.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::attest::nitro {

struct CertSummary {
  std::string subject;  // RFC 2253 form
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
};

struct ChainResult {
  Bytes leaf_public_key;            // DER SubjectPublicKeyInfo of the leaf (EC P-384)
  std::vector<CertSummary> certs;   // root first, leaf last
  int64_t valid_from_ms = 0;        // latest notBefore on the path
  int64_t valid_until_ms = 0;       // earliest notAfter on the path
};

// ATTEST_BAD_FORMAT: a certificate is not DER; ATTEST_CHAIN_INVALID: cabundle[0] is not the
// pinned root, a signature/extension/path check fails, or the leaf key is not P-384;
// ATTEST_CERT_EXPIRED: some certificate is not valid at `at_unix_ms`.
Result<ChainResult> verify_nitro_chain(ByteSpan root_der, const std::vector<Bytes>& cabundle,
                                       ByteSpan leaf_der, int64_t at_unix_ms);

// notBefore/notAfter and subject of one DER certificate (ATTEST_BAD_FORMAT if unparsable).
Result<CertSummary> summarize_certificate(ByteSpan der);

}  // namespace cpipe::attest::nitro

// ECDSA verification over OpenSSL, for attestation evidence: P-384/SHA-384 (Nitro COSE ES384,
// SEV-SNP reports). Keys are given as an uncompressed SEC1 point or a DER SubjectPublicKeyInfo;
// signatures as DER (X.509) or raw r||s (IEEE P1363 / COSE).
#pragma once

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/runtime/random.h"

namespace cpipe::crypto {

enum class EcCurve { kP256, kP384 };
enum class SigFormat { kDer, kP1363 };

// Verifies `signature` over SHA-384 (kP384) or SHA-256 (kP256) of `message`.
// public_key: 0x04||X||Y uncompressed point, or DER SPKI. CRYPTO_BAD_KEY for an invalid key
// (not on the curve, wrong size); CRYPTO_BAD_SIGNATURE for any signature that does not verify,
// including malformed DER, non-minimal DER encodings, r or s out of range.
Status ecdsa_verify(EcCurve curve, ByteSpan public_key, ByteSpan message, ByteSpan signature,
                    SigFormat format);

// Same, for a precomputed digest (SEV-SNP signs SHA-384 of the report body).
Status ecdsa_verify_digest(EcCurve curve, ByteSpan public_key, ByteSpan digest, ByteSpan signature,
                           SigFormat format);

inline constexpr size_t kP384ScalarSize = 48;

// P-384 signing for the simulated NSM (never for hardware paths): ECDSA over SHA-384 of
// `message` with a nonce drawn from `random`, so simulated runs are reproducible. private_key
// is the 48-byte big-endian scalar d (CRYPTO_BAD_KEY unless 1 <= d < n). Returns r||s (P1363).
Result<Bytes> ecdsa_p384_sign(ByteSpan private_key, ByteSpan message, runtime::Random& random);
// The uncompressed point 0x04||X||Y of the same private scalar.
Result<Bytes> ecdsa_p384_public_key(ByteSpan private_key);

}  // namespace cpipe::crypto

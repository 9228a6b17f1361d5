// COSE_Sign1 ECDSA signature check (ES256 / ES384) through crypto::ecdsa_verify — the same
// function the Wycheproof P-384 vectors exercise — over Sig_structure1 with raw r||s.
#pragma once

#include <cstdint>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/codec/cbor/cose_sign1.h"

namespace cpipe::attest {

// The alg (protected header, else unprotected) must be `expected_alg` (ATTEST_BAD_ALG
// otherwise, also for an unsupported alg); the signature must be 2 * field size bytes and verify under `public_key` (uncompressed
// point or DER SPKI) over Sig_structure1(protected, external_aad, payload)
// (ATTEST_SIGNATURE_INVALID otherwise).
Status cose_sign1_verify_ecdsa(const codec::CoseSign1& msg, int64_t expected_alg,
                               ByteSpan public_key, ByteSpan external_aad = {});

}  // namespace cpipe::attest

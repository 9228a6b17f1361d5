// Issuing AIR v1 receipts: the claims are checked with the verifier's own claim rules (a
// stage never signs a receipt a verifier would refuse), encoded deterministically, and signed
// with Ed25519 as a tagged COSE_Sign1 with the fixed protected header {1: -8, 3: 61} and an
// empty unprotected header. Same claims and key: same bytes (Ed25519 is deterministic).
#pragma once

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/crypto/ed25519.h"
#include "core/receipt/air_claims.h"
#include "core/runtime/random.h"

namespace cpipe::receipt {

// The serialized protected header: A2 01 27 03 18 3D.
Bytes protected_header_bytes();

// RECEIPT_BAD_CLAIM (message: the failing check and code) when the claims break a layer-3 rule.
Result<Bytes> issue_receipt(const AirClaims& claims, const crypto::Ed25519KeyPair& key);

// A fresh cti: 16 random bytes shaped as a UUID v4 (version and variant bits set).
Bytes new_cti(runtime::Random& random);

}  // namespace cpipe::receipt

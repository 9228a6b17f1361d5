// Internal to core/receipt: layer 3 of AIR v1 verification (draft-02 §8.3) — the closed
// claims map, claim types and required claims, lengths, and the defined values of
// measurement_type, model_hash_scheme and security_mode.
#pragma once

#include <optional>

#include "core/codec/cbor/cbor_value.h"
#include "core/receipt/air_claims.h"
#include "core/receipt/check_recorder.h"

namespace cpipe::receipt::internal {

// Records CLAIMS, CTI, IAT, MHASH_PRESENT, HASHES, TEXT, NONCE_FORMAT, MEAS, MTYPE,
// MHASH_SCHEME and SECMODE. Returns the claims when the map has the right shape (CLAIMS passed),
// even if a later value check failed.
std::optional<AirClaims> check_claims(const codec::CborValue& map, Recorder& rec);

}  // namespace cpipe::receipt::internal

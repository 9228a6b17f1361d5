// AIR v1 receipt verification (draft-02 §8): layer 1 parse (strict CBOR limits, tag 18, EdDSA,
// content type 61, empty unprotected header, deterministic payload, eat_profile), layer 2
// Ed25519 verify_strict over Sig_structure1, layer 3 claim validation (closed map, types,
// lengths, defined values), layer 4 policy (FRESH, MHASH, MODEL, PLATFORM, NONCE, security
// mode, REPLAY). A layer runs only when every earlier layer passed; the report lists every check
// either way. Nothing here reads a clock: freshness uses the caller's `now`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/receipt/air_check.h"

namespace cpipe::receipt {

struct VerifyPolicy {
  // FRESH: now - max_age <= iat <= now + clock_skew. With `now` and no max_age only the future
  // bound is checked; max_age without `now` is INVALID_ARGUMENT (no clock is ever read).
  std::optional<int64_t> now_unix_s;
  std::optional<uint64_t> max_age_s;
  uint64_t clock_skew_s = 0;
  std::optional<Bytes> expected_model_hash;  // MHASH
  std::optional<std::string> expected_model_id;  // MODEL
  // PLATFORM: "nitro-pcr" or "tdx-mrtd-rtmr" (normalize_platform maps "nitro"/"tdx").
  std::optional<std::string> expected_platform;
  std::optional<Bytes> expected_nonce;  // NONCE
  bool require_nonce = false;           // NONCE without a particular value
  // Production trust decisions must refuse security_mode "evaluation" (spec §5.2.12).
  bool require_production = false;
  // REPLAY: returns true when this cti was seen before (the callback may record it).
  std::function<bool(ByteSpan cti)> seen_cti;
};

// "nitro"/"nitro-pcr" -> "nitro-pcr", "tdx"/"tdx-mrtd-rtmr" -> "tdx-mrtd-rtmr"; INVALID_ARGUMENT
// otherwise.
Result<std::string> normalize_platform(std::string_view platform);

// Verifies `receipt` (tagged COSE_Sign1 bytes) with a 32-byte Ed25519 public key. Returns
// INVALID_ARGUMENT only for a malformed key or policy; every receipt problem is in the report.
Result<VerifyReport> verify_receipt(ByteSpan receipt, ByteSpan public_key, const VerifyPolicy& policy);

}  // namespace cpipe::receipt

// The Nitro attestation document: the CBOR map inside the COSE_Sign1 payload that the NSM
// signs (AWS "Verifying the root of trust"). Parsing checks every field's presence, type and
// size; encoding writes the fields in the order and with the types real NSM output uses
// (module_id, digest, timestamp, pcrs, certificate, cabundle, public_key, user_data, nonce;
// absent optionals as CBOR null), which is what SimNsm emits.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::attest::nitro {

inline constexpr size_t kNitroMaxPcrs = 32;
inline constexpr size_t kNitroPcrSize = 48;          // SHA-384
inline constexpr size_t kNitroMaxCertSize = 1024;    // AWS: certificate and cabundle entries
inline constexpr size_t kNitroMaxOptionalSize = 1024;  // public_key, user_data, nonce
inline constexpr size_t kNitroMaxModuleIdSize = 256;

struct NitroDocument {
  std::string module_id;
  std::string digest;             // always "SHA384" once parsed
  uint64_t timestamp_ms = 0;      // NSM's clock, ms since the Unix epoch
  std::map<uint32_t, Bytes> pcrs;  // index -> 48-byte value
  Bytes certificate;              // leaf, DER
  std::vector<Bytes> cabundle;    // DER, root first
  std::optional<Bytes> public_key;  // nullopt: absent or CBOR null
  std::optional<Bytes> user_data;
  std::optional<Bytes> nonce;
  bool indefinite_map = false;    // the payload used an indefinite-length map (newer NSMs)

  // Debug-mode enclaves report PCR0, PCR1 and PCR2 as all zeros.
  bool is_debug() const;
};

// ATTEST_BAD_FORMAT for any structural problem (message names the field); ATTEST_BAD_ALG when
// digest is not "SHA384".
Result<NitroDocument> parse_nitro_document(ByteSpan payload);

// Definite-length, shortest-form encoding in NSM field order.
Bytes encode_nitro_document(const NitroDocument& doc);

}  // namespace cpipe::attest::nitro

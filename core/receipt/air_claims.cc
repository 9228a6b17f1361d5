// AIR v1 claims: CBOR mapping and deterministic encoding.
#include "core/receipt/air_claims.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "core/codec/cbor/cbor_encode.h"

namespace cpipe::receipt {

using codec::CborValue;

namespace {

CborValue text(std::string_view s) { return CborValue::text(std::string(s)); }

CborValue measurements_to_cbor(const Measurements& m) {
  std::vector<CborValue> kv = {text("pcr0"), CborValue::bytes(m.pcr0), text("pcr1"), CborValue::bytes(m.pcr1),
                               text("pcr2"), CborValue::bytes(m.pcr2)};
  for (auto [name, value] : {std::pair{"pcr3", &m.pcr3}, std::pair{"pcr4", &m.pcr4}, std::pair{"pcr8", &m.pcr8}}) {
    if (*value) {
      kv.push_back(text(name));
      kv.push_back(CborValue::bytes(**value));
    }
  }
  kv.push_back(text("measurement_type"));
  kv.push_back(text(m.measurement_type));
  return CborValue::map(std::move(kv));
}

// Shorter encoded key first, then bytewise (draft-02 §4.4).
bool key_less(const Bytes& a, const Bytes& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

void encode_into(const CborValue& v, Bytes& out) {
  codec::CborWriter w(out);
  switch (v.type()) {
    case CborValue::Type::kArray:
      w.array_header(v.items().size());
      for (const CborValue& item : v.items()) encode_into(item, out);
      return;
    case CborValue::Type::kMap: {
      std::vector<std::pair<Bytes, Bytes>> entries;
      entries.reserve(v.map_size());
      for (size_t i = 0; i < v.map_size(); ++i) {
        Bytes k, val;
        encode_into(v.map_key(i), k);
        encode_into(v.map_value(i), val);
        entries.emplace_back(std::move(k), std::move(val));
      }
      std::sort(entries.begin(), entries.end(),
                [](const auto& a, const auto& b) { return key_less(a.first, b.first); });
      w.map_header(entries.size());
      for (const auto& [k, val] : entries) {
        out.insert(out.end(), k.begin(), k.end());
        out.insert(out.end(), val.begin(), val.end());
      }
      return;
    }
    case CborValue::Type::kTag:
      w.tag(v.raw_uint());
      encode_into(v.tagged(), out);
      return;
    default:
      w.value(v);  // scalars and strings: shortest heads, definite lengths
      return;
  }
}

}  // namespace

CborValue claims_to_cbor(const AirClaims& c) {
  std::vector<CborValue> kv = {
      CborValue::integer(kClaimIss), text(c.iss),
      CborValue::integer(kClaimIat), CborValue::uint(c.iat),
      CborValue::integer(kClaimCti), CborValue::bytes(c.cti),
      CborValue::integer(kClaimEatProfile), text(kEatProfile),
  };
  if (c.eat_nonce) {
    kv.push_back(CborValue::integer(kClaimEatNonce));
    kv.push_back(CborValue::bytes(*c.eat_nonce));
  }
  auto add = [&kv](int64_t key, CborValue value) {
    kv.push_back(CborValue::integer(key));
    kv.push_back(std::move(value));
  };
  add(kClaimModelId, text(c.model_id));
  add(kClaimModelVersion, text(c.model_version));
  add(kClaimModelHash, CborValue::bytes(c.model_hash));
  add(kClaimRequestHash, CborValue::bytes(c.request_hash));
  add(kClaimResponseHash, CborValue::bytes(c.response_hash));
  add(kClaimAttestationDocHash, CborValue::bytes(c.attestation_doc_hash));
  add(kClaimEnclaveMeasurements, measurements_to_cbor(c.enclave_measurements));
  add(kClaimPolicyVersion, text(c.policy_version));
  add(kClaimSequenceNumber, CborValue::uint(c.sequence_number));
  add(kClaimExecutionTimeMs, CborValue::uint(c.execution_time_ms));
  add(kClaimMemoryPeakMb, CborValue::uint(c.memory_peak_mb));
  add(kClaimSecurityMode, text(c.security_mode));
  if (c.model_hash_scheme) add(kClaimModelHashScheme, text(*c.model_hash_scheme));
  return CborValue::map(std::move(kv));
}

Bytes deterministic_encode(const CborValue& value) {
  Bytes out;
  encode_into(value, out);
  return out;
}

Bytes encode_claims(const AirClaims& claims) { return deterministic_encode(claims_to_cbor(claims)); }

}  // namespace cpipe::receipt

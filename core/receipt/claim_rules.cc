// AIR v1 layer 3: claim validation.
#include "core/receipt/claim_rules.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

namespace cpipe::receipt::internal {

using codec::CborValue;

namespace {

bool all_zero(ByteSpan b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

enum class Kind { kText, kUint, kBytes, kMap };

struct ClaimSpec {
  int64_t key;
  const char* name;
  Kind kind;
  bool required;
};

constexpr std::array kClaimSpecs = {
    ClaimSpec{kClaimIss, "iss", Kind::kText, true},
    ClaimSpec{kClaimIat, "iat", Kind::kUint, true},
    ClaimSpec{kClaimCti, "cti", Kind::kBytes, true},
    ClaimSpec{kClaimEatProfile, "eat_profile", Kind::kText, true},
    ClaimSpec{kClaimEatNonce, "eat_nonce", Kind::kBytes, false},
    ClaimSpec{kClaimModelId, "model_id", Kind::kText, true},
    ClaimSpec{kClaimModelVersion, "model_version", Kind::kText, true},
    ClaimSpec{kClaimModelHash, "model_hash", Kind::kBytes, true},
    ClaimSpec{kClaimRequestHash, "request_hash", Kind::kBytes, true},
    ClaimSpec{kClaimResponseHash, "response_hash", Kind::kBytes, true},
    ClaimSpec{kClaimAttestationDocHash, "attestation_doc_hash", Kind::kBytes, true},
    ClaimSpec{kClaimEnclaveMeasurements, "enclave_measurements", Kind::kMap, true},
    ClaimSpec{kClaimPolicyVersion, "policy_version", Kind::kText, true},
    ClaimSpec{kClaimSequenceNumber, "sequence_number", Kind::kUint, true},
    ClaimSpec{kClaimExecutionTimeMs, "execution_time_ms", Kind::kUint, true},
    ClaimSpec{kClaimMemoryPeakMb, "memory_peak_mb", Kind::kUint, true},
    ClaimSpec{kClaimSecurityMode, "security_mode", Kind::kText, true},
    ClaimSpec{kClaimModelHashScheme, "model_hash_scheme", Kind::kText, false},
};

bool has_kind(const CborValue& v, Kind k) {
  switch (k) {
    case Kind::kText: return v.is_text();
    case Kind::kUint: return v.is_uint();
    case Kind::kBytes: return v.is_bytes();
    case Kind::kMap: return v.is_map();
  }
  return false;
}

// The CLAIMS check: closed map, every key known, right types, required ones present.
bool check_claim_shape(const CborValue& map, Recorder& rec) {
  for (size_t i = 0; i < map.map_size(); ++i) {
    const CborValue& k = map.map_key(i);
    auto key = k.is_integer() ? k.as_int64() : std::nullopt;
    const ClaimSpec* spec = nullptr;
    for (const ClaimSpec& s : kClaimSpecs) {
      if (key && s.key == *key) spec = &s;
    }
    if (spec == nullptr) {
      std::string what = key ? std::to_string(*key) : std::string("a ") + std::string(CborValue::type_name(k.type()));
      rec.fail("CLAIMS", CheckCode::kUnknownClaim, "claims map has unknown key " + what + " (the map is closed)");
      return false;
    }
    if (!has_kind(map.map_value(i), spec->kind)) {
      rec.fail("CLAIMS", CheckCode::kWrongType,
               std::string(spec->name) + " is a " + std::string(CborValue::type_name(map.map_value(i).type())));
      return false;
    }
  }
  for (const ClaimSpec& s : kClaimSpecs) {
    if (s.required && map.find_int(s.key) == nullptr) {
      rec.fail("CLAIMS", CheckCode::kMissingClaim, std::string("required claim ") + s.name + " is absent");
      return false;
    }
  }
  rec.pass("CLAIMS");
  return true;
}

std::string text_of(const CborValue& map, int64_t key) {
  const CborValue* v = map.find_int(key);
  return v ? std::string(v->text_content()) : std::string();
}

// The MEAS check: a closed map with pcr0..2 required, pcr3/4/8 optional (pcr8 Nitro only), 48
// bytes each, and measurement_type text. Fills `out`.
void check_measurements(const CborValue& m, Measurements* out, Recorder& rec) {
  static constexpr std::array kAllowed = {"pcr0", "pcr1", "pcr2", "pcr3", "pcr4", "pcr8", "measurement_type"};
  for (size_t i = 0; i < m.map_size(); ++i) {
    const CborValue& k = m.map_key(i);
    bool known = k.is_text() && std::any_of(kAllowed.begin(), kAllowed.end(),
                                            [&k](const char* a) { return k.text_content() == a; });
    if (!known) {
      rec.fail("MEAS", CheckCode::kBadMeasurements, "enclave_measurements has an unknown key");
      return;
    }
  }
  const CborValue* type = m.find("measurement_type");
  if (type == nullptr || !type->is_text()) {
    rec.fail("MEAS", CheckCode::kBadMeasurements, "measurement_type is absent or not text");
    return;
  }
  out->measurement_type = std::string(type->text_content());
  struct Slot {
    const char* name;
    Bytes* required;
    std::optional<Bytes>* optional;
  };
  const std::array slots = {Slot{"pcr0", &out->pcr0, nullptr}, Slot{"pcr1", &out->pcr1, nullptr},
                            Slot{"pcr2", &out->pcr2, nullptr}, Slot{"pcr3", nullptr, &out->pcr3},
                            Slot{"pcr4", nullptr, &out->pcr4}, Slot{"pcr8", nullptr, &out->pcr8}};
  for (const Slot& s : slots) {
    const CborValue* v = m.find(s.name);
    if (v == nullptr) {
      if (s.required) {
        rec.fail("MEAS", CheckCode::kBadMeasurements, std::string("required measurement ") + s.name + " is absent");
        return;
      }
      continue;
    }
    if (!v->is_bytes()) {
      rec.fail("MEAS", CheckCode::kBadMeasurements, std::string(s.name) + " is not a bstr");
      return;
    }
    if (v->byte_content().size() != kMeasurementSize) {
      rec.fail("MEAS", CheckCode::kBadMeasurementLength,
               std::string(s.name) + " is " + std::to_string(v->byte_content().size()) + " bytes, not 48");
      return;
    }
    if (s.required) *s.required = v->byte_content();
    else *s.optional = v->byte_content();
  }
  if (out->measurement_type == kMeasurementTdx && out->pcr8) {
    rec.fail("MEAS", CheckCode::kBadMeasurements, "pcr8 is Nitro-only and must be absent for tdx-mrtd-rtmr");
    return;
  }
  rec.pass("MEAS");
}

}  // namespace

std::optional<AirClaims> check_claims(const CborValue& map, Recorder& rec) {
  if (!check_claim_shape(map, rec)) return std::nullopt;
  AirClaims c;
  c.iss = text_of(map, kClaimIss);
  c.iat = map.find_int(kClaimIat)->raw_uint();
  c.cti = map.find_int(kClaimCti)->byte_content();
  if (const CborValue* n = map.find_int(kClaimEatNonce)) c.eat_nonce = n->byte_content();
  c.model_id = text_of(map, kClaimModelId);
  c.model_version = text_of(map, kClaimModelVersion);
  c.model_hash = map.find_int(kClaimModelHash)->byte_content();
  c.request_hash = map.find_int(kClaimRequestHash)->byte_content();
  c.response_hash = map.find_int(kClaimResponseHash)->byte_content();
  c.attestation_doc_hash = map.find_int(kClaimAttestationDocHash)->byte_content();
  c.policy_version = text_of(map, kClaimPolicyVersion);
  c.sequence_number = map.find_int(kClaimSequenceNumber)->raw_uint();
  c.execution_time_ms = map.find_int(kClaimExecutionTimeMs)->raw_uint();
  c.memory_peak_mb = map.find_int(kClaimMemoryPeakMb)->raw_uint();
  c.security_mode = text_of(map, kClaimSecurityMode);
  if (map.find_int(kClaimModelHashScheme)) c.model_hash_scheme = text_of(map, kClaimModelHashScheme);

  if (c.cti.size() != kCtiSize) {
    rec.fail("CTI", CheckCode::kBadCtiLength, "cti is " + std::to_string(c.cti.size()) + " bytes, not 16");
  } else {
    rec.pass("CTI");
  }
  if (c.iat == 0) rec.fail("IAT", CheckCode::kZeroIat, "iat is zero");
  else rec.pass("IAT");

  if (c.model_hash.size() != kHashSize) {
    rec.fail("MHASH_PRESENT", CheckCode::kBadHashLength,
             "model_hash is " + std::to_string(c.model_hash.size()) + " bytes, not 32");
  } else if (all_zero(c.model_hash)) {
    rec.fail("MHASH_PRESENT", CheckCode::kZeroModelHash, "model_hash is all zeros");
  } else {
    rec.pass("MHASH_PRESENT");
  }

  bool hashes_ok = true;
  for (auto [name, h] : {std::pair{"request_hash", &c.request_hash}, std::pair{"response_hash", &c.response_hash},
                         std::pair{"attestation_doc_hash", &c.attestation_doc_hash}}) {
    if (hashes_ok && h->size() != kHashSize) {
      rec.fail("HASHES", CheckCode::kBadHashLength,
               std::string(name) + " is " + std::to_string(h->size()) + " bytes, not 32");
      hashes_ok = false;
    }
  }
  if (hashes_ok) rec.pass("HASHES");

  bool text_ok = true;
  for (auto [name, t] : {std::pair{"iss", &c.iss}, std::pair{"model_id", &c.model_id},
                         std::pair{"model_version", &c.model_version}, std::pair{"policy_version", &c.policy_version},
                         std::pair{"security_mode", &c.security_mode}}) {
    if (text_ok && (t->empty() || t->size() > kMaxTextClaim)) {
      rec.fail("TEXT", CheckCode::kBadTextClaim,
               std::string(name) + (t->empty() ? " is empty" : " is longer than 1024 bytes"));
      text_ok = false;
    }
  }
  if (text_ok) rec.pass("TEXT");

  if (!c.eat_nonce) {
    rec.skip("NONCE_FORMAT", "no eat_nonce");
  } else if (c.eat_nonce->size() < kNonceMin || c.eat_nonce->size() > kNonceMax) {
    rec.fail("NONCE_FORMAT", CheckCode::kBadNonceLength,
             "eat_nonce is " + std::to_string(c.eat_nonce->size()) + " bytes, not 8..64");
  } else {
    rec.pass("NONCE_FORMAT");
  }

  check_measurements(*map.find_int(kClaimEnclaveMeasurements), &c.enclave_measurements, rec);
  const std::string& mt = c.enclave_measurements.measurement_type;
  if (mt == kMeasurementNitro || mt == kMeasurementTdx) rec.pass("MTYPE", mt);
  else rec.fail("MTYPE", CheckCode::kUnknownMeasurementType, "unknown measurement_type \"" + mt + "\"");

  if (!c.model_hash_scheme) {
    rec.skip("MHASH_SCHEME", "no model_hash_scheme (model_hash is opaque)");
  } else if (*c.model_hash_scheme == kSchemeSingle || *c.model_hash_scheme == kSchemeConcat ||
             *c.model_hash_scheme == kSchemeManifest) {
    rec.pass("MHASH_SCHEME", *c.model_hash_scheme);
  } else {
    rec.fail("MHASH_SCHEME", CheckCode::kUnknownHashScheme, "unknown model_hash_scheme \"" + *c.model_hash_scheme + "\"");
  }

  if (c.security_mode == kSecurityModeProduction || c.security_mode == kSecurityModeEvaluation) {
    rec.pass("SECMODE", c.security_mode);
  } else {
    rec.fail("SECMODE", CheckCode::kUnknownSecurityMode, "unknown security_mode \"" + c.security_mode + "\"");
  }
  return c;
}

}  // namespace cpipe::receipt::internal

// Nitro attestation document fields: strict parsing and NSM-order encoding.
#include "core/attest/nitro/nitro_document.h"

#include <algorithm>

#include "core/codec/cbor/cbor_decode.h"
#include "core/codec/cbor/cbor_encode.h"

namespace cpipe::attest::nitro {
namespace {

using codec::CborValue;

Status bad(const std::string& msg) {
  return make_error(ErrorCode::ATTEST_BAD_FORMAT, "Nitro document: " + msg);
}

std::string type_of(const CborValue& v) { return std::string(CborValue::type_name(v.type())); }

Status bstr_field(const CborValue& v, const char* name, size_t min, size_t max, Bytes* out) {
  if (!v.is_bytes()) return bad(std::string(name) + " is a " + type_of(v) + ", not a bstr");
  size_t n = v.byte_content().size();
  if (n < min || n > max) {
    return bad(std::string(name) + " has " + std::to_string(n) + " bytes (allowed " +
               std::to_string(min) + ".." + std::to_string(max) + ")");
  }
  *out = v.byte_content();
  return Status::Ok();
}

Status optional_field(const CborValue* v, const char* name, std::optional<Bytes>* out) {
  if (v == nullptr || v->is_null()) {
    out->reset();
    return Status::Ok();
  }
  Bytes b;
  CPIPE_RETURN_IF_ERROR(bstr_field(*v, name, 0, kNitroMaxOptionalSize, &b));
  *out = std::move(b);
  return Status::Ok();
}

constexpr const char* kKnownKeys[] = {"module_id", "digest",     "timestamp", "pcrs",  "certificate",
                                      "cabundle",  "public_key", "user_data", "nonce"};

}  // namespace

bool NitroDocument::is_debug() const {
  for (uint32_t i = 0; i < 3; ++i) {
    auto it = pcrs.find(i);
    if (it == pcrs.end()) return false;
    if (!std::all_of(it->second.begin(), it->second.end(), [](uint8_t b) { return b == 0; })) {
      return false;
    }
  }
  return true;
}

Result<NitroDocument> parse_nitro_document(ByteSpan payload) {
  codec::CborLimits limits;
  limits.max_input = 64 * 1024;
  limits.max_depth = 4;
  limits.max_container = 64;
  limits.max_items = 512;
  limits.max_string = 4096;
  auto decoded = codec::cbor_decode(payload, limits);
  if (!decoded.ok()) {
    return bad("payload is not valid CBOR: " + decoded.status().to_string());
  }
  const CborValue& m = *decoded;
  if (!m.is_map()) return bad("payload is a " + type_of(m) + ", not a map");
  for (size_t i = 0; i < m.map_size(); ++i) {
    const CborValue& k = m.map_key(i);
    if (!k.is_text()) return bad("a key is a " + type_of(k) + ", not a text string");
    if (std::find(std::begin(kKnownKeys), std::end(kKnownKeys), k.text_content()) == std::end(kKnownKeys)) {
      return bad("unknown field \"" + std::string(k.text_content()) + "\"");
    }
  }
  NitroDocument doc;
  doc.indefinite_map = m.indefinite();

  const CborValue* v = m.find("module_id");
  if (v == nullptr) return bad("module_id is missing");
  if (!v->is_text()) return bad("module_id is a " + type_of(*v) + ", not a text string");
  if (v->text_content().empty() || v->text_content().size() > kNitroMaxModuleIdSize) {
    return bad("module_id has a bad length");
  }
  doc.module_id = std::string(v->text_content());

  v = m.find("digest");
  if (v == nullptr) return bad("digest is missing");
  if (!v->is_text()) return bad("digest is a " + type_of(*v) + ", not a text string");
  if (v->text_content() != "SHA384") {
    return make_error(ErrorCode::ATTEST_BAD_ALG,
                      "Nitro document: digest is \"" + std::string(v->text_content()) + "\", not SHA384");
  }
  doc.digest = "SHA384";

  v = m.find("timestamp");
  if (v == nullptr) return bad("timestamp is missing");
  if (!v->is_uint()) return bad("timestamp is a " + type_of(*v) + ", not a uint");
  if (v->raw_uint() == 0 || v->raw_uint() > (uint64_t(1) << 62)) return bad("timestamp out of range");
  doc.timestamp_ms = v->raw_uint();

  v = m.find("pcrs");
  if (v == nullptr) return bad("pcrs is missing");
  if (!v->is_map()) return bad("pcrs is a " + type_of(*v) + ", not a map");
  if (v->map_size() == 0 || v->map_size() > kNitroMaxPcrs) return bad("pcrs has a bad number of entries");
  for (size_t i = 0; i < v->map_size(); ++i) {
    const CborValue& k = v->map_key(i);
    if (!k.is_uint() || k.raw_uint() >= kNitroMaxPcrs) return bad("a pcrs index is not a uint below 32");
    Bytes value;
    std::string name = "PCR" + std::to_string(k.raw_uint());
    CPIPE_RETURN_IF_ERROR(bstr_field(v->map_value(i), name.c_str(), kNitroPcrSize, kNitroPcrSize, &value));
    doc.pcrs[uint32_t(k.raw_uint())] = std::move(value);
  }

  v = m.find("certificate");
  if (v == nullptr) return bad("certificate is missing");
  CPIPE_RETURN_IF_ERROR(bstr_field(*v, "certificate", 1, kNitroMaxCertSize, &doc.certificate));

  v = m.find("cabundle");
  if (v == nullptr) return bad("cabundle is missing");
  if (!v->is_array()) return bad("cabundle is a " + type_of(*v) + ", not an array");
  if (v->items().empty()) return bad("cabundle is empty");
  if (v->items().size() > 8) return bad("cabundle has more than 8 certificates");
  for (size_t i = 0; i < v->items().size(); ++i) {
    Bytes cert;
    std::string name = "cabundle[" + std::to_string(i) + "]";
    CPIPE_RETURN_IF_ERROR(bstr_field(v->items()[i], name.c_str(), 1, kNitroMaxCertSize, &cert));
    doc.cabundle.push_back(std::move(cert));
  }

  CPIPE_RETURN_IF_ERROR(optional_field(m.find("public_key"), "public_key", &doc.public_key));
  if (doc.public_key && doc.public_key->empty()) return bad("public_key is empty");
  CPIPE_RETURN_IF_ERROR(optional_field(m.find("user_data"), "user_data", &doc.user_data));
  CPIPE_RETURN_IF_ERROR(optional_field(m.find("nonce"), "nonce", &doc.nonce));
  return doc;
}

Bytes encode_nitro_document(const NitroDocument& doc) {
  Bytes out;
  codec::CborWriter w(out);
  w.map_header(9);
  w.text("module_id");
  w.text(doc.module_id);
  w.text("digest");
  w.text(doc.digest.empty() ? "SHA384" : doc.digest);
  w.text("timestamp");
  w.uint(doc.timestamp_ms);
  w.text("pcrs");
  w.map_header(doc.pcrs.size());
  for (const auto& [index, value] : doc.pcrs) {
    w.uint(index);
    w.bytes(value);
  }
  w.text("certificate");
  w.bytes(doc.certificate);
  w.text("cabundle");
  w.array_header(doc.cabundle.size());
  for (const Bytes& c : doc.cabundle) w.bytes(c);
  auto optional = [&w](const char* name, const std::optional<Bytes>& b) {
    w.text(name);
    if (b) {
      w.bytes(*b);
    } else {
      w.null();
    }
  };
  optional("public_key", doc.public_key);
  optional("user_data", doc.user_data);
  optional("nonce", doc.nonce);
  return out;
}

}  // namespace cpipe::attest::nitro

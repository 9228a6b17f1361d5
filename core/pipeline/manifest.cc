// Manifest parsing: each field on its own (presence, type, syntax), plus repeated keys and depth.
// Cross-field rules live in manifest_validate.cc.
#include "core/pipeline/manifest.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>

namespace cpipe::pipeline {
namespace {

using json = nlohmann::json;

std::string key_path(const std::string& path, std::string_view key) {
  return path + "." + std::string(key);
}
std::string index_path(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}
std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return s;
}

const char* json_type_name(const json& j) {
  if (j.is_number_float()) return "a float";
  return j.type_name();
}

// Bracketed IPv6 ("[::1]:9000") or name/IPv4 ("127.0.0.1:9000"); port 1..65535.
bool parse_tcp_addr(std::string_view addr, std::string& host, uint16_t& port, std::string& why) {
  std::string_view port_text;
  if (addr.starts_with('[')) {
    size_t close = addr.find(']');
    if (close == std::string_view::npos) return why = "unterminated '[' in IPv6 address", false;
    host = std::string(addr.substr(1, close - 1));
    if (addr.size() < close + 2 || addr[close + 1] != ':') return why = "missing ':PORT'", false;
    port_text = addr.substr(close + 2);
    bool ok = !host.empty() && host.find(':') != std::string::npos &&
              std::all_of(host.begin(), host.end(),
                          [](char c) {
                            return c == ':' || c == '.' || is_hex(std::string_view(&c, 1));
                          });
    if (!ok) return why = "'" + host + "' is not an IPv6 address", false;
  } else {
    size_t colon = addr.find(':');
    if (colon == std::string_view::npos) return why = "missing ':PORT'", false;
    if (addr.find(':', colon + 1) != std::string_view::npos)
      return why = "more than one ':' (write IPv6 hosts as [ADDR]:PORT)", false;
    host = std::string(addr.substr(0, colon));
    port_text = addr.substr(colon + 1);
    if (host.empty()) return why = "empty host", false;
    if (host.size() > 253) return why = "host name longer than 253 characters", false;
    for (char c : host) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-' || c == '_';
      if (!ok) return why = "host '" + host + "' contains an invalid character", false;
    }
  }
  uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
  if (port_text.empty() || port_text.size() > 5 || ec != std::errc() ||
      ptr != port_text.data() + port_text.size())
    return why = "port '" + std::string(port_text) + "' is not a number", false;
  if (v == 0 || v > 65535) return why = "port " + std::to_string(v) + " is not in 1..65535", false;
  port = uint16_t(v);
  return true;
}

// Collects the first error and every warning while walking the document.
class Parser {
 public:
  std::optional<ManifestError> error;
  std::vector<ManifestWarning> warnings;

  bool fail(ErrorCode code, std::string path, std::string message) {
    if (!error) error = ManifestError{code, std::move(path), std::move(message)};
    return false;
  }

  bool object(const json& j, const std::string& path) {
    if (j.is_object()) return true;
    return fail(ErrorCode::PIPELINE_BAD_MANIFEST, path,
                std::string("must be an object, not ") + json_type_name(j));
  }

  const json* required(const json& obj, const std::string& path, std::string_view key) {
    auto it = obj.find(std::string(key));
    if (it == obj.end()) {
      fail(ErrorCode::PIPELINE_BAD_MANIFEST, key_path(path, key), "missing required field");
      return nullptr;
    }
    return &*it;
  }

  void warn_unknown(const json& obj, const std::string& path,
                    std::initializer_list<std::string_view> known) {
    for (const auto& [key, value] : obj.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end())
        warnings.push_back({key_path(path, key), "unknown key (ignored)"});
    }
  }

  bool string(const json& j, const std::string& path, std::string& out) {
    if (!j.is_string())
      return fail(ErrorCode::PIPELINE_BAD_MANIFEST, path,
                  std::string("must be a string, not ") + json_type_name(j));
    out = j.get<std::string>();
    if (out.empty()) return fail(ErrorCode::PIPELINE_BAD_MANIFEST, path, "must not be empty");
    return true;
  }

  bool uint(const json& j, const std::string& path, uint64_t min, uint64_t max, uint64_t& out,
            ErrorCode range_code = ErrorCode::PIPELINE_BAD_MANIFEST) {
    if (!j.is_number_integer())
      return fail(ErrorCode::PIPELINE_BAD_MANIFEST, path,
                  std::string("must be an integer, not ") + json_type_name(j));
    if (!j.is_number_unsigned())
      return fail(range_code, path, "must not be negative (" + j.dump() + ")");
    out = j.get<uint64_t>();
    if (out < min || out > max)
      return fail(range_code, path,
                  j.dump() + " is not in " + std::to_string(min) + ".." + std::to_string(max));
    return true;
  }

  bool boolean(const json& j, const std::string& path, bool& out) {
    if (!j.is_boolean())
      return fail(ErrorCode::PIPELINE_BAD_MANIFEST, path,
                  std::string("must be true or false, not ") + json_type_name(j));
    out = j.get<bool>();
    return true;
  }

  bool endpoint(const json& j, const std::string& path, runtime::Endpoint& out) {
    if (!j.is_object())
      return fail(ErrorCode::PIPELINE_BAD_ENDPOINT, path,
                  std::string("must be an endpoint object, not ") + json_type_name(j));
    const json* type = required(j, path, "type");
    if (!type) return false;
    std::string type_name;
    if (!string(*type, key_path(path, "type"), type_name)) return false;
    if (type_name == "tcp") {
      warn_unknown(j, path, {"type", "addr"});
      const json* addr = required(j, path, "addr");
      std::string text;
      if (!addr || !string(*addr, key_path(path, "addr"), text)) return false;
      std::string host, why;
      uint16_t port = 0;
      if (!parse_tcp_addr(text, host, port, why))
        return fail(ErrorCode::PIPELINE_BAD_ENDPOINT, key_path(path, "addr"),
                    "'" + text + "' is not HOST:PORT: " + why);
      out = runtime::Endpoint::tcp(std::move(host), port);
      return true;
    }
    if (type_name == "vsock") {
      warn_unknown(j, path, {"type", "cid", "port"});
      const json* cid = required(j, path, "cid");
      uint64_t cid_v = 0, port_v = 0;
      if (!cid || !uint(*cid, key_path(path, "cid"), 0, 0xffffffffu, cid_v,
                        ErrorCode::PIPELINE_BAD_ENDPOINT))
        return false;
      const json* port = required(j, path, "port");
      // VSock ports are 32-bit, but cpipe endpoints (and every real deployment) use 16 bits.
      if (!port || !uint(*port, key_path(path, "port"), 1, 65535, port_v,
                         ErrorCode::PIPELINE_BAD_ENDPOINT))
        return false;
      out = runtime::Endpoint::vsock(uint32_t(cid_v), uint16_t(port_v));
      return true;
    }
    return fail(ErrorCode::PIPELINE_BAD_ENDPOINT, key_path(path, "type"),
                "unknown endpoint type '" + type_name + "' (expected \"tcp\" or \"vsock\")");
  }

  bool stage(const json& j, const std::string& path, StageSpec& out) {
    if (!object(j, path)) return false;
    warn_unknown(j, path,
                 {"stage_idx", "layer_start", "layer_end", "weight_hashes",
                  "expected_measurements", "endpoint"});
    uint64_t v = 0;
    const json* f = required(j, path, "stage_idx");
    if (!f || !uint(*f, key_path(path, "stage_idx"), 0, kMaxManifestStages - 1, v)) return false;
    out.stage_idx = uint32_t(v);
    f = required(j, path, "layer_start");
    if (!f || !uint(*f, key_path(path, "layer_start"), 0, kMaxManifestLayers, v,
                    ErrorCode::PIPELINE_LAYER_RANGE))
      return false;
    out.layer_start = uint32_t(v);
    f = required(j, path, "layer_end");
    if (!f || !uint(*f, key_path(path, "layer_end"), 0, kMaxManifestLayers, v,
                    ErrorCode::PIPELINE_LAYER_RANGE))
      return false;
    out.layer_end = uint32_t(v);

    std::string hp = key_path(path, "weight_hashes");
    f = required(j, path, "weight_hashes");
    if (!f) return false;
    if (!f->is_array())
      return fail(ErrorCode::PIPELINE_BAD_MANIFEST, hp,
                  std::string("must be an array of hex SHA-256 strings, not ") +
                      json_type_name(*f));
    for (size_t i = 0; i < f->size(); ++i) {
      std::string h;
      if (!string((*f)[i], index_path(hp, i), h)) return false;
      if (h.size() != 64 || !is_hex(h))
        return fail(ErrorCode::PIPELINE_BAD_MANIFEST, index_path(hp, i),
                    "'" + h + "' is not a hex SHA-256 (64 hex digits)");
      out.weight_hashes.push_back(lower(std::move(h)));
    }

    std::string mp = key_path(path, "expected_measurements");
    f = required(j, path, "expected_measurements");
    if (!f) return false;
    if (!f->is_object())
      return fail(ErrorCode::PIPELINE_BAD_MANIFEST, mp,
                  std::string("must be an object of name -> hex, not ") + json_type_name(*f));
    for (const auto& [name, value] : f->items()) {
      std::string vp = key_path(mp, name);
      bool name_ok = !name.empty() && name.size() <= 64 &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
                     });
      if (!name_ok)
        return fail(ErrorCode::PIPELINE_BAD_MANIFEST, vp,
                    "measurement name must be 1..64 of [A-Za-z0-9_.-]");
      std::string h;
      if (!string(value, vp, h)) return false;
      if (h.size() % 2 != 0 || h.size() > 128 || !is_hex(h))
        return fail(ErrorCode::PIPELINE_BAD_MANIFEST, vp,
                    "'" + h + "' is not hex of 1..64 bytes");
      out.expected_measurements[name] = lower(std::move(h));
    }

    std::string ep = key_path(path, "endpoint");
    f = required(j, path, "endpoint");
    if (!f || !object(*f, ep)) return false;
    warn_unknown(*f, ep, {"control", "data_in", "data_out"});
    for (auto [key, slot] : {std::pair{"control", &out.endpoint.control},
                             std::pair{"data_in", &out.endpoint.data_in},
                             std::pair{"data_out", &out.endpoint.data_out}}) {
      const json* e = required(*f, ep, key);
      if (!e || !endpoint(*e, key_path(ep, key), *slot)) return false;
    }
    return true;
  }

  bool activation(const json& j, const std::string& path, ActivationSpec& out) {
    if (!object(j, path)) return false;
    warn_unknown(j, path, {"dtype", "hidden_dim", "max_seq_len"});
    const json* f = required(j, path, "dtype");
    std::string dtype;
    if (!f || !string(*f, key_path(path, "dtype"), dtype)) return false;
    bool found = false;
    for (uint8_t code = 0; code < 255 && !found; ++code) {
      if (codec::dtype_valid(code) && codec::dtype_name(codec::DType(code)) == dtype) {
        out.dtype = codec::DType(code);
        found = true;
      }
    }
    if (!found)
      return fail(ErrorCode::PIPELINE_BAD_MANIFEST, key_path(path, "dtype"),
                  "'" + dtype + "' is not a tensor dtype (F32, F16, BF16, I32, I64, U8, U32)");
    if (out.dtype != codec::DType::F32 && out.dtype != codec::DType::F16 &&
        out.dtype != codec::DType::BF16)
      return fail(ErrorCode::PIPELINE_BAD_MANIFEST, key_path(path, "dtype"),
                  "activations must be a float dtype (F32, F16 or BF16), not " + dtype);
    f = required(j, path, "hidden_dim");
    if (!f || !uint(*f, key_path(path, "hidden_dim"), 1, 1u << 20, out.hidden_dim)) return false;
    f = required(j, path, "max_seq_len");
    if (!f || !uint(*f, key_path(path, "max_seq_len"), 1, 1u << 24, out.max_seq_len)) return false;
    return true;
  }

  bool extensions(const json& j, Manifest& out) {
    if (auto it = j.find("require_weight_hashes"); it != j.end()) {
      if (!boolean(*it, "$.require_weight_hashes", out.require_weight_hashes)) return false;
    }
    if (auto it = j.find("platform"); it != j.end()) {
      std::string name;
      if (!string(*it, "$.platform", name)) return false;
      out.platform = platform_from_name(name);
      if (!out.platform)
        return fail(ErrorCode::PIPELINE_BAD_MANIFEST, "$.platform",
                    "'" + name + "' is not one of \"nitro\", \"sev-snp\", \"local\", \"mock-dev\"");
    }
    if (auto it = j.find("attestation"); it != j.end()) {
      if (!object(*it, "$.attestation")) return false;
      warn_unknown(*it, "$.attestation", {"allow_debug", "max_evidence_age_ms"});
      AttestationPolicySpec policy;
      if (auto f = it->find("allow_debug"); f != it->end()) {
        if (!boolean(*f, "$.attestation.allow_debug", policy.allow_debug)) return false;
      }
      if (auto f = it->find("max_evidence_age_ms"); f != it->end()) {
        if (!uint(*f, "$.attestation.max_evidence_age_ms", 1, uint64_t(7) * 24 * 3600 * 1000,
                  policy.max_evidence_age_ms))
          return false;
      }
      out.attestation = policy;
    }
    if (auto it = j.find("session_limit"); it != j.end()) {
      uint64_t v = 0;
      if (!uint(*it, "$.session_limit", 1, 1000000, v)) return false;
      out.session_limit = uint32_t(v);
    }
    if (auto it = j.find("orchestrator"); it != j.end()) {
      if (!object(*it, "$.orchestrator")) return false;
      warn_unknown(*it, "$.orchestrator", {"data_in"});
      const json* e = required(*it, "$.orchestrator", "data_in");
      runtime::Endpoint endpoint;
      if (!e || !this->endpoint(*e, "$.orchestrator.data_in", endpoint)) return false;
      out.orchestrator_data_in = endpoint;
    }
    return true;
  }

  bool manifest(const json& j, Manifest& out) {
    if (!object(j, "$")) return false;
    warn_unknown(j, "$",
                 {"model_name", "model_version", "total_layers", "stages", "activation_spec",
                  "require_weight_hashes", "platform", "attestation", "session_limit",
                  "orchestrator"});
    const json* f = required(j, "$", "model_name");
    if (!f || !string(*f, "$.model_name", out.model_name)) return false;
    f = required(j, "$", "model_version");
    if (!f || !string(*f, "$.model_version", out.model_version)) return false;
    uint64_t v = 0;
    f = required(j, "$", "total_layers");
    if (!f || !uint(*f, "$.total_layers", 1, kMaxManifestLayers, v)) return false;
    out.total_layers = uint32_t(v);
    f = required(j, "$", "stages");
    if (!f) return false;
    if (!f->is_array())
      return fail(ErrorCode::PIPELINE_BAD_MANIFEST, "$.stages",
                  std::string("must be an array, not ") + json_type_name(*f));
    if (f->empty()) return fail(ErrorCode::PIPELINE_BAD_MANIFEST, "$.stages", "must not be empty");
    if (f->size() > kMaxManifestStages)
      return fail(ErrorCode::PIPELINE_BAD_MANIFEST, "$.stages",
                  "more than " + std::to_string(kMaxManifestStages) + " stages");
    out.stages.resize(f->size());
    for (size_t i = 0; i < f->size(); ++i) {
      if (!stage((*f)[i], index_path("$.stages", i), out.stages[i])) return false;
    }
    f = required(j, "$", "activation_spec");
    if (!f || !activation(*f, "$.activation_spec", out.activation_spec)) return false;
    return extensions(j, out);
  }
};

// JSON allows repeated keys and nlohmann keeps the last one silently; two readers of one file
// could then disagree about a stage's endpoints or hashes (serde, on the Rust side, rejects a
// repeated field). This parse callback records the path of the first repeated key.
class DuplicateKeyFinder {
 public:
  static constexpr size_t kMaxDepth = 32;  // manifests nest 5 deep; paths would grow quadratically
  std::optional<std::string> duplicate;
  bool too_deep = false;

  bool on_event(json::parse_event_t event, const json& parsed) {
    using E = json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start:
        if (frames_.size() >= kMaxDepth) too_deep = true;
        frames_.push_back(
            {too_deep ? std::string() : child_path(), event == E::array_start, {}, 0, ""});
        break;
      case E::object_end:
      case E::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case E::key:
        if (!frames_.empty()) {
          Frame& f = frames_.back();
          f.key = parsed.get<std::string>();
          if (!f.keys.insert(f.key).second && !duplicate && !too_deep)
            duplicate = key_path(f.path, f.key);
        }
        break;
      case E::value:
        if (!frames_.empty() && frames_.back().is_array) ++frames_.back().index;
        break;
    }
    return true;
  }

 private:
  struct Frame {
    std::string path;
    bool is_array;
    std::set<std::string> keys;
    size_t index;
    std::string key;
  };

  // The path of the container that starts now (and counts it as an element of its parent).
  std::string child_path() {
    if (frames_.empty()) return "$";
    Frame& parent = frames_.back();
    if (parent.is_array) return index_path(parent.path, parent.index++);
    return key_path(parent.path, parent.key);
  }

  std::vector<Frame> frames_;
};

}  // namespace

Status ManifestError::status() const {
  return Status(code, message + " at " + json_path);
}

Result<Manifest> parse_manifest(std::string_view json_text, ManifestError* error) {
  DuplicateKeyFinder keys;
  json doc = json::parse(
      json_text,
      [&keys](int, json::parse_event_t event, json& parsed) {
        return keys.on_event(event, parsed);
      },
      /*allow_exceptions=*/false);
  ManifestError err;
  if (doc.is_discarded()) {
    err = ManifestError{ErrorCode::PARSE_ERROR, "$", "the manifest is not valid JSON"};
  } else if (keys.too_deep) {
    err = ManifestError{ErrorCode::PIPELINE_BAD_MANIFEST, "$",
                        "JSON nests deeper than " + std::to_string(DuplicateKeyFinder::kMaxDepth) +
                            " levels"};
  } else if (keys.duplicate) {
    err = ManifestError{ErrorCode::PIPELINE_BAD_MANIFEST, *keys.duplicate,
                        "repeated key (readers could disagree about its value)"};
  } else {
    Parser parser;
    Manifest m;
    if (parser.manifest(doc, m)) {
      m.warnings = std::move(parser.warnings);
      return m;
    }
    err = *parser.error;
  }
  if (error) *error = err;
  return err.status();
}

Result<Manifest> load_manifest(std::string_view json_text, const ValidateOptions& options,
                               ManifestError* error) {
  CPIPE_ASSIGN_OR_RETURN(Manifest m, parse_manifest(json_text, error));
  CPIPE_RETURN_IF_ERROR(validate_manifest(m, options, error));
  return m;
}

}  // namespace cpipe::pipeline

// The pipeline manifest: which model, how its layers are split into stages, where each stage
// listens and sends, what its weights and enclave must hash to. The JSON format is the Rust
// confidential-ml-pipeline's (its files load unchanged) plus the optional extensions described in
// docs/manifest.md. Loading is two steps: parse_manifest checks every field on its own (presence,
// type, syntax), validate_manifest checks the fields against each other and against the model.
// Every failure names the offending field by its JSON path ("$.stages[1].layer_start").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/codec/tensor_frame.h"
#include "core/runtime/endpoint.h"

namespace cpipe::pipeline {

// Limits that keep a hostile or broken file from asking for absurd allocations.
inline constexpr size_t kMaxManifestStages = 256;
inline constexpr uint64_t kMaxManifestLayers = 100000;
inline constexpr uint32_t kDefaultSessionLimit = 100;
inline constexpr uint64_t kDefaultMaxEvidenceAgeMs = 5 * 60 * 1000;

// A structured validation failure. `json_path` is "$" for the whole document, otherwise a path
// such as "$.stages[1].endpoint.data_in.addr".
struct ManifestError {
  ErrorCode code = ErrorCode::PIPELINE_BAD_MANIFEST;
  std::string json_path = "$";
  std::string message;

  // code + "MESSAGE at JSON_PATH", the form every Status from this file carries.
  Status status() const;
};

// Something tolerated but worth saying (an unknown key: newer Rust files may add fields).
struct ManifestWarning {
  std::string json_path;
  std::string message;
};

struct StageEndpoints {
  runtime::Endpoint control;   // the stage listens; the orchestrator connects
  runtime::Endpoint data_in;   // the stage listens; the previous stage (or relay) connects
  runtime::Endpoint data_out;  // the stage connects: next stage's data_in, relay, or orchestrator
};

struct StageSpec {
  uint32_t stage_idx = 0;
  uint32_t layer_start = 0;  // first transformer block, inclusive
  uint32_t layer_end = 0;    // one past the last block (exclusive), as in the Rust files
  // Lowercase hex SHA-256, one per tensor the stage loads, sorted by tensor name (see
  // weight_hash.h and docs/manifest.md). Empty: not pinned.
  std::vector<std::string> weight_hashes;
  // Name (e.g. "PCR0", "measurement") -> lowercase hex. Empty: not pinned.
  std::map<std::string, std::string> expected_measurements;
  StageEndpoints endpoint;

  uint32_t num_layers() const { return layer_end - layer_start; }
};

struct ActivationSpec {
  codec::DType dtype = codec::DType::F32;
  uint64_t hidden_dim = 0;
  uint64_t max_seq_len = 0;
};

// Extension: which TEE the stages run in; decides the default verifier and policy.
enum class Platform { kLocal, kMockDev, kNitro, kSevSnp };
std::string_view platform_name(Platform platform);  // "local", "mock-dev", "nitro", "sev-snp"
std::optional<Platform> platform_from_name(std::string_view name);

// Extension: the attestation policy knobs the manifest may tighten or (for development) loosen.
struct AttestationPolicySpec {
  bool allow_debug = false;
  uint64_t max_evidence_age_ms = kDefaultMaxEvidenceAgeMs;

  friend bool operator==(const AttestationPolicySpec&, const AttestationPolicySpec&) = default;
};

struct Manifest {
  std::string model_name;
  std::string model_version;
  uint32_t total_layers = 0;
  std::vector<StageSpec> stages;
  ActivationSpec activation_spec;

  // Extensions (docs/manifest.md). Absent in the Rust files; the defaults apply then.
  bool require_weight_hashes = false;
  std::optional<Platform> platform;
  std::optional<AttestationPolicySpec> attestation;  // absent: the platform default policy
  uint32_t session_limit = kDefaultSessionLimit;
  // Where the orchestrator listens for the last stage's output when that is not the last
  // stage's data_out itself (vsock: data_out reaches the parent's relay, which forwards here).
  std::optional<runtime::Endpoint> orchestrator_data_in;

  // Unknown keys seen while parsing (not part of the manifest's value).
  std::vector<ManifestWarning> warnings;

  bool uses_vsock() const;
  // The endpoint the orchestrator listens on for results: orchestrator_data_in if given, else
  // the last stage's data_out.
  runtime::Endpoint result_endpoint() const;
  // Canonical JSON (2-space indented). Keys in the Rust order; extensions only when they differ
  // from their defaults, so a Rust file round-trips to the same JSON value.
  std::string to_json() const;
};

// What the manifest must agree with: filled by the caller from the model's config.json.
struct ModelShape {
  int64_t n_layer = 0;
  int64_t n_embd = 0;
  int64_t n_positions = 0;
};

struct ValidateOptions {
  std::optional<ModelShape> model;  // when set, PIPELINE_MODEL_MISMATCH on disagreement
};

// Parses and checks each field on its own. PARSE_ERROR at "$" for text that is not JSON;
// PIPELINE_BAD_MANIFEST / PIPELINE_BAD_ENDPOINT with the field's path otherwise. `error`, when
// given, receives the structured form of a failure.
Result<Manifest> parse_manifest(std::string_view json_text, ManifestError* error = nullptr);

// Checks the fields against each other and against `options.model`: stage order, layer
// coverage, listener collisions, data chaining, extension consistency.
Status validate_manifest(const Manifest& manifest, const ValidateOptions& options = {},
                         ManifestError* error = nullptr);

// parse_manifest, then validate_manifest.
Result<Manifest> load_manifest(std::string_view json_text, const ValidateOptions& options = {},
                               ManifestError* error = nullptr);

// The "type"/"addr" (or "cid"/"port") JSON object of an endpoint, as the manifest writes it.
std::string endpoint_to_manifest_json(const runtime::Endpoint& endpoint);

}  // namespace cpipe::pipeline

// Cold start: how a stage gets its model, on runtime interfaces only. Production path:
//   fresh RSA-2048 recipient key → attestation document binding its public key (DER
//   SubjectPublicKeyInfo) → KMS Decrypt with Recipient → data key out of the CMS envelope →
//   sealed model streamed from the object store by ranged GETs (a bounded window of chunks in
//   flight) → each chunk authenticated and decrypted in place → plaintext files written into one
//   pre-sized buffer per file → an optional load step.
// Peak memory is the model's files plus window × chunk (see ColdStartStats::peak_bytes_held).
// Everything from the store comes through the untrusted host; the sealed-model reader fails
// closed on the first chunk that does not authenticate, and then no file is returned (the
// partial plaintext is wiped).
//
// Phase timings use the Env clock and the EphemeralML benchmark names. Because fetching and
// decryption overlap, model_fetch_ms is the time spent waiting for sealed bytes (header
// included) and model_decrypt_ms the time spent decrypting (on Compute: worker threads on
// hardware, the cost model in the simulator); their sum is the streaming phase's duration.
//
// The development path (dev_key set) skips attestation and KMS: the data key comes from a local
// key file (dev_key_wrap.h). Every event it emits says DEVELOPMENT-ONLY.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/keys/kms_client.h"
#include "core/keys/object_store.h"
#include "core/keys/rsa_key.h"
#include "core/keys/sealed_model_format.h"
#include "core/runtime/attestation.h"
#include "core/runtime/env.h"
#include "core/runtime/task.h"

namespace cpipe::keys {

// Milliseconds per phase (EphemeralML's `stages` field names).
struct ColdStartTimings {
  double attestation_ms = 0;       // recipient key generation + attestation document
  double kms_key_release_ms = 0;   // KMS Decrypt with Recipient + opening the CMS envelope
  double model_fetch_ms = 0;       // waiting for sealed bytes (header + chunks)
  double model_decrypt_ms = 0;     // authenticating and decrypting chunks
  double model_load_ms = 0;        // the load step (e.g. building the GPT-2 stage)
  double cold_start_total_ms = 0;  // first call to the end, everything included

  // {"attestation_ms":..,"kms_key_release_ms":..,...,"cold_start_total_ms":..}
  std::string to_json() const;
};

struct ColdStartStats {
  uint64_t object_size = 0;
  uint64_t chunks = 0;
  uint64_t sealed_bytes_fetched = 0;
  uint64_t plaintext_bytes = 0;  // the files
  uint64_t peak_bytes_held = 0;  // files + in-flight chunk buffers + header: the memory bound
};

// The peak bytes a cold start holds for this sealed model with `window` chunks in flight.
uint64_t cold_start_peak_bytes(const SealedModelHeader& header, uint64_t plaintext_file_bytes, size_t window);

struct ModelFile {
  std::string name;  // manifest name ("config.json", "model.safetensors")
  Bytes data;        // exactly the manifest's size; authenticated and hash-checked
};

struct ColdStartResult {
  std::string model_id;
  std::string model_version;
  Bytes manifest_hash;  // what the header and every chunk's AAD bind: the model's identity
  Manifest manifest;
  std::vector<ModelFile> files;  // manifest order
  ColdStartTimings timings;
  ColdStartStats stats;
  bool development_key = false;  // DEVELOPMENT ONLY: loaded without attested key release
  runtime::Evidence evidence;    // the document KMS was shown (empty on the dev path)

  ModelFile* find(std::string_view name);
  const ModelFile* find(std::string_view name) const;
  // Bytes the files hold now (capacity), for the benchmark's memory figures.
  uint64_t bytes_held() const;
};

struct ColdStartConfig {
  ObjectStore* store = nullptr;  // required; outlives the call
  std::string object_key;        // the sealed model object
  // What the stage means to load: checked against the (untrusted) header before any key
  // release. An empty expected_manifest_hash is not checked.
  std::string model_id;
  std::string model_version;
  Bytes expected_manifest_hash;

  // Production key release. Both required unless dev_key is set; both outlive the call.
  KmsClient* kms = nullptr;
  runtime::AttestationProvider* attestation = nullptr;
  Bytes attestation_user_data;  // bound into the same document (e.g. a receipt signing key)
  Bytes attestation_nonce;
  // Makes the recipient key (default RsaKey::generate_rsa2048). Tests inject a fixed one.
  std::function<Result<RsaKey>()> make_recipient_key;

  // DEVELOPMENT ONLY: unwrap the data key with this local key instead of KMS.
  std::optional<Bytes> dev_key;

  size_t window_chunks = 2;                 // sealed chunks in flight (>= 1)
  uint64_t max_model_bytes = uint64_t(16) << 30;  // refuse larger manifests (RESOURCE_EXHAUSTED)
  size_t header_read_size = 64 * 1024;      // first GET; a larger header costs a second one
  // Simulated cost per MiB of authenticating, decrypting, hashing and storing a chunk (the
  // simulator's virtual time only; ignored on hardware). Default: measured on the 2-core dev
  // machines (about 570 MB/s on one core, 4 MiB chunks).
  runtime::Duration decrypt_cost_per_mib = std::chrono::microseconds(1800);

  // Optional load step, timed as model_load_ms, run on Compute with `load_cost` (simulator).
  // It may take the files out of the result (e.g. move model.safetensors into the engine).
  std::function<Status(ColdStartResult&)> load;
  runtime::Duration load_cost{0};
};

// Runs the cold start. `env` (clock, executor, compute, random, events) outlives the call.
// Errors carry the failing phase in their message; a key-release refusal keeps KMS's code and
// message (KEYS_ACCESS_DENIED ...).
runtime::Task<Result<ColdStartResult>> cold_start(runtime::Env& env, ColdStartConfig config);

}  // namespace cpipe::keys

// Sealed-model cold start for a local `cpipe stage --sealed FILE --dev-key FILE` process: the
// same pipeline::boot_stage path the simulator and Nitro use, on the posix Env, with the sealed
// object read from a local file (FileObjectStore) and the data key unwrapped by the
// DEVELOPMENT-ONLY dev key (no attestation, no KMS). KMS key release is not wired for local
// processes: their only attestation is mock-dev, which no KMS key policy admits.
// Also `cpipe up --sealed`'s side: sealing a model directory under a fresh dev key.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "apps/cpipe/file_object_store.h"
#include "core/pipeline/manifest.h"
#include "core/pipeline/stage_boot.h"

namespace cpipe::cli {

struct LocalSealedStageOptions {
  std::string sealed_path;   // made by `cpipe model seal`
  std::string dev_key_path;  // DEVELOPMENT ONLY 32-byte key file
  std::string model_id;      // empty: the header's (the manifest's weight hashes still bind the model)
  std::string model_version;
  pipeline::Manifest manifest;
  uint32_t stage_idx = 0;
  int threads = 1;
  // Optional wrapper around the loaded model (testing faults).
  std::function<std::unique_ptr<pipeline::StageModel>(std::unique_ptr<pipeline::StageModel>)> wrap;
};

// Everything a sealed boot needs alive while it runs.
struct LocalSealedBoot {
  FileObjectStore store;
  std::string sealed_path;
  pipeline::StageBootConfig config;  // moved into the boot when it starts
  Result<pipeline::StageBootResult> result = make_error(ErrorCode::UNAVAILABLE, "cold start not finished");
  bool done = false;
};

// Reads the dev key and the sealed header's identity, and builds the boot config: the load step
// builds this stage's layer range in place from the decrypted buffer, checks the manifest
// against the sealed config.json and the loaded tensors against the manifest's weight hashes.
Result<std::unique_ptr<LocalSealedBoot>> make_local_sealed_boot(const LocalSealedStageOptions& options);

// The cold start's one-line summary for stderr and the ready line:
// {"sealed":..,"model_id":..,"key_release":"DEVELOPMENT-ONLY dev key","stages":{...}} or the error.
std::string sealed_boot_json(const LocalSealedBoot& boot);

// DEVELOPMENT ONLY: seals `model_dir` into `out_dir`/model.sealed under a fresh random dev key
// written to `out_dir`/dev.key (0600), by running `program` (default: this executable) `model seal`.
// Returns the sealed file's path.
Result<std::string> seal_model_dir_with_fresh_dev_key(const std::string& model_dir, const std::string& out_dir,
                                                      const std::string& model_id,
                                                      const std::string& program = "");

}  // namespace cpipe::cli

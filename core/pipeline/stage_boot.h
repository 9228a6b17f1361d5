// Stage boot: what a stage process does before it can serve (docs/sealed-model.md "Cold start
// in the stage"). With a sealed model it runs the attested cold start (keys/cold_start.h:
// attest → KMS Decrypt with Recipient → sealed chunks through the host proxy → decrypt/hash →
// load) and hands the model to the Stage; a failure — KMS AccessDenied for an image the key
// policy does not admit, a chunk the host altered — makes the Stage refuse every init with that
// error, so the orchestrator's run fails with the KMS or sealed-model code instead of hanging.
// The receipt signing key (stage 0) is bound into the same attestation document as the
// recipient key: the evidence that got the model key released is the evidence receipts name.
//
// The model library is not a dependency of core/pipeline: the caller's build_model turns the
// delivered files into a StageModel (model/gpt2_stage_model.h for GPT-2, in place).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/keys/cold_start.h"
#include "core/pipeline/stage.h"
#include "core/pipeline/stage_model.h"
#include "core/receipt/receipt_signer.h"
#include "core/runtime/attestation.h"
#include "core/runtime/env.h"

namespace cpipe::pipeline {

struct StageBootConfig {
  // The sealed model's delivery. Without it the model comes from elsewhere (plaintext demo
  // mode) and boot only attests the receipt key.
  std::optional<keys::ColdStartConfig> cold_start;
  // Builds the stage model from the delivered files; may take their bytes (no copy). Runs as
  // the cold start's load step (timed as model_load_ms).
  std::function<Result<std::unique_ptr<StageModel>>(keys::ColdStartResult&)> build_model;
  // The stage's attestation (used directly when there is no cold start) and its own check of
  // the document it got, which yields the measurements receipts carry.
  runtime::AttestationProvider* attestation = nullptr;
  const runtime::AttestationVerifier* verifier = nullptr;
  // Optional: bound into the document (key_binding.h), then bind_evidence()'d.
  receipt::ReceiptSigner* signer = nullptr;
};

struct StageBootResult {
  std::unique_ptr<StageModel> model;  // null without a cold start
  bool sealed = false;
  keys::ColdStartTimings timings;
  keys::ColdStartStats stats;
  std::string model_id, model_version;
  Bytes model_hash;                   // the sealed manifest hash
  runtime::Evidence evidence;         // the document binding the receipt key (if any)
  runtime::VerifiedEvidence verified;
};

// Runs the boot. Errors keep the failing phase's code (KEYS_ACCESS_DENIED, KEYS_CHUNK_AUTH_FAILED...).
runtime::Task<Result<StageBootResult>> boot_stage(runtime::Env& env, StageBootConfig config);

// boot_stage, then the outcome goes to `stage`: set_model() on success, refuse() otherwise.
// `stage` and `out` outlive the task; `out` receives the result (or the error).
runtime::Task<void> boot_into_stage(runtime::Env* env, Stage* stage, StageBootConfig config,
                                    Result<StageBootResult>* out);

}  // namespace cpipe::pipeline

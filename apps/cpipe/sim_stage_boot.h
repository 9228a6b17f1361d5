// How a simulated stage process boots (sim_pipeline_session.cc), one boot per incarnation:
// plaintext — the model the session loaded from disk is there from the start; sealed — the
// stage starts empty and runs the attested cold start through SimKeyDelivery, building its GPT-2
// layers in place from the decrypted buffers (Gpt2StageModel::from_memory); a failure makes the
// Stage refuse every init with the error (pipeline/stage_boot.h). Stage 0 with receipts makes a
// fresh Ed25519 receipt key (from the node's random stream) bound into that boot's evidence.
#pragma once

#include <functional>
#include <memory>

#include "apps/cpipe/sim_attestation.h"
#include "apps/cpipe/sim_key_delivery.h"
#include "backends/simulated/sim_node.h"
#include "core/pipeline/stage_boot.h"
#include "model/gpt2_stage_model.h"

namespace cpipe::cli {

struct SimStageBootSpec {
  SimAttestation* attestation = nullptr;  // the stage's SimNsm and verifier
  SimKeyDelivery* delivery = nullptr;     // sealed delivery; null: plaintext
  int stage = 0;                          // which stage (its own KMS access key)
  model::Gpt2Options model_options;       // sealed: the stage's layers and thread pool
  // Sealed: wraps the freshly built model (the session's TappedModel).
  std::function<std::unique_ptr<pipeline::StageModel>(std::unique_ptr<pipeline::StageModel>)> wrap;
  bool sign_receipts = false;             // stage 0 with receipts
  receipt::SignerConfig signer;
};

// One incarnation's boot: the signer (if any) and the outcome. Lives as long as the world.
struct SimStageBooting {
  std::unique_ptr<receipt::ReceiptSigner> signer;
  Result<pipeline::StageBootResult> result =
      Result<pipeline::StageBootResult>(make_error(ErrorCode::UNAVAILABLE, "boot not finished"));
  bool done = false;
  bool needed = false;  // false: nothing to do (plaintext without receipts)
};

// Makes the receipt key (when the spec signs) so the Stage can announce it in ready.
std::unique_ptr<SimStageBooting> prepare_stage_boot(const SimStageBootSpec& spec, runtime::Env& env);

// Starts the boot task on the stage's node; `booting->done` turns true when it finished.
void start_stage_boot(sim::SimNode& node, runtime::Env& env, const SimStageBootSpec& spec,
                      pipeline::Stage& stage, SimStageBooting& booting);

}  // namespace cpipe::cli

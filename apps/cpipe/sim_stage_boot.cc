// Simulated stage boot: receipt key, cold start through the simulated key delivery, in-place
// model build (sim_stage_boot.h).
#include "apps/cpipe/sim_stage_boot.h"

#include "core/runtime/task.h"

namespace cpipe::cli {
namespace {

runtime::Task<void> boot_task(runtime::Env* env, pipeline::Stage* stage, pipeline::StageBootConfig config,
                              SimStageBooting* booting) {
  co_await pipeline::boot_into_stage(env, stage, std::move(config), &booting->result);
  booting->done = true;
}

}  // namespace

std::unique_ptr<SimStageBooting> prepare_stage_boot(const SimStageBootSpec& spec, runtime::Env& env) {
  auto b = std::make_unique<SimStageBooting>();
  b->needed = spec.delivery != nullptr || spec.sign_receipts;
  if (spec.sign_receipts)
    b->signer = std::make_unique<receipt::ReceiptSigner>(spec.signer, crypto::Ed25519KeyPair::generate(*env.random));
  if (!b->needed) {
    b->result = pipeline::StageBootResult{};
    b->done = true;
  }
  return b;
}

void start_stage_boot(sim::SimNode& node, runtime::Env& env, const SimStageBootSpec& spec, pipeline::Stage& stage,
                      SimStageBooting& booting) {
  if (!booting.needed) return;
  pipeline::StageBootConfig config;
  config.attestation = spec.attestation->provider.get();
  config.verifier = spec.attestation->verifier.get();
  config.signer = booting.signer.get();
  if (spec.delivery) {
    config.cold_start = spec.delivery->cold_start_for(env, spec.stage);
    const model::Gpt2Options options = spec.model_options;
    auto wrap = spec.wrap;
    config.build_model = [options, wrap](keys::ColdStartResult& r) -> Result<std::unique_ptr<pipeline::StageModel>> {
      keys::ModelFile* cfg = r.find("config.json");
      keys::ModelFile* weights = r.find("model.safetensors");
      if (!cfg || !weights)
        return make_error(ErrorCode::MODEL_BAD_FILE, "the sealed model lacks config.json or model.safetensors");
      // The decrypted buffer becomes the engine's file: moved, not copied.
      CPIPE_ASSIGN_OR_RETURN(auto m, model::Gpt2StageModel::from_memory(to_string(cfg->data),
                                                                        std::move(weights->data), options));
      std::unique_ptr<pipeline::StageModel> out = std::move(m);
      return wrap ? wrap(std::move(out)) : std::move(out);
    };
  }
  runtime::spawn(node, boot_task(&env, &stage, std::move(config), &booting));
}

}  // namespace cpipe::cli

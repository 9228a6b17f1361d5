// The simulated pipeline's stage processes (sim_pipeline_world.h): starting an incarnation with
// its attestation, boot plan and receipt key; killing and restarting it; sealed key delivery
// (SimKms, SimS3, the host's proxy); and what every boot ended with, for the report.
#include "apps/cpipe/sim_pipeline_world.h"

namespace cpipe::cli::sim_pipeline {

Status start_stage(World* w, int i) {
  StageProcess& p = w->stages[size_t(i)];
  pipeline::StageConfig c;
  c.manifest = w->manifest;
  c.stage_idx = uint32_t(i);
  c.channel.provider = p.attestation.provider.get();
  c.channel.verifier = p.attestation.verifier.get();
  c.cost_per_layer_token = from_ms(w->opt.cost_per_layer_token_ms);
  auto booting = prepare_stage_boot(p.boot_spec, p.env);
  if (booting->signer) {
    c.receipt_signer = booting->signer.get();
    const auto& key = booting->signer->key().public_key();
    c.receipt_public_key.assign(key.begin(), key.end());
  }
  auto stage = std::make_unique<pipeline::Stage>(p.env, std::move(c), w->opt.sealed ? nullptr : p.model.get());
  CPIPE_RETURN_IF_ERROR(stage->start());
  start_stage_boot(*p.node, p.env, p.boot_spec, *stage, *booting);
  p.boots.push_back(std::move(booting));
  p.incarnations.push_back(std::move(stage));
  return Status::Ok();
}

void kill_stage(World* w, int i, double restart_after_ms) {
  StageProcess& p = w->stages[size_t(i)];
  if (p.incarnations.empty() || p.incarnations.back()->killed()) return;
  p.incarnations.back()->kill();
  // Its sockets die with it: a cold start in flight (KMS, S3 through the proxy) ends there.
  if (w->delivery) w->delivery->process_died(i);
  w->killed_at = w->sim->now();
  w->note(p.node->name(), "killed (process died)");
  if (restart_after_ms < 0) return;
  p.restart_pending = true;
  w->sim->start_timer(p.node->name(), from_ms(restart_after_ms), [w, i] {
    w->stages[size_t(i)].restart_pending = false;
    Status st = start_stage(w, i);
    w->note(w->stages[size_t(i)].node->name(),
            st.ok() ? "restarted; it will attest again" : "restart failed: " + st.to_string());
  });
}

// Sealed delivery (SimKms, SimS3, the host's proxy) and every stage's boot plan.
Status setup_delivery(World* w, sim::SimWorld& sim, sim::SimNode& host, const model::Gpt2Config& config) {
  const SimPipelineOptions& opt = w->opt;
  (void)config;
  if (!opt.sealed && !opt.receipts) return Status::Ok();  // nothing to boot: stages start with the model
  CPIPE_ASSIGN_OR_RETURN(keys::Manifest files, model_dir_manifest(opt.model_dir));
  w->report.sealed = opt.sealed;
  // Named strings, not literals: GCC 12 at -O3 warns falsely (-Wrestrict) on assigning a short
  // literal here.
  w->report.model_id = std::string("gpt2-sim");
  w->report.model_version = std::string("1");
  w->report.model_hash = files.hash();
  // The simulated Nitro root every enclave's documents chain to (SimKms pins it; receipt
  // verifiers are handed it as PEM). The stages' providers may be wrapped for fault
  // injection, so a SimNsm of the same PKI seed names it.
  CPIPE_ASSIGN_OR_RETURN(SimAttestation probe, make_sim_nitro(host.clock(), SimNitroOptions{}));
  const Bytes root = static_cast<sim::SimNsm*>(probe.provider.get())->root_der();
  CPIPE_ASSIGN_OR_RETURN(w->report.receipt_evidence_root_pem, sim::certificate_der_to_pem(root));
  if (opt.sealed) {
    SimDeliveryOptions d;
    d.model_dir = opt.model_dir;
    d.model_id = w->report.model_id;
    d.model_version = w->report.model_version;
    d.chunk_size = opt.chunk_size;
    d.admitted_image = opt.kms_policy_mismatch ? "cpipe-stage-v2" : "cpipe-stage";
    d.kms_throttle = opt.kms_throttle;
    d.corrupt_chunk = opt.corrupt_chunk;
    d.seed = opt.seed;
    CPIPE_ASSIGN_OR_RETURN(w->delivery, SimKeyDelivery::create(host, sim.add_node("kms", {.host = "kms"}),
                                                               sim.add_node("s3", {.host = "s3"}), d, root));
    if (w->delivery->manifest_hash() != w->report.model_hash)
      return make_error(ErrorCode::INTERNAL, "sealed manifest hash differs from the model directory's");
  }
  for (size_t i = 0; i < w->stages.size(); ++i) {
    SimStageBootSpec& spec = w->stages[i].boot_spec;
    spec.attestation = &w->stages[i].attestation;
    spec.delivery = w->delivery.get();
    spec.stage = int(i);
    spec.sign_receipts = opt.receipts && i == 0;
    spec.signer.model_id = w->report.model_id;
    spec.signer.model_version = w->report.model_version;
    spec.signer.model_hash = w->report.model_hash;
    spec.signer.policy_version = "cpipe-sim-1";
    spec.signer.security_mode = "evaluation";  // simulated hardware: never production receipts
  }
  return Status::Ok();
}

// Boots, key-delivery counters and the receipt evidence into the report.
void report_boots(World* w) {
  SimPipelineReport& rep = w->report;
  for (size_t i = 0; i < w->stages.size(); ++i)
    for (const auto& b : w->stages[i].boots) {
      if (!b->needed) continue;
      SimStageBoot out;
      out.stage = int(i);
      if (!b->done) {
        out.status = out.code = "pending";
      } else if (b->result.ok()) {
        out.status = out.code = "OK";
        out.timings = b->result->timings;
        out.stats = b->result->stats;
      } else {
        out.status = b->result.status().to_string();
        out.code = std::string(b->result.status().code_name());
      }
      rep.boots.push_back(out);
    }
  if (w->delivery) {
    SimDeliveryStats d = w->delivery->stats();
    rep.kms_requests = d.kms_requests;
    rep.kms_throttled = d.kms_throttled;
    rep.kms_denied = d.kms_denied;
    rep.kms_retries = d.kms_retries;
    rep.s3_gets = d.s3_gets;
    rep.s3_retries = d.s3_retries;
    rep.host_tampered_bytes = d.tampered_bytes;
    rep.sealed_size = d.sealed_size;
    w->delivery->stop();
  }
  if (!w->stages.empty())
    for (const auto& b : w->stages[0].boots)
      if (b->signer && b->done && b->result.ok())
        rep.receipt_signers.push_back({b->result->evidence.document, b->result->verified.timestamp_ms});
  if (!w->stages.empty() && !w->stages[0].boots.empty()) {
    const SimStageBooting& b = *w->stages[0].boots.back();
    if (b.signer && b.done && b.result.ok()) {
      rep.receipt_evidence = b.result->evidence.document;
      rep.receipt_evidence_time_ms = b.result->verified.timestamp_ms;
      const auto& key = b.signer->key().public_key();
      rep.receipt_public_key.assign(key.begin(), key.end());
    }
  }
}

}  // namespace cpipe::cli::sim_pipeline

// The simulated pipeline behind `cpipe sim pipeline`: world and node set-up, the host's relays,
// the stage and orchestrator programs, the fault hooks, and the report (sim_pipeline_session.h).
#include "apps/cpipe/sim_pipeline_session.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include "apps/cpipe/recording_tap.h"
#include "apps/cpipe/sim_attestation.h"
#include "apps/cpipe/sim_fault_injector.h"
#include "apps/cpipe/sim_model_cache.h"
#include "apps/cpipe/sim_stage_boot.h"
#include "backends/simulated/nsm/sim_nsm.h"
#include "backends/simulated/sim_network.h"
#include "backends/simulated/sim_world.h"
#include "core/pipeline/orchestrator.h"
#include "core/pipeline/stage.h"
#include "model/gpt2_stage_model.h"

namespace cpipe::cli {
namespace {

using runtime::Duration;
using runtime::Endpoint;
using runtime::Task;

constexpr uint32_t kHostCid = 3;
constexpr uint32_t kFirstStageCid = 16;
const Endpoint kResultEndpoint = Endpoint::tcp("client", 9100);
Endpoint stage_control(int i) { return Endpoint::vsock(kFirstStageCid + uint32_t(i), 5000); }
Endpoint stage_data_in(int i) { return Endpoint::vsock(kFirstStageCid + uint32_t(i), 5001); }
Endpoint stage_data_out(int i) { return Endpoint::vsock(kHostCid, 6000 + uint32_t(i)); }
Endpoint host_control_route(int i) { return Endpoint::tcp("host", 7000 + uint16_t(i)); }
const Endpoint kHostDataRoute = Endpoint::tcp("host", 7100);

Duration from_ms(double ms) { return Duration(int64_t(ms * 1e6)); }
double to_ms(Duration d) { return double(d.count()) / 1e6; }

// The images the world's legitimate processes run (a rogue stage runs another).
constexpr const char* kStageImage = "cpipe-stage";
constexpr const char* kOrchestratorImage = "cpipe-orchestrator";

// A process's attestation on the world's platform: its provider, and the verifier its peers'
// evidence goes through. An SNP verifier admits exactly the legitimate images (it fails closed);
// which image each role must run is the manifest's pins, checked by the pipeline itself.
Result<SimAttestation> platform_attestation(const SimPipelineOptions& opt, runtime::Env& env, runtime::Clock& clock,
                                            const std::string& image) {
  if (opt.platform == "sev-snp") {
    SimSnpOptions snp;
    snp.image = image;
    snp.peer_images = {kStageImage, kOrchestratorImage};
    return make_sim_snp(clock, snp);
  }
  if (opt.platform == "local") return make_sim_mock_dev(env, image);
  SimNitroOptions nitro;
  nitro.image = image;
  return make_sim_nitro(clock, nitro);
}

// The provider's own fixed latency, which a scenario's attestation latency distribution tops up.
double platform_attest_ms(const std::string& platform) {
  if (platform == "sev-snp") return to_ms(SimSnpOptions{}.latency);
  if (platform == "local") return 1.0;
  return to_ms(SimNitroOptions{}.latency);
}

std::string stamp(runtime::MonoTime t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "t=%.3fms", double(t.ns) / 1e6);
  return buf;
}

// A StageModel decorator: counts forward passes (to kill a stage at a chosen point) and keeps
// the first bytes of a few outputs (to probe the host's recording for activations and logits).
class TappedModel final : public pipeline::StageModel {
 public:
  explicit TappedModel(std::unique_ptr<pipeline::StageModel> inner) : inner_(std::move(inner)) {}
  std::function<void(int forwards)> on_forward;
  std::vector<Bytes> samples;

  pipeline::StageShape shape() const override { return inner_->shape(); }
  Result<std::unique_ptr<pipeline::StageSequence>> new_sequence(int64_t capacity) override {
    return inner_->new_sequence(capacity);
  }
  Result<std::span<const float>> forward_tokens(pipeline::StageSequence& seq,
                                                std::span<const int32_t> tokens) override {
    return note(inner_->forward_tokens(seq, tokens));
  }
  Result<std::span<const float>> forward_hidden(pipeline::StageSequence& seq,
                                                std::span<const float> hidden) override {
    return note(inner_->forward_hidden(seq, hidden));
  }
  const std::vector<std::string>& weight_hashes() const override { return inner_->weight_hashes(); }

 private:
  Result<std::span<const float>> note(Result<std::span<const float>> out) {
    ++forwards_;
    if (out.ok() && samples.size() < 4) {
      auto* p = reinterpret_cast<const uint8_t*>(out->data());
      samples.emplace_back(p, p + std::min<size_t>(out->size_bytes(), 64));
    }
    if (on_forward) on_forward(forwards_);
    return out;
  }
  std::unique_ptr<pipeline::StageModel> inner_;
  int forwards_ = 0;
};

struct StageProcess {
  sim::SimNode* node = nullptr;
  runtime::Env env;
  std::unique_ptr<TappedModel> model;  // plaintext; sealed models come with each boot
  SimAttestation attestation;
  std::function<void(int forwards)> on_forward;
  SimStageBootSpec boot_spec;
  std::vector<std::unique_ptr<SimStageBooting>> boots;  // one per incarnation
  std::vector<TappedModel*> tapped;                     // every model this stage ran
  // Every incarnation stays alive until the world is gone (its tasks may still be suspended);
  // the live one is last.
  std::vector<std::unique_ptr<pipeline::Stage>> incarnations;
  bool restart_pending = false;  // killed, and its host restarts it later
};

struct World {
  SimPipelineOptions opt;
  sim::SimWorld* sim = nullptr;
  pipeline::Manifest manifest;
  std::vector<StageProcess> stages;
  sim::SimNode* client = nullptr;
  runtime::Env client_env;
  SimAttestation client_attestation;
  std::unique_ptr<pipeline::Orchestrator> orchestrator;
  SimPipelineReport report;
  std::vector<std::unique_ptr<Bytes>> plaintexts;  // for the host probe
  int sessions_left = 0;
  std::optional<runtime::Oneshot<bool>> all_done;
  std::optional<runtime::MonoTime> killed_at;
  std::unique_ptr<SimFaultInjector> injector;
  std::unique_ptr<SimKeyDelivery> delivery;  // sealed

  void note(const std::string& who, const std::string& what) {
    report.timeline.push_back(stamp(sim->now()) + " " + who + ": " + what);
  }
};

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

// The report slots session `s` runs, in order: its workload items, or `requests` in a row.
std::vector<size_t> session_slots(const World* w, int s) {
  std::vector<size_t> slots;
  if (w->opt.workload.empty()) {
    for (int r = 0; r < w->opt.requests; ++r) slots.push_back(size_t(s) * size_t(w->opt.requests) + size_t(r));
  } else {
    for (size_t i = 0; i < w->opt.workload.size(); ++i)
      if (w->opt.workload[i].session == s) slots.push_back(i);
  }
  return slots;
}

Task<void> run_session(World* w, int session) {
  std::vector<size_t> slots = session_slots(w, session);
  for (size_t r = 0; r < slots.size(); ++r) {
    pipeline::GenerateRequest req;
    if (w->opt.workload.empty()) {
      req.prompt = w->opt.prompts.empty() ? w->opt.prompt : w->opt.prompts[r % w->opt.prompts.size()];
      req.max_new_tokens = w->opt.max_new_tokens;
    } else {
      const SimWorkItem& item = w->opt.workload[slots[r]];
      req.prompt = item.prompt;
      req.max_new_tokens = item.max_new_tokens;
      runtime::Duration wait = from_ms(item.at_ms) - (w->sim->now() - runtime::MonoTime{0});
      if (wait.count() > 0) co_await runtime::sleep_for(w->client->clock(), wait);
    }
    req.keep_logits = w->opt.keep_logits;
    auto result = co_await w->orchestrator->generate(std::move(req));
    const size_t first_slot = slots[r];
    SimPipelineRequest& out = w->report.requests[first_slot];
    if (result.ok()) {
      out.tokens = result->tokens;
      out.logits = std::move(result->logits);
      out.token_ms = result->token_ms;
      out.attempts = result->attempts;
      out.receipt = result->receipt;
      out.status = out.code = "OK";
    } else {
      out.status = result.status().to_string();
      out.code = std::string(result.status().code_name());
    }
    w->note("orchestrator", "request " + std::to_string(first_slot) + ": " + out.status +
                                " (" + std::to_string(out.tokens.size()) + " tokens)");
  }
  if (--w->sessions_left == 0) w->all_done->set(true);
}

// The orchestrator connects once every stage's first boot is over (cold starts finished or
// failed: a failed stage refuses init with its error).
Task<void> wait_for_boots(World* w) {
  // A boot that never ends (it should not: every cold-start step has a deadline) stops being
  // waited for after a minute; its stage then refuses init ("no model loaded").
  for (int waited_ms = 0; waited_ms < 60000; ++waited_ms) {
    // A stage killed while booting (a kill during its KMS call) boots again once restarted.
    bool pending = false;
    for (const StageProcess& p : w->stages) {
      pending = pending || p.restart_pending;
      for (const auto& b : p.boots) pending = pending || !b->done;
    }
    if (!pending) break;
    co_await runtime::sleep_for(w->client->clock(), std::chrono::milliseconds(1));
  }
  for (size_t i = 0; i < w->stages.size(); ++i) {
    const auto& b = *w->stages[i].boots.back();
    if (!b.needed) continue;
    w->note(w->stages[i].node->name(),
            b.result.ok() ? (w->opt.sealed ? "cold start done: " + b.result->timings.to_json() : "booted: receipt key attested")
                          : "boot failed, refusing to serve: " + b.result.status().to_string());
  }
}

Task<void> run_client(World* w) {
  co_await wait_for_boots(w);
  Status st = co_await w->orchestrator->start();
  w->report.setup_ms = double(w->sim->now().ns) / 1e6;
  if (!st.ok()) {
    w->note("orchestrator", "pipeline set-up failed: " + st.to_string());
    for (auto& r : w->report.requests) {
      r.status = st.to_string();
      r.code = std::string(st.code_name());
    }
    co_await w->orchestrator->shutdown();
    co_return;
  }
  const auto& ev = w->orchestrator->stage_evidence();
  if (!ev.empty()) w->report.stage_platform = ev.front().platform;
  w->note("orchestrator", "pipeline ready: " + std::to_string(w->stages.size()) +
                              " stages attested (" + w->report.stage_platform + "), data chain up");
  int sessions = w->opt.concurrency;
  if (!w->opt.workload.empty()) {
    sessions = 0;
    for (const SimWorkItem& item : w->opt.workload) sessions = std::max(sessions, item.session + 1);
  }
  w->sessions_left = sessions;
  w->all_done.emplace(*w->client);
  for (int s = 0; s < sessions; ++s) runtime::spawn(*w->client, run_session(w, s));
  co_await *w->all_done;
  w->report.work_done_ms = to_ms(w->sim->now() - runtime::MonoTime{0});
  if (w->opt.receipts) {
    // Every release has gone round the chain (receipts wait for it): what do stages still hold?
    co_await runtime::sleep_for(w->client->clock(), std::chrono::milliseconds(20));
    for (const StageProcess& p : w->stages)
      if (!p.incarnations.empty() && !p.incarnations.back()->killed()) {
        const auto& st = p.incarnations.back()->stats();
        w->report.held_at_end += st.active_requests + st.receipt_records;
      }
  }
  co_await w->orchestrator->shutdown();
  w->note("orchestrator", "shut down");
}

Result<pipeline::Manifest> make_manifest(const SimPipelineOptions& opt, const model::Gpt2Config& config,
                                         const model::SafetensorsFile& file) {
  pipeline::Manifest m;
  m.model_name = "gpt2";
  m.model_version = "sim";
  m.total_layers = uint32_t(config.n_layer);
  // nitro pins PCR0..2; sev-snp and local pin the guest's launch "measurement". The simulator
  // relays every stage's traffic through the host (vsock-style addresses) whatever the platform,
  // and manifest validation ties vsock to nitro and sev-snp to direct TCP chaining, so a sev-snp
  // world leaves `platform` unset (its verifier is the SNP one regardless); local is mock-dev.
  if (opt.platform == "nitro") m.platform = pipeline::Platform::kNitro;
  if (opt.platform == "local") m.platform = pipeline::Platform::kMockDev;
  m.orchestrator_data_in = kResultEndpoint;
  m.session_limit = opt.session_limit;
  m.activation_spec = {codec::DType::F32, uint64_t(config.n_embd), uint64_t(config.n_positions)};
  auto pins = opt.platform == "nitro" ? sim_image_measurements(sim_image(kStageImage))
                                      : sim_guest_measurements(sim_guest_image(kStageImage));
  for (int i = 0; i < opt.stages; ++i) {
    pipeline::StageSpec s;
    s.stage_idx = uint32_t(i);
    s.layer_start = uint32_t(config.n_layer * i / opt.stages);
    s.layer_end = uint32_t(config.n_layer * (i + 1) / opt.stages);
    if (!opt.layer_ranges.empty()) std::tie(s.layer_start, s.layer_end) = opt.layer_ranges[size_t(i)];
    s.expected_measurements = pins;
    s.endpoint = {stage_control(i), stage_data_in(i), stage_data_out(i)};
    if (opt.pin_weights || opt.wrong_weight_pin) {
      s.weight_hashes = model::gpt2_stage_weight_hashes(file, config, s.layer_start, s.layer_end);
      if (opt.wrong_weight_pin && i == opt.stages - 1) s.weight_hashes.back()[0] ^= 1;
    }
    m.stages.push_back(std::move(s));
  }
  pipeline::ValidateOptions vo;
  vo.model = pipeline::ModelShape{config.n_layer, config.n_embd, config.n_positions};
  CPIPE_RETURN_IF_ERROR(pipeline::validate_manifest(m, vo));
  return m;
}

// Sealed delivery (SimKms, SimS3, the host's proxy) and every stage's boot plan.
Status setup_delivery(World* w, sim::SimWorld& sim, sim::SimNode& host, const model::Gpt2Config& config) {
  const SimPipelineOptions& opt = w->opt;
  (void)config;
  if (!opt.sealed && !opt.receipts) return Status::Ok();  // nothing to boot: stages start with the model
  CPIPE_ASSIGN_OR_RETURN(keys::Manifest files, model_dir_manifest(opt.model_dir));
  w->report.sealed = opt.sealed;
  w->report.model_id = "gpt2-sim";
  w->report.model_version = "1";
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

void add_relay(World* w, sim::SimNode& host, runtime::Env& env, std::vector<std::unique_ptr<pipeline::ByteRelay>>& relays,
               RecordingTap* tap, const Endpoint& listen, const Endpoint& upstream, Status& error) {
  auto listener = host.network().listen(listen);
  if (!listener.ok()) {
    error = listener.status();
    return;
  }
  pipeline::RelayConfig rc;
  rc.upstream = upstream;
  relays.push_back(std::make_unique<pipeline::ByteRelay>(env, std::move(*listener), rc, tap));
  runtime::spawn(host, relays.back()->serve());
  (void)w;
}

}  // namespace

Result<SimPipelineReport> run_sim_pipeline(const SimPipelineOptions& opt) {
  if (opt.stages < 1 || opt.stages > 16)
    return make_error(ErrorCode::INVALID_ARGUMENT, "--stages must be 1..16");
  if (opt.workload.empty() && opt.prompt.empty())
    return make_error(ErrorCode::INVALID_ARGUMENT, "empty prompt");
  for (const SimWorkItem& item : opt.workload)
    if (item.prompt.empty() || item.session < 0 || item.max_new_tokens < 1)
      return make_error(ErrorCode::INVALID_ARGUMENT, "a workload request needs a prompt, a session >= 0 and tokens >= 1");
  if (!opt.layer_ranges.empty() && opt.layer_ranges.size() != size_t(opt.stages))
    return make_error(ErrorCode::INVALID_ARGUMENT, "layer_ranges must name every stage");
  if (opt.concurrency < 1 || opt.requests < 1)
    return make_error(ErrorCode::INVALID_ARGUMENT, "requests and concurrency must be at least 1");
  if (opt.platform != "nitro" && opt.platform != "sev-snp" && opt.platform != "local")
    return make_error(ErrorCode::INVALID_ARGUMENT, "platform must be nitro, sev-snp or local, not '" + opt.platform + "'");
  if (opt.platform != "nitro" && (opt.sealed || opt.receipts))
    return make_error(ErrorCode::INVALID_ARGUMENT,
                      std::string(opt.sealed ? "sealed delivery" : "receipts") + " needs platform nitro: " +
                          (opt.sealed ? "the simulated KMS releases keys only to Nitro attestation documents (Recipient)"
                                      : "receipts name the signing stage's simulated Nitro evidence and root") +
                          ", not " + opt.platform);
  CPIPE_ASSIGN_OR_RETURN(model::Gpt2Config config, model::load_gpt2_config(opt.model_dir + "/config.json"));
  if (opt.stages > config.n_layer)
    return make_error(ErrorCode::INVALID_ARGUMENT, "more stages than layers");
  CPIPE_ASSIGN_OR_RETURN(auto file, model::SafetensorsFile::open(opt.model_dir + "/model.safetensors"));

  sim::WorldOptions wo;
  wo.seed = opt.seed;
  if (opt.max_virtual_ms > 0) wo.max_time = from_ms(opt.max_virtual_ms);
  sim::SimWorld sim(wo);
  if (opt.trace_out) sim.trace().set_callback(sim::TraceRecorder::jsonl_writer(*opt.trace_out));
  sim.set_keep_events(opt.keep_events);
  World w;
  w.opt = opt;
  w.sim = &sim;
  w.report.stages = opt.stages;
  w.report.requests.resize(opt.workload.empty() ? size_t(opt.requests) * size_t(opt.concurrency)
                                                 : opt.workload.size());
  CPIPE_ASSIGN_OR_RETURN(w.manifest, make_manifest(opt, config, *file));

  // One compute thread for every stage: the same arithmetic whatever the stage count.
  auto pool = std::make_shared<model::ThreadPool>(1);
  sim::SimNode& client = sim.add_node("client", {.host = "client"});
  sim::SimNode& host = sim.add_node("host", {.host = "host", .cid = kHostCid});
  w.client = &client;
  w.stages.resize(size_t(opt.stages));
  for (int i = 0; i < opt.stages; ++i) {
    StageProcess& p = w.stages[size_t(i)];
    p.node = &sim.add_node("stage" + std::to_string(i),
                           {.host = "stage" + std::to_string(i), .cid = kFirstStageCid + uint32_t(i)});
    p.env = p.node->env();
    model::Gpt2Options mo;
    mo.layer_begin = w.manifest.stages[size_t(i)].layer_start;
    mo.layer_end = w.manifest.stages[size_t(i)].layer_end;
    mo.pool = pool;
    if (!opt.sealed) {
      // Loaded once per process: a seed sweep runs hundreds of worlds on the same weights.
      CPIPE_ASSIGN_OR_RETURN(auto stage_model, cached_stage_model(opt.model_dir, file, config, mo));
      p.model = std::make_unique<TappedModel>(std::move(stage_model));
      p.tapped.push_back(p.model.get());
    }
    p.boot_spec.model_options = mo;
    StageProcess* pp = &p;
    p.boot_spec.wrap = [pp](std::unique_ptr<pipeline::StageModel> m) -> std::unique_ptr<pipeline::StageModel> {
      auto t = std::make_unique<TappedModel>(std::move(m));
      t->on_forward = pp->on_forward;
      pp->tapped.push_back(t.get());
      return t;
    };
    const std::string image = opt.rogue_stage == i ? "cpipe-stage-rogue" : kStageImage;
    CPIPE_ASSIGN_OR_RETURN(p.attestation, platform_attestation(opt, p.env, p.node->clock(), image));
  }

  // Faults: the scenario's, plus the command-line shorthands (kill, partition, tamper).
  std::vector<SimFault> faults = opt.faults;
  // A shorthand fault on one stage, after kill_after_forwards forward passes, lasting duration_ms.
  auto stage_fault = [&](FaultKind kind, int stage, double duration_ms, const char* flag) -> Status {
    if (stage < 0 || stage >= opt.stages)
      return make_error(ErrorCode::INVALID_ARGUMENT, std::string(flag) + " is not a stage");
    SimFault f;
    f.kind = kind;
    f.stage = stage;
    f.after_forwards = opt.kill_after_forwards;
    f.duration_ms = duration_ms;
    faults.push_back(f);
    return Status::Ok();
  };
  if (opt.partition_stage)
    CPIPE_RETURN_IF_ERROR(stage_fault(FaultKind::kPartition, *opt.partition_stage, opt.partition_ms, "partition_stage"));
  if (opt.kill_stage)
    CPIPE_RETURN_IF_ERROR(stage_fault(FaultKind::kKill, *opt.kill_stage, opt.restart_after_ms, "--kill-stage"));
  if (opt.tamper_stage1_data) {
    if (opt.stages < 2) return make_error(ErrorCode::INVALID_ARGUMENT, "tampering needs 2 stages");
    // Every data segment into stage 1's data_in after each connection's handshake, for good.
    SimFault f;
    f.kind = FaultKind::kTamper;
    f.stage = 1;
    f.at_ms = 0.0;
    f.count = 0;
    faults.push_back(f);
  }
  CPIPE_RETURN_IF_ERROR(SimFaultInjector::validate(faults, opt.stages));
  sim::LinkConfig link;
  if (opt.link_latency) {
    if (!opt.link_latency->valid()) return make_error(ErrorCode::INVALID_ARGUMENT, "bad link latency");
    link.latency = to_distribution(*opt.link_latency);
  }
  link.bandwidth_bytes_per_s = opt.link_bandwidth_bytes_per_s;
  sim.network().set_default_link(link);
  SimFaultTargets targets;
  targets.world = &sim;
  targets.host = &host;
  targets.orchestrator = &client;
  targets.base_link = link;
  for (int i = 0; i < opt.stages; ++i) {
    targets.stages.push_back(w.stages[size_t(i)].node);
    targets.control.push_back(stage_control(i));
    targets.data_in.push_back(stage_data_in(i));
    targets.data_out.push_back(stage_data_out(i));
  }
  World* wp = &w;
  targets.kill = [wp](int stage, double restart_after_ms) { kill_stage(wp, stage, restart_after_ms); };
  targets.note = [wp](const std::string& who, const std::string& what) { wp->note(who, what); };
  targets.kms_caller_stage = &SimKeyDelivery::stage_of_kms_caller;
  w.injector = std::make_unique<SimFaultInjector>(std::move(targets), std::move(faults));
  for (int i = 0; i < opt.stages; ++i) {
    SimFaultInjector* injector = w.injector.get();
    w.stages[size_t(i)].on_forward = [injector, i](int forwards) { injector->on_forward(i, forwards); };
    if (w.stages[size_t(i)].model) w.stages[size_t(i)].model->on_forward = w.stages[size_t(i)].on_forward;
    // Every stage's NSM through the fault wrapper: failures while a nsm_fail fault is active,
    // and the scenario's latency distribution (drawn above the SimNsm's fixed part).
    StageProcess& p = w.stages[size_t(i)];
    SimLatencyMs extra;
    if (opt.nsm_latency) {
      if (!opt.nsm_latency->valid()) return make_error(ErrorCode::INVALID_ARGUMENT, "bad NSM latency");
      double base = platform_attest_ms(opt.platform);
      extra = {std::max(0.0, opt.nsm_latency->p0 - base), std::max(0.0, opt.nsm_latency->p50 - base),
               std::max(0.0, opt.nsm_latency->p99 - base), std::max(0.0, opt.nsm_latency->p100 - base)};
    }
    p.attestation.provider = std::make_unique<FaultyAttestation>(
        std::move(p.attestation.provider), p.node->clock(), sim.fork_random("nsm:" + p.node->name()), extra,
        [injector, i] { return injector->nsm_failing(i); });
  }

  // The host: relays for every route, all through one recording tap.
  RecordingTap tap;
  runtime::Env host_env = host.env();
  std::vector<std::unique_ptr<pipeline::ByteRelay>> relays;
  Status relay_error;
  for (int i = 0; i < opt.stages; ++i) {
    add_relay(&w, host, host_env, relays, &tap, host_control_route(i), stage_control(i), relay_error);
    add_relay(&w, host, host_env, relays, &tap, stage_data_out(i),
              i + 1 < opt.stages ? stage_data_in(i + 1) : kResultEndpoint, relay_error);
  }
  add_relay(&w, host, host_env, relays, &tap, kHostDataRoute, stage_data_in(0), relay_error);
  CPIPE_RETURN_IF_ERROR(relay_error);

  CPIPE_RETURN_IF_ERROR(setup_delivery(&w, sim, host, config));
  if (w.delivery) w.delivery->set_filters(w.injector->kms_filter(), w.injector->s3_filter());
  for (int i = 0; i < opt.stages; ++i) CPIPE_RETURN_IF_ERROR(start_stage(&w, i));

  w.client_env = client.env();
  CPIPE_ASSIGN_OR_RETURN(w.client_attestation, platform_attestation(opt, w.client_env, client.clock(), kOrchestratorImage));
  if (opt.platform == "local")
    w.note("orchestrator", "attestation is mock-dev: DEVELOPMENT ONLY, it proves nothing about the stages");
  pipeline::OrchestratorConfig oc;
  oc.manifest = w.manifest;
  oc.channel.provider = w.client_attestation.provider.get();
  oc.channel.verifier = w.client_attestation.verifier.get();
  for (int i = 0; i < opt.stages; ++i) oc.control_routes.push_back(host_control_route(i));
  oc.data_route = kHostDataRoute;
  oc.result_listen = kResultEndpoint;
  oc.health_interval = std::chrono::milliseconds(200);
  oc.health_timeout = std::chrono::milliseconds(200);
  oc.step_timeout = std::chrono::seconds(10);
  oc.setup_timeout = std::chrono::seconds(5);
  oc.recovery_timeout = from_ms(opt.recovery_timeout_ms);
  oc.max_attempts = opt.max_attempts;
  oc.greedy_in_last_stage = opt.greedy_in_last_stage;
  oc.request_receipts = opt.receipts;
  w.orchestrator = std::make_unique<pipeline::Orchestrator>(w.client_env, std::move(oc));

  sim.set_event_printer([&w](const sim::TimedEvent& e) {
    if (!w.killed_at && !w.injector->injected_at().empty())
      w.killed_at = runtime::MonoTime{w.injector->injected_at().front()};
    if (w.killed_at && w.report.detect_ms < 0 && e.node == "client" && e.event.name == "pipeline broken")
      w.report.detect_ms = to_ms(e.time - *w.killed_at);
    if (e.node == "client" && e.event.name == "pipeline broken") w.report.broken_ms.push_back(to_ms(e.time - runtime::MonoTime{0}));
    if (e.event.name == "channel_failed")
      for (const EventField& f : e.event.fields)
        if (f.key == "code" && f.value.rfind("CHANNEL_", 0) == 0 && f.value != "CHANNEL_CLOSED" &&
            f.value != "CHANNEL_TRUNCATED")
          ++w.report.integrity_failures;
    if (e.node == "client" && e.event.name == "pipeline ready") w.report.ready_ms.push_back(to_ms(e.time - runtime::MonoTime{0}));
    if (e.event.name == "pipeline ready" || e.event.name == "pipeline broken" ||
        e.event.name == "retrying request")
      w.report.timeline.push_back(stamp(e.time) + " " + e.node + ": " + e.event.to_text());
  });

  w.note("host", "relaying " + std::to_string(relays.size()) + " routes; recording every byte");
  w.injector->arm();
  runtime::spawn(client, run_client(&w));
  CPIPE_RETURN_IF_ERROR(sim.run_until_idle());

  SimPipelineReport& rep = w.report;
  const auto& st = w.orchestrator->stats();
  rep.pipelines_built = st.pipelines_built;
  rep.pipeline_failures = st.pipeline_failures;
  rep.retries = st.retries;
  rep.relayed_bytes = tap.bytes_recorded();
  // The host must not see the prompt's token ids nor any activation or logits the stages made.
  bool seen = false;
  std::vector<const std::vector<int32_t>*> prompts = {&opt.prompt};
  for (const SimWorkItem& item : opt.workload) prompts.push_back(&item.prompt);
  for (const std::vector<int32_t>* prompt : prompts) {
    if (prompt->size() < 2) continue;
    ByteSpan ids(reinterpret_cast<const uint8_t*>(prompt->data()), prompt->size() * 4);
    seen = seen || tap.contains_any_window_of(ids);
  }
  for (const StageProcess& p : w.stages)
    for (const TappedModel* m : p.tapped)
      for (const Bytes& sample : m->samples) seen = seen || tap.contains_any_window_of(sample);
  report_boots(&w);
  if (w.delivery) CPIPE_RETURN_IF_ERROR(sim.run_until_idle());  // the services' tasks end
  rep.host_saw_plaintext = seen;
  rep.virtual_ms = double(sim.now().ns) / 1e6;
  rep.events = sim.events_run();
  if (opt.keep_events)
    for (const sim::TimedEvent& e : sim.kept_events())
      rep.event_lines.push_back(stamp(e.time) + " " + e.node + " " + e.event.to_text());
  for (int64_t t : w.injector->injected_at()) rep.fault_ms.push_back(double(t) / 1e6);
  rep.tampered_segments = w.injector->tampered_segments();
  rep.tamper_first_ms = w.injector->tamper_first_ms();
  rep.call_triggers = w.injector->call_triggers();
  rep.service_errors = w.injector->service_errors();
  // Recovery: from the latest fault at or before each break (else the break) to the next ready.
  for (double b : rep.broken_ms) {
    double from = b;
    for (double f : rep.fault_ms)
      if (f <= b) from = f;
    auto next = std::upper_bound(rep.ready_ms.begin(), rep.ready_ms.end(), b);
    if (next == rep.ready_ms.end()) ++rep.unrecovered_breaks;
    else rep.recovery_ms = std::max(rep.recovery_ms, *next - from);
  }
  rep.trace_hash = sim.trace_hash();
  rep.unseed = sim.unseed();
  return rep;
}

}  // namespace cpipe::cli

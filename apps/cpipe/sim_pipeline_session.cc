// The simulated pipeline behind `cpipe sim pipeline`: world and node set-up, the manifest, the
// host's relays, the fault hooks, and the report (sim_pipeline_session.h). The stage processes'
// lifecycle and key delivery are sim_pipeline_stages.cc, the orchestrator's program
// sim_pipeline_client.cc; what they share is sim_pipeline_world.h.
#include "apps/cpipe/sim_pipeline_session.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include "apps/cpipe/recording_tap.h"
#include "apps/cpipe/sim_pipeline_world.h"
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

using namespace sim_pipeline;
using runtime::Endpoint;
using runtime::Task;

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

// The simulated pipeline behind `cpipe sim pipeline`: world and node set-up, the host's relays,
// the stage and orchestrator programs, the fault hooks, and the report (sim_pipeline_session.h).
#include "apps/cpipe/sim_pipeline_session.h"

#include <cstdio>
#include <map>
#include <memory>

#include "apps/cpipe/recording_tap.h"
#include "apps/cpipe/sim_attestation.h"
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

std::string stamp(runtime::MonoTime t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "t=%.3fms", double(t.ns) / 1e6);
  return buf;
}

// A StageModel decorator: counts forward passes (to kill a stage at a chosen point) and keeps
// the first bytes of a few outputs (to probe the host's recording for activations and logits).
class TappedModel final : public pipeline::StageModel {
 public:
  explicit TappedModel(std::unique_ptr<model::Gpt2StageModel> inner) : inner_(std::move(inner)) {}
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
  std::unique_ptr<model::Gpt2StageModel> inner_;
  int forwards_ = 0;
};

// The host flips one byte in every data segment into stage 1's data_in after the first few
// of each connection (so handshakes pass and records fail authentication).
class TamperFilter final : public sim::LinkFilter {
 public:
  Verdict on_segment(const sim::SegmentInfo& info, Bytes& data) override {
    if (info.kind != sim::SegmentKind::kData || info.to != stage_data_in(1) || data.empty()) return {};
    if (++seen_[info.connection_id] > 2) data[data.size() / 2] ^= 0x01;
    return {};
  }

 private:
  std::map<uint64_t, int> seen_;
};

struct StageProcess {
  sim::SimNode* node = nullptr;
  runtime::Env env;
  std::unique_ptr<TappedModel> model;
  SimAttestation attestation;
  // Every incarnation stays alive until the world is gone (its tasks may still be suspended);
  // the live one is last.
  std::vector<std::unique_ptr<pipeline::Stage>> incarnations;
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
  auto stage = std::make_unique<pipeline::Stage>(p.env, std::move(c), p.model.get());
  CPIPE_RETURN_IF_ERROR(stage->start());
  p.incarnations.push_back(std::move(stage));
  return Status::Ok();
}

void kill_stage(World* w, int i) {
  StageProcess& p = w->stages[size_t(i)];
  if (p.incarnations.empty() || p.incarnations.back()->killed()) return;
  p.incarnations.back()->kill();
  w->killed_at = w->sim->now();
  w->note(p.node->name(), "killed (process died)");
  if (w->opt.restart_after_ms < 0) return;
  w->sim->start_timer(p.node->name(), from_ms(w->opt.restart_after_ms), [w, i] {
    Status st = start_stage(w, i);
    w->note(w->stages[size_t(i)].node->name(),
            st.ok() ? "restarted; it will attest again" : "restart failed: " + st.to_string());
  });
}

Task<void> run_session(World* w, size_t first_slot) {
  for (int r = 0; r < w->opt.requests; ++r) {
    pipeline::GenerateRequest req;
    req.prompt = w->opt.prompts.empty() ? w->opt.prompt
                                        : w->opt.prompts[size_t(r) % w->opt.prompts.size()];
    req.max_new_tokens = w->opt.max_new_tokens;
    req.keep_logits = w->opt.keep_logits;
    auto result = co_await w->orchestrator->generate(std::move(req));
    SimPipelineRequest& out = w->report.requests[first_slot + size_t(r)];
    if (result.ok()) {
      out.tokens = result->tokens;
      out.logits = std::move(result->logits);
      out.token_ms = result->token_ms;
      out.attempts = result->attempts;
      out.status = out.code = "OK";
    } else {
      out.status = result.status().to_string();
      out.code = std::string(result.status().code_name());
    }
    w->note("orchestrator", "request " + std::to_string(first_slot + size_t(r)) + ": " + out.status +
                                " (" + std::to_string(out.tokens.size()) + " tokens)");
  }
  if (--w->sessions_left == 0) w->all_done->set(true);
}

Task<void> run_client(World* w) {
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
  w->sessions_left = w->opt.concurrency;
  w->all_done.emplace(*w->client);
  for (int s = 0; s < w->opt.concurrency; ++s)
    runtime::spawn(*w->client, run_session(w, size_t(s) * size_t(w->opt.requests)));
  co_await *w->all_done;
  co_await w->orchestrator->shutdown();
  w->note("orchestrator", "shut down");
}

Result<pipeline::Manifest> make_manifest(const SimPipelineOptions& opt, const model::Gpt2Config& config,
                                         const model::SafetensorsFile& file) {
  pipeline::Manifest m;
  m.model_name = "gpt2";
  m.model_version = "sim";
  m.total_layers = uint32_t(config.n_layer);
  m.platform = pipeline::Platform::kNitro;
  m.orchestrator_data_in = kResultEndpoint;
  m.session_limit = opt.session_limit;
  m.activation_spec = {codec::DType::F32, uint64_t(config.n_embd), uint64_t(config.n_positions)};
  auto pins = sim_image_measurements(sim_image("cpipe-stage"));
  for (int i = 0; i < opt.stages; ++i) {
    pipeline::StageSpec s;
    s.stage_idx = uint32_t(i);
    s.layer_start = uint32_t(config.n_layer * i / opt.stages);
    s.layer_end = uint32_t(config.n_layer * (i + 1) / opt.stages);
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
  if (opt.prompt.empty()) return make_error(ErrorCode::INVALID_ARGUMENT, "empty prompt");
  if (opt.concurrency < 1 || opt.requests < 1)
    return make_error(ErrorCode::INVALID_ARGUMENT, "requests and concurrency must be at least 1");
  CPIPE_ASSIGN_OR_RETURN(model::Gpt2Config config, model::load_gpt2_config(opt.model_dir + "/config.json"));
  if (opt.stages > config.n_layer)
    return make_error(ErrorCode::INVALID_ARGUMENT, "more stages than layers");
  CPIPE_ASSIGN_OR_RETURN(auto file, model::SafetensorsFile::open(opt.model_dir + "/model.safetensors"));

  sim::WorldOptions wo;
  wo.seed = opt.seed;
  sim::SimWorld sim(wo);
  sim.set_keep_events(opt.keep_events);
  World w;
  w.opt = opt;
  w.sim = &sim;
  w.report.stages = opt.stages;
  w.report.requests.resize(size_t(opt.requests) * size_t(opt.concurrency));
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
    CPIPE_ASSIGN_OR_RETURN(auto stage_model, model::Gpt2StageModel::from_file(file, config, mo));
    p.model = std::make_unique<TappedModel>(std::move(stage_model));
    SimNitroOptions nitro;
    nitro.image = opt.rogue_stage == i ? "cpipe-stage-rogue" : "cpipe-stage";
    CPIPE_ASSIGN_OR_RETURN(p.attestation, make_sim_nitro(p.node->clock(), nitro));
  }
  if (opt.partition_stage) {
    if (*opt.partition_stage < 0 || *opt.partition_stage >= opt.stages)
      return make_error(ErrorCode::INVALID_ARGUMENT, "partition_stage is not a stage");
    int k = *opt.partition_stage;
    World* wp = &w;
    sim::SimNode* hostp = &host;
    w.stages[size_t(k)].model->on_forward = [wp, k, hostp](int forwards) {
      if (forwards != wp->opt.kill_after_forwards) return;
      wp->sim->post([wp, k, hostp] {
        sim::SimNode& node = *wp->stages[size_t(k)].node;
        wp->sim->network().partition(*hostp, node, sim::PartitionMode::kDrop);
        wp->killed_at = wp->sim->now();
        wp->note("host", "cut " + node.name() + " off (segments dropped, no resets)");
        wp->sim->start_timer("host", from_ms(wp->opt.partition_ms), [wp, hostp, &node] {
          wp->sim->network().heal(*hostp, node);
          wp->note("host", "healed the link to " + node.name());
        });
      });
    };
  }
  if (opt.kill_stage) {
    if (*opt.kill_stage < 0 || *opt.kill_stage >= opt.stages)
      return make_error(ErrorCode::INVALID_ARGUMENT, "--kill-stage is not a stage");
    int k = *opt.kill_stage;
    World* wp = &w;
    w.stages[size_t(k)].model->on_forward = [wp, k](int forwards) {
      if (forwards == wp->opt.kill_after_forwards)
        wp->sim->post([wp, k] { kill_stage(wp, k); });
    };
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
  TamperFilter tamper;
  if (opt.tamper_stage1_data) {
    if (opt.stages < 2) return make_error(ErrorCode::INVALID_ARGUMENT, "tampering needs 2 stages");
    sim.network().add_filter(host, *w.stages[1].node, &tamper);
  }

  for (int i = 0; i < opt.stages; ++i) CPIPE_RETURN_IF_ERROR(start_stage(&w, i));

  w.client_env = client.env();
  SimNitroOptions nitro;
  nitro.image = "cpipe-orchestrator";
  CPIPE_ASSIGN_OR_RETURN(w.client_attestation, make_sim_nitro(client.clock(), nitro));
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
  w.orchestrator = std::make_unique<pipeline::Orchestrator>(w.client_env, std::move(oc));

  sim.set_event_printer([&w](const sim::TimedEvent& e) {
    if (w.killed_at && w.report.detect_ms < 0 && e.node == "client" && e.event.name == "pipeline broken")
      w.report.detect_ms = to_ms(e.time - *w.killed_at);
    if (e.event.name == "pipeline ready" || e.event.name == "pipeline broken" ||
        e.event.name == "retrying request")
      w.report.timeline.push_back(stamp(e.time) + " " + e.node + ": " + e.event.to_text());
  });

  w.note("host", "relaying " + std::to_string(relays.size()) + " routes; recording every byte");
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
  if (opt.prompt.size() >= 2) {
    ByteSpan ids(reinterpret_cast<const uint8_t*>(opt.prompt.data()), opt.prompt.size() * 4);
    seen = seen || tap.contains_any_window_of(ids);
  }
  for (const StageProcess& p : w.stages)
    for (const Bytes& sample : p.model->samples) seen = seen || tap.contains_any_window_of(sample);
  rep.host_saw_plaintext = seen;
  rep.virtual_ms = double(sim.now().ns) / 1e6;
  rep.events = sim.events_run();
  if (opt.keep_events)
    for (const sim::TimedEvent& e : sim.kept_events())
      rep.event_lines.push_back(stamp(e.time) + " " + e.node + " " + e.event.to_text());
  rep.trace_hash = sim.trace_hash();
  rep.unseed = sim.unseed();
  return rep;
}

}  // namespace cpipe::cli

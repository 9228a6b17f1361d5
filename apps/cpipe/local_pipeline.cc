// Local multi-process pipelines: manifests, mock-dev attestation, stage child processes and the
// orchestrator as a local client (local_pipeline.h); what a run prints is local_run_output.cc,
// process handling child_process.cc.
#include "apps/cpipe/local_pipeline.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "apps/cpipe/command_registry.h"
#include "core/crypto/hash.h"
#include "model/gpt2_config.h"
#include "model/gpt2_stage_model.h"
#include "model/safetensors.h"

namespace cpipe::cli {

using runtime::Endpoint;
using runtime::Task;

// ---- manifests ------------------------------------------------------------------------------

namespace {

// Ports the OS hands out for port 0, all held at once so they are distinct, then released.
Result<std::vector<uint16_t>> free_ports(size_t n) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  Status error;
  for (size_t i = 0; i < n && error.ok(); ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = make_error(ErrorCode::IO_ERROR, std::string("socket: ") + std::strerror(errno));
      break;
    }
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      error = make_error(ErrorCode::IO_ERROR, std::string("bind: ") + std::strerror(errno));
      break;
    }
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) ::close(fd);
  if (!error.ok()) return error;
  return ports;
}

}  // namespace

Result<pipeline::Manifest> make_local_manifest(const LocalManifestOptions& o) {
  CPIPE_ASSIGN_OR_RETURN(model::Gpt2Config config, model::load_gpt2_config(o.model_dir + "/config.json"));
  if (o.stages < 1 || o.stages > config.n_layer)
    return make_error(ErrorCode::INVALID_ARGUMENT,
                      "stages must be 1.." + std::to_string(config.n_layer) + " for this model");
  size_t nports = size_t(o.stages) * 2 + 1;
  std::vector<uint16_t> ports;
  if (o.base_port == 0) {
    CPIPE_ASSIGN_OR_RETURN(ports, free_ports(nports));
  } else {
    if (size_t(o.base_port) + nports > 65536)
      return make_error(ErrorCode::INVALID_ARGUMENT, "--base-port leaves no room for the stages' ports");
    for (size_t i = 0; i < nports; ++i) ports.push_back(uint16_t(o.base_port + i));
  }
  std::shared_ptr<model::SafetensorsFile> file;
  if (o.pin_weights) {
    CPIPE_ASSIGN_OR_RETURN(file, model::SafetensorsFile::open(o.model_dir + "/model.safetensors"));
  }

  pipeline::Manifest m;
  m.model_name = "gpt2";
  m.model_version = "local";
  m.total_layers = uint32_t(config.n_layer);
  m.platform = pipeline::Platform::kMockDev;
  m.require_weight_hashes = o.pin_weights;
  m.activation_spec = {codec::DType::F32, uint64_t(config.n_embd), uint64_t(config.n_positions)};
  auto result_port = ports.back();
  for (int i = 0; i < o.stages; ++i) {
    pipeline::StageSpec s;
    s.stage_idx = uint32_t(i);
    s.layer_start = uint32_t(config.n_layer * i / o.stages);
    s.layer_end = uint32_t(config.n_layer * (i + 1) / o.stages);
    s.expected_measurements = local_stage_measurements();
    uint16_t data_out = i + 1 < o.stages ? ports[size_t(i + 1) * 2 + 1] : result_port;
    s.endpoint = {Endpoint::tcp(o.host, ports[size_t(i) * 2]), Endpoint::tcp(o.host, ports[size_t(i) * 2 + 1]),
                  Endpoint::tcp(o.host, data_out)};
    if (file) s.weight_hashes = model::gpt2_stage_weight_hashes(*file, config, s.layer_start, s.layer_end);
    m.stages.push_back(std::move(s));
  }
  pipeline::ValidateOptions vo;
  vo.model = pipeline::ModelShape{config.n_layer, config.n_embd, config.n_positions};
  CPIPE_RETURN_IF_ERROR(pipeline::validate_manifest(m, vo));
  return m;
}

Result<pipeline::Manifest> load_manifest_for_model(const std::string& manifest_path,
                                                   const std::string& model_dir) {
  CPIPE_ASSIGN_OR_RETURN(std::string text, model::read_text_file(manifest_path));
  CPIPE_ASSIGN_OR_RETURN(model::Gpt2Config config, model::load_gpt2_config(model_dir + "/config.json"));
  pipeline::ValidateOptions vo;
  vo.model = pipeline::ModelShape{config.n_layer, config.n_embd, config.n_positions};
  return pipeline::load_manifest(text, vo);
}

Status write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return make_error(ErrorCode::IO_ERROR, "cannot write " + path);
  return Status::Ok();
}

// ---- mock-dev attestation -----------------------------------------------------------------------

namespace {
Bytes image_measurement(std::string_view image) { return crypto::sha384(as_bytes(std::string(image))); }
constexpr std::string_view kStageImage = "cpipe local stage (mock-dev, DEVELOPMENT ONLY)";
constexpr std::string_view kClientImage = "cpipe local orchestrator (mock-dev, DEVELOPMENT ONLY)";
}  // namespace

std::map<std::string, std::string> local_stage_measurements() {
  return {{"PCR0", hex_encode(image_measurement(kStageImage))}};
}

channel::ChannelConfig LocalAttestation::channel(const std::string& name) const {
  channel::ChannelConfig c;
  c.provider = provider.get();
  c.verifier = verifier.get();
  c.name = name;
  return c;
}

Result<LocalAttestation> make_local_attestation(runtime::Env& env, bool stage) {
  CPIPE_ASSIGN_OR_RETURN(attest::MockDevAttestation mock,
                         attest::make_mock_dev_attestation(
                             env, {{"PCR0", image_measurement(stage ? kStageImage : kClientImage)}}));
  LocalAttestation a;
  a.provider = std::move(mock.provider);
  a.verifier = std::move(mock.verifier);
  return a;
}

// ---- stage child processes ---------------------------------------------------------------------

Result<std::unique_ptr<ChildProcess>> spawn_stage(const StageProcessOptions& o, int stage_idx) {
  std::vector<std::string> argv = {o.program.empty() ? self_executable() : o.program, "stage", "--manifest", o.manifest_path,
                                   "--stage-idx", std::to_string(stage_idx),
                                   "--threads", std::to_string(o.threads),
                                   "--attestation", std::string(kLocalAttestation)};
  if (o.sealed_path.empty()) {
    argv.insert(argv.end(), {"--model", o.model_dir});
  } else {
    argv.insert(argv.end(), {"--sealed", o.sealed_path});
    if (!o.dev_key_path.empty()) argv.insert(argv.end(), {"--dev-key", o.dev_key_path});
  }
  if (o.json_events) argv.push_back("--json-events");
  argv.insert(argv.end(), o.extra_args.begin(), o.extra_args.end());
  return ChildProcess::spawn(argv, o.stderr_path);
}

Result<std::vector<std::unique_ptr<ChildProcess>>> spawn_stages(const StageProcessOptions& o, int stages,
                                                                int ready_timeout_ms,
                                                                std::vector<std::string>* ready_lines) {
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int i = 0; i < stages; ++i) {
    CPIPE_ASSIGN_OR_RETURN(auto child, spawn_stage(o, i));
    children.push_back(std::move(child));
  }
  for (int i = 0; i < stages; ++i) {
    auto ready = children[size_t(i)]->wait_for_line("ready ", ready_timeout_ms);
    if (!ready.ok()) {
      stop_stages(children, 1000);
      return Status(ready.status().code(), "stage " + std::to_string(i) + ": " + ready.status().message());
    }
    if (ready_lines) ready_lines->push_back(*ready);
  }
  return children;
}

bool stop_stages(std::vector<std::unique_ptr<ChildProcess>>& stages, int timeout_ms) {
  for (auto& c : stages)
    if (c && c->alive()) c->request_stop();
  bool clean = true;
  for (auto& c : stages)
    if (c) clean = c->terminate(timeout_ms) == 0 && clean;
  return clean;
}

// ---- the orchestrator as a local client ---------------------------------------------------------

namespace {

struct RunState {
  const LocalRunOptions* opt = nullptr;
  LocalRunReport* report = nullptr;
  pipeline::Orchestrator* orch = nullptr;
  int sessions_left = 0;
  bool finished = false;
  std::optional<runtime::Oneshot<bool>> all_done;
};

Task<void> run_session(RunState* st, size_t first) {
  for (int r = 0; r < st->opt->requests; ++r) {
    pipeline::GenerateRequest req;
    req.prompt = st->opt->prompt;
    req.max_new_tokens = st->opt->max_new_tokens;
    req.keep_logits = st->opt->keep_logits;
    auto result = co_await st->orch->generate(std::move(req));
    LocalRequestOutcome& out = st->report->requests[first + size_t(r)];
    if (result.ok()) {
      out.result = std::move(*result);
    } else {
      out.status = result.status();
    }
  }
  if (--st->sessions_left == 0) st->all_done->set(true);
}

// Counters after minus before, per stage; empty when any went backwards (a stage restarted).
std::vector<pipeline::StageCounters> stage_work_between(const std::vector<pipeline::StageCounters>& before,
                                                        const std::vector<pipeline::StageCounters>& after) {
  std::vector<pipeline::StageCounters> work;
  if (before.size() != after.size()) return work;
  for (size_t i = 0; i < after.size(); ++i) {
    if (after[i].frames_processed < before[i].frames_processed || after[i].compute_us < before[i].compute_us)
      return {};
    work.push_back({.active_requests = after[i].active_requests,
                    .frames_processed = after[i].frames_processed - before[i].frames_processed,
                    .compute_us = after[i].compute_us - before[i].compute_us});
  }
  return work;
}

Task<void> poll_loop(runtime::Env* env, RunState* st) {
  while (!st->finished) {
    co_await runtime::sleep_for(*env->clock, st->opt->poll_interval);
    if (!st->finished) st->opt->poll();
  }
}

Task<void> drive(runtime::Env* env, RunState* st) {
  st->report->setup = co_await st->orch->start();
  if (!st->report->setup.ok()) {
    st->finished = true;
    co_await st->orch->shutdown();
    co_return;
  }
  const auto& ev = st->orch->stage_evidence();
  if (!ev.empty()) st->report->stage_platform = ev.front().platform;
  st->sessions_left = st->opt->concurrency;
  st->all_done.emplace(*env->executor);
  if (st->opt->poll) runtime::spawn(*env->executor, poll_loop(env, st));
  Result<std::vector<pipeline::StageCounters>> before = make_error(ErrorCode::UNAVAILABLE, "not probed");
  if (st->opt->probe_stages) before = co_await st->orch->probe_stages();
  runtime::MonoTime t0 = env->clock->now();
  for (int s = 0; s < st->opt->concurrency; ++s)
    runtime::spawn(*env->executor, run_session(st, size_t(s) * size_t(st->opt->requests)));
  co_await *st->all_done;
  st->report->wall_ms = double((env->clock->now() - t0).count()) / 1e6;
  if (before.ok()) {
    // Releases travel the data chain on their own (nobody waits for them), so a probe can
    // overtake the last one: probe until every stage holds no KV cache, a few times at most
    // (a stage that keeps one shows it in stage_work).
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto after = co_await st->orch->probe_stages();
      if (!after.ok()) break;
      st->report->stage_work = stage_work_between(*before, *after);
      bool drained = true;
      for (const auto& w : *after) drained = drained && w.active_requests == 0;
      if (drained) break;
      co_await runtime::sleep_for(*env->clock, std::chrono::milliseconds(5));
    }
  }
  st->finished = true;
  st->report->stats = st->orch->stats();
  co_await st->orch->shutdown();
}

}  // namespace

LocalClient::~LocalClient() {
  // Let the shut-down orchestrators' last tasks see their streams closed and finish.
  bool stop = false;
  runtime::TimerId id = posix->loop.start_timer(std::chrono::milliseconds(200), [&stop] { stop = true; });
  posix->loop.run_until([&stop] { return stop; });
  posix->loop.cancel_timer(id);
  // Vector elements die front to back: the order the keep list was built in.
  while (!keep.empty()) keep.erase(keep.begin());
}

bool LocalRunReport::all_ok() const {
  if (!setup.ok()) return false;
  for (const auto& r : requests)
    if (!r.status.ok()) return false;
  return true;
}

LocalRunReport LocalClient::run(const LocalRunOptions& o) {
  runtime::Env& env = posix->env;
  LocalRunReport report;
  report.requests.resize(size_t(o.requests) * size_t(o.concurrency));
  auto att = make_local_attestation(env, /*stage=*/false);
  if (!att.ok()) {
    report.setup = att.status();
    return report;
  }
  auto attestation = std::make_shared<LocalAttestation>(std::move(*att));
  pipeline::OrchestratorConfig oc;
  oc.manifest = o.manifest;
  oc.channel = attestation->channel("orchestrator");
  oc.setup_timeout = o.setup_timeout;
  oc.step_timeout = o.step_timeout;
  oc.health_interval = o.health_interval;
  oc.health_timeout = o.health_timeout;
  oc.recovery_timeout = o.recovery_timeout;
  oc.max_attempts = o.max_attempts;
  oc.greedy_in_last_stage = o.greedy_in_last_stage;
  auto orch = std::make_shared<pipeline::Orchestrator>(env, std::move(oc));
  auto state = std::make_shared<RunState>();
  state->opt = &o;
  state->report = &report;
  state->orch = orch.get();
  // Destroyed in this order: the state, the orchestrator, the attestation it points to.
  keep.push_back(state);
  keep.push_back(orch);
  keep.push_back(attestation);
  posix->loop.block_on(drive(&env, state.get()));
  state->report = nullptr;
  return report;
}

}  // namespace cpipe::cli

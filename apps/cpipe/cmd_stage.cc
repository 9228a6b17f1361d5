// `cpipe stage --manifest M --stage-idx i --model DIR`: one pipeline stage as a real process on
// the posix backend. It loads its layer range of the model, checks the manifest against the
// model (shape and weight hashes), listens on the manifest's control and data_in endpoints,
// prints "ready control=... data_in=..." on stdout once listening (scripts and `cpipe up` wait
// for that line) and serves until SIGINT/SIGTERM, then exits 0. Model work runs on one worker
// thread (the model's own pool has --threads) so the event loop stays free to relay.
//
// Attestation: only the DEVELOPMENT-ONLY mock ("mock-dev") exists for local processes; on Nitro
// the NSM provider plugs in here.
//
// `--sealed FILE --dev-key FILE` (instead of --model): the stage listens at once with no model,
// prints "listening control=..." and refuses every init with KEYS_COLD_START_PENDING while it
// cold-starts through pipeline::boot_stage (local_sealed_stage.h); then it prints its "ready"
// line with the cold start's phase timings, or — if the cold start failed — the error, and
// keeps refusing every init with that error (KEYS_CHUNK_AUTH_FAILED for a tampered chunk ...).
#include <signal.h>

#include <boost/asio/signal_set.hpp>
#include <iostream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>

#include "apps/cpipe/command_registry.h"
#include "apps/cpipe/local_pipeline.h"
#include "apps/cpipe/local_sealed_stage.h"
#include "core/pipeline/stage.h"
#include "core/pipeline/stage_boot.h"
#include "core/runtime/executor.h"
#include "model/gpt2_stage_model.h"

namespace cpipe::cli {
namespace {

struct Options {
  std::string manifest_path, model_dir, attestation = std::string(kLocalAttestation);
  std::string sealed_path, dev_key_path, model_id, model_version;
  int stage_idx = 0;
  int threads = 1;
  bool json_events = false;
  bool verbose = false;
  int fault_kill_after = 0;
  bool inline_decode = true;
};

// Testing fault: the process SIGKILLs itself when it starts its Nth forward pass, i.e. it dies
// mid-generation exactly as if the operator had killed it.
class SuicidalModel final : public pipeline::StageModel {
 public:
  SuicidalModel(std::unique_ptr<model::Gpt2StageModel> inner, int after) : inner_(std::move(inner)), after_(after) {}
  pipeline::StageShape shape() const override { return inner_->shape(); }
  Result<std::unique_ptr<pipeline::StageSequence>> new_sequence(int64_t capacity) override {
    return inner_->new_sequence(capacity);
  }
  Result<std::span<const float>> forward_tokens(pipeline::StageSequence& seq,
                                                std::span<const int32_t> tokens) override {
    tick();
    return inner_->forward_tokens(seq, tokens);
  }
  Result<std::span<const float>> forward_hidden(pipeline::StageSequence& seq,
                                                std::span<const float> hidden) override {
    tick();
    return inner_->forward_hidden(seq, hidden);
  }
  const std::vector<std::string>& weight_hashes() const override { return inner_->weight_hashes(); }

 private:
  void tick() {
    if (++forwards_ == after_) ::raise(SIGKILL);
  }
  std::unique_ptr<model::Gpt2StageModel> inner_;
  int after_;
  int forwards_ = 0;
};

Status check_weights(const pipeline::Manifest& m, const pipeline::StageSpec& spec,
                     const std::vector<std::string>& loaded) {
  if (spec.weight_hashes.empty()) {
    if (m.require_weight_hashes)
      return make_error(ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH,
                        "the manifest requires weight hashes but pins none for stage " + std::to_string(spec.stage_idx));
    return Status::Ok();
  }
  if (spec.weight_hashes.size() != loaded.size())
    return make_error(ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH,
                      "stage " + std::to_string(spec.stage_idx) + " loads " + std::to_string(loaded.size()) +
                          " tensors, the manifest pins " + std::to_string(spec.weight_hashes.size()));
  for (size_t i = 0; i < loaded.size(); ++i)
    if (loaded[i] != spec.weight_hashes[i])
      return make_error(ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH,
                        "stage " + std::to_string(spec.stage_idx) + " tensor #" + std::to_string(i) + " hashes to " +
                            loaded[i] + ", the manifest pins " + spec.weight_hashes[i]);
  return Status::Ok();
}

// One stage process: its posix Env, its (mock-dev) attestation and the Stage server, started.
// Members in destruction order: the stage goes first, the Env last.
struct StageProcess {
  std::unique_ptr<posix::PosixEnv> posix;
  std::optional<LocalAttestation> attestation;
  std::unique_ptr<pipeline::Stage> stage;
};

Result<StageProcess> start_stage_process(const Options& o, const pipeline::Manifest& manifest,
                                         pipeline::StageModel* model, std::optional<Status> refusal) {
  StageProcess p;
  posix::PosixEnvOptions po;
  po.compute_threads = 1;  // one job at a time anyway; the model's pool does the parallel work
  po.event_format = o.json_events ? posix::EventFormat::kJson : posix::EventFormat::kText;
  po.min_event_level = o.verbose ? EventLevel::kInfo : EventLevel::kWarn;
  p.posix = posix::make_posix_env(po);
  auto att = make_local_attestation(p.posix->env, /*stage=*/true);
  if (!att.ok()) return att.status();
  p.attestation.emplace(std::move(*att));
  pipeline::StageConfig c;
  c.manifest = manifest;
  c.stage_idx = uint32_t(o.stage_idx);
  c.channel = p.attestation->channel("stage" + std::to_string(o.stage_idx));
  c.inline_decode = o.inline_decode;
  p.stage = std::make_unique<pipeline::Stage>(p.posix->env, std::move(c), model);
  if (refusal) p.stage->refuse(std::move(*refusal));
  Status started = p.stage->start();
  if (!started.ok()) return started;
  return p;
}

// The line scripts and `cpipe up` wait for: where the stage listens and what it serves.
std::string ready_line(const Options& o, const pipeline::StageSpec& spec, const pipeline::Stage& stage) {
  std::ostringstream ready;
  ready << "ready control=" << stage.control_endpoint().to_string()
        << " data_in=" << stage.data_in_endpoint().to_string() << " stage=" << o.stage_idx
        << " layers=" << spec.layer_start << ".." << spec.layer_end << " threads=" << o.threads
        << " attestation=" << kLocalAttestation << " (DEVELOPMENT ONLY)";
  return ready.str();
}

// Prints `line` (unless empty), serves until SIGINT/SIGTERM, then lets the stage's tasks see their streams
// closed and end (bounded: a compute job may run) until also `finished()` holds.
int serve_until_signal(StageProcess& p, const std::string& line, const std::function<bool()>& finished) {
  posix::EventLoop& loop = p.posix->loop;
  pipeline::Stage* stage = p.stage.get();
  boost::asio::signal_set signals(loop.io_context(), SIGINT, SIGTERM);
  bool stopping = false;
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    stopping = true;
    stage->kill();  // listeners and channels close; the orchestrator sees the stage gone
    loop.stop();
  });
  if (!line.empty()) std::cout << line << std::endl;
  loop.run();
  signals.cancel();
  if (!stopping) stage->kill();
  bool settled = false;
  runtime::TimerId id = loop.start_timer(std::chrono::milliseconds(300), [&settled] { settled = true; });
  loop.run_until([&settled, &finished] { return settled && finished(); });
  loop.cancel_timer(id);
  p.stage.reset();
  return kExitOk;
}

// The sealed boot runs on the stage's loop; the "ready" line follows it.
runtime::Task<void> sealed_boot_task(runtime::Env* env, pipeline::Stage* stage, LocalSealedBoot* boot,
                                     std::string ready_line) {
  co_await pipeline::boot_into_stage(env, stage, std::move(boot->config), &boot->result);
  boot->done = true;
  const std::string summary = sealed_boot_json(*boot);
  if (boot->result.ok())
    std::cerr << "cpipe stage: cold start done (DEVELOPMENT-ONLY dev key): " << summary << std::endl;
  else
    std::cerr << "cpipe stage: cold start failed, refusing every init: " << boot->result.status().to_string()
              << std::endl;
  std::cout << ready_line << " cold_start=" << summary << std::endl;
}

int run_sealed(const Options& o, std::function<std::unique_ptr<pipeline::StageModel>(std::unique_ptr<pipeline::StageModel>)> wrap) {
  auto text = model::read_text_file(o.manifest_path);
  if (!text.ok()) return report_error(text.status(), false);
  auto manifest = pipeline::load_manifest(*text);  // checked against the model once it is decrypted
  if (!manifest.ok()) return report_error(manifest.status(), false);
  if (o.stage_idx < 0 || size_t(o.stage_idx) >= manifest->stages.size())
    return report_error(make_error(ErrorCode::INVALID_ARGUMENT, "--stage-idx out of the manifest's range"), false);
  const pipeline::StageSpec& spec = manifest->stages[size_t(o.stage_idx)];
  LocalSealedStageOptions so;
  so.sealed_path = o.sealed_path;
  so.dev_key_path = o.dev_key_path;
  so.model_id = o.model_id;
  so.model_version = o.model_version;
  so.manifest = *manifest;
  so.stage_idx = uint32_t(o.stage_idx);
  so.threads = o.threads;
  so.wrap = std::move(wrap);
  auto boot = make_local_sealed_boot(so);
  if (!boot.ok()) return report_error(boot.status(), false);

  auto process = start_stage_process(
      o, *manifest, nullptr,
      make_error(ErrorCode::KEYS_COLD_START_PENDING,
                 "stage " + std::to_string(o.stage_idx) + " is cold-starting its sealed model"));
  if (!process.ok()) return report_error(process.status(), false);
  pipeline::Stage* stage = process->stage.get();
  const std::string ready = ready_line(o, spec, *stage) + " key=dev-key (DEVELOPMENT ONLY)";
  std::cout << "listening control=" << stage->control_endpoint().to_string()
            << " data_in=" << stage->data_in_endpoint().to_string() << " stage=" << o.stage_idx
            << " cold_start=running" << std::endl;
  runtime::Env& env = process->posix->env;
  runtime::spawn(*env.executor, sealed_boot_task(&env, stage, boot->get(), ready));
  LocalSealedBoot* b = boot->get();
  return serve_until_signal(*process, /*line=*/"", [b] { return b->done; });
}

int run(const Options& o) {
  if (o.attestation != kLocalAttestation)
    return report_error(make_error(ErrorCode::INVALID_ARGUMENT,
                                   "--attestation " + o.attestation + ": only mock-dev exists for local processes"),
                        false);
  if (o.sealed_path.empty() == o.model_dir.empty())
    return report_error(make_error(ErrorCode::INVALID_ARGUMENT, "give exactly one of --model DIR or --sealed FILE"),
                        false);
  if (!o.sealed_path.empty()) {
    const int after = o.fault_kill_after;
    std::function<std::unique_ptr<pipeline::StageModel>(std::unique_ptr<pipeline::StageModel>)> wrap;
    if (after > 0)
      wrap = [after](std::unique_ptr<pipeline::StageModel> m) -> std::unique_ptr<pipeline::StageModel> {
        std::unique_ptr<model::Gpt2StageModel> g(static_cast<model::Gpt2StageModel*>(m.release()));
        return std::make_unique<SuicidalModel>(std::move(g), after);
      };
    return run_sealed(o, std::move(wrap));
  }
  auto manifest = load_manifest_for_model(o.manifest_path, o.model_dir);
  if (!manifest.ok()) return report_error(manifest.status(), false);
  if (o.stage_idx < 0 || size_t(o.stage_idx) >= manifest->stages.size())
    return report_error(make_error(ErrorCode::INVALID_ARGUMENT, "--stage-idx " + std::to_string(o.stage_idx) +
                                                                    ": the manifest has " +
                                                                    std::to_string(manifest->stages.size()) + " stages"),
                        false);
  const pipeline::StageSpec& spec = manifest->stages[size_t(o.stage_idx)];

  model::Gpt2Options mo;
  mo.layer_begin = spec.layer_start;
  mo.layer_end = spec.layer_end;
  mo.threads = o.threads;
  auto loaded = model::Gpt2StageModel::load(o.model_dir, mo);
  if (!loaded.ok()) return report_error(loaded.status(), false);
  Status weights = check_weights(*manifest, spec, (*loaded)->weight_hashes());
  if (!weights.ok()) return report_error(weights, false);
  std::unique_ptr<pipeline::StageModel> stage_model;
  if (o.fault_kill_after > 0)
    stage_model = std::make_unique<SuicidalModel>(std::move(*loaded), o.fault_kill_after);
  else
    stage_model = std::move(*loaded);

  auto process = start_stage_process(o, *manifest, stage_model.get(), std::nullopt);
  if (!process.ok()) return report_error(process.status(), false);
  pipeline::Stage* stage = process->stage.get();
  return serve_until_signal(*process, ready_line(o, spec, *stage), [] { return true; });
}

const CommandRegistrar kRegistrar([](CLI::App& root) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("stage", "Serve one pipeline stage over TCP until SIGINT/SIGTERM");
  cmd->add_option("--manifest", opt->manifest_path, "Pipeline manifest (JSON)")->required();
  cmd->add_option("--stage-idx", opt->stage_idx, "Which stage of the manifest to serve")->required();
  cmd->add_option("--model", opt->model_dir, "Model directory (config.json + model.safetensors)");
  cmd->add_option("--sealed", opt->sealed_path,
                  "Sealed model (`cpipe model seal`) to cold-start instead of --model; needs --dev-key");
  cmd->add_option("--dev-key", opt->dev_key_path, "DEVELOPMENT ONLY: the sealed model's 32-byte dev key file");
  cmd->add_option("--model-id", opt->model_id, "With --sealed: the model id to expect (default: the header's)");
  cmd->add_option("--model-version", opt->model_version, "With --sealed: the version to expect (default: the header's)");
  cmd->add_option("--threads", opt->threads, "Model compute threads")->check(CLI::Range(1, 256));
  cmd->add_option("--attestation", opt->attestation, "Evidence provider (mock-dev: DEVELOPMENT ONLY)");
  cmd->add_flag("--inline-decode,!--no-inline-decode", opt->inline_decode,
               "Run decode steps on the event-loop thread (default; saves two thread hand-offs per hop)");
  cmd->add_flag("--json-events", opt->json_events, "Structured events on stderr as JSON lines");
  cmd->add_flag("--verbose", opt->verbose, "Info-level events (default: warnings and errors)");
  cmd->add_option("--fault-kill-after", opt->fault_kill_after,
                  "Testing: SIGKILL this process at its Nth forward pass");
  cmd->callback([opt] { set_exit_code(run(*opt)); });
});

}  // namespace
}  // namespace cpipe::cli

// `cpipe sim pipeline`: GPT-2 sharded across N simulated enclaves (Nitro by default; simulated
// SEV-SNP guests or DEVELOPMENT-ONLY mock-dev processes with --platform) behind an untrusted
// host, driven by the orchestrator — the README's main job. Prints the generated ids (and text
// when a tokenizer is at hand), what the host saw, and the trace hash that pins the run.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/cpipe/cli_args.h"
#include "apps/cpipe/command_registry.h"
#include "apps/cpipe/model_source.h"
#include "apps/cpipe/sim_pipeline_session.h"

namespace cpipe::cli {
namespace {

struct Options {
  SimPipelineOptions session;
  std::string model_dir, tokenizer_dir, prompt, prompt_ids;
  int kill_stage = -1;
  // Receipts: the first request's receipt, the signing stage's evidence and the simulated root.
  std::string receipt_out, evidence_out, root_out;
  bool json = false;
  bool verbose = false;
};

std::string join(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ' ';  // (not `" " + to_string`: GCC 12's -Wrestrict false positive)
    s += std::to_string(ids[i]);
  }
  return s;
}

Status write_bytes(const std::string& path, ByteSpan data) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
  if (!f) return make_error(ErrorCode::IO_ERROR, "cannot write " + path);
  return Status::Ok();
}

// --receipt-out / --evidence-out / --root-out: what `cpipe receipt verify R --evidence E
// --root ROOT --at T --expect-model-hash H` takes.
Status write_receipt_files(const Options& opt, const SimPipelineReport& r) {
  if (opt.receipt_out.empty() && opt.evidence_out.empty() && opt.root_out.empty()) return Status::Ok();
  if (!opt.receipt_out.empty()) {
    if (r.requests.empty() || r.requests.front().receipt.empty())
      return make_error(ErrorCode::RECEIPT_INVALID, "the first request has no receipt to write");
    CPIPE_RETURN_IF_ERROR(write_bytes(opt.receipt_out, r.requests.front().receipt));
  }
  if (!opt.evidence_out.empty()) {
    if (r.receipt_evidence.empty()) return make_error(ErrorCode::RECEIPT_KEY_NOT_BOUND, "no signing stage evidence");
    CPIPE_RETURN_IF_ERROR(write_bytes(opt.evidence_out, r.receipt_evidence));
  }
  if (!opt.root_out.empty()) CPIPE_RETURN_IF_ERROR(write_bytes(opt.root_out, as_bytes(r.receipt_evidence_root_pem)));
  return Status::Ok();
}

nlohmann::ordered_json boots_json(const SimPipelineReport& r) {
  auto out = nlohmann::ordered_json::array();
  for (const SimStageBoot& b : r.boots) {
    nlohmann::ordered_json e;
    e["stage"] = b.stage;
    e["status"] = b.code;
    if (b.code != "OK") e["error"] = b.status;
    if (r.sealed && b.code == "OK") {
      e["stages"] = nlohmann::ordered_json::parse(b.timings.to_json());
      e["chunks"] = b.stats.chunks;
      e["sealed_bytes_fetched"] = b.stats.sealed_bytes_fetched;
      e["plaintext_bytes"] = b.stats.plaintext_bytes;
      e["peak_bytes_held"] = b.stats.peak_bytes_held;
    }
    out.push_back(std::move(e));
  }
  return out;
}

int run(Options& opt) {
  if (!opt.receipt_out.empty() || !opt.evidence_out.empty()) opt.session.receipts = true;
  auto dir = resolve_model_dir(opt.model_dir);
  if (!dir.ok()) return report_error(dir.status(), opt.json);
  auto tokenizer = find_tokenizer(opt.tokenizer_dir, *dir);
  const model::BpeTokenizer* tok = tokenizer.ok() ? tokenizer->get() : nullptr;
  if (!opt.tokenizer_dir.empty() && !tokenizer.ok()) return report_error(tokenizer.status(), opt.json);
  auto prompt = prompt_ids(opt.prompt, opt.prompt_ids, tok);
  if (!prompt.ok()) return report_error(prompt.status(), opt.json);
  opt.session.model_dir = *dir;
  opt.session.prompt = *prompt;
  opt.session.keep_events = opt.verbose;
  if (opt.kill_stage >= 0) opt.session.kill_stage = opt.kill_stage;
  auto result = run_sim_pipeline(opt.session);
  if (!result.ok()) return report_error(result.status(), opt.json);
  const SimPipelineReport& r = *result;
  bool all_ok = true;
  for (const auto& q : r.requests) all_ok = all_ok && q.code == "OK";
  auto text_of = [&](const std::vector<int32_t>& ids) -> std::string {
    if (!tok) return {};
    auto t = tok->decode(ids);
    return t.ok() ? *t : std::string();
  };
  if (opt.json) {
    nlohmann::ordered_json j;
    j["ok"] = all_ok && !r.host_saw_plaintext;
    j["seed"] = opt.session.seed;
    j["stages"] = r.stages;
    j["model_dir"] = *dir;
    j["prompt_ids"] = opt.session.prompt;
    j["attestation"] = r.stage_platform;
    auto& reqs = j["requests"] = nlohmann::ordered_json::array();
    for (const auto& q : r.requests) {
      nlohmann::ordered_json e;
      e["status"] = q.code;
      if (q.code != "OK") e["error"] = q.status;
      e["tokens"] = q.tokens;
      if (tok) e["text"] = text_of(q.tokens);
      e["attempts"] = q.attempts;
      e["token_ms"] = q.token_ms;
      if (!q.receipt.empty()) e["receipt_hex"] = hex_encode(q.receipt);
      reqs.push_back(std::move(e));
    }
    if (r.sealed) {
      j["sealed"] = true;
      j["kms"] = "simulated";
      j["cold_start"] = boots_json(r);
      j["kms_requests"] = r.kms_requests;
      j["kms_throttled"] = r.kms_throttled;
      j["kms_denied"] = r.kms_denied;
      j["kms_retries"] = r.kms_retries;
      j["s3_gets"] = r.s3_gets;
      j["host_tampered_bytes"] = r.host_tampered_bytes;
      j["sealed_size"] = r.sealed_size;
    }
    if (opt.session.receipts) {
      j["model_id"] = r.model_id;
      j["model_hash"] = hex_encode(r.model_hash);
      j["receipt_signer_stage"] = 0;
      j["receipt_public_key"] = hex_encode(r.receipt_public_key);
      j["receipt_evidence_time_ms"] = r.receipt_evidence_time_ms;
    }
    j["setup_virtual_ms"] = r.setup_ms;
    j["virtual_ms"] = r.virtual_ms;
    j["pipelines_built"] = r.pipelines_built;
    j["pipeline_failures"] = r.pipeline_failures;
    j["retries"] = r.retries;
    if (r.detect_ms >= 0) j["failure_detected_after_ms"] = r.detect_ms;
    j["relayed_bytes"] = r.relayed_bytes;
    j["host_saw_plaintext"] = r.host_saw_plaintext;
    j["events"] = r.events;
    j["trace_hash"] = r.trace_hash;
    j["unseed"] = r.unseed;
    std::cout << j.dump(2) << std::endl;
  } else {
    std::cout << "cpipe sim pipeline: seed " << opt.session.seed << ", " << r.stages
              << " stages, model " << *dir << "\n"
              << "  orchestrator (client) -> host (cid 3, untrusted relay) -> stage0 (cid 16)";
    for (int i = 1; i < r.stages; ++i) std::cout << " -> host -> stage" << i << " (cid " << 16 + i << ")";
    std::cout << " -> host -> orchestrator\n";
    for (const std::string& line : opt.verbose ? r.event_lines : r.timeline) std::cout << "  " << line << "\n";
    std::cout << "  prompt ids: " << join(opt.session.prompt) << "\n";
    for (size_t i = 0; i < r.requests.size(); ++i) {
      const auto& q = r.requests[i];
      std::cout << "  request " << i << ": " << q.status << "\n    generated ids: " << join(q.tokens) << "\n";
      if (tok && !q.tokens.empty()) std::cout << "    text: " << nlohmann::json(text_of(q.tokens)).dump() << "\n";
    }
    std::cout << "  pipeline set up in " << r.setup_ms << " ms virtual (every stage attested); builds "
              << r.pipelines_built << ", failures " << r.pipeline_failures << ", retries " << r.retries << "\n";
    if (r.detect_ms >= 0) std::cout << "  stage failure detected after " << r.detect_ms << " ms\n";
    for (const SimStageBoot& b : r.boots) {
      std::cout << "  stage" << b.stage << " boot: " << b.status;
      if (r.sealed && b.code == "OK") std::cout << " cold start " << b.timings.to_json();
      std::cout << "\n";
    }
    if (r.sealed)
      std::cout << "  key delivery (simulated KMS): " << r.kms_requests << " KMS requests (" << r.kms_throttled
                << " throttled, " << r.kms_denied << " denied, " << r.kms_retries << " retries), " << r.s3_gets
                << " S3 GETs\n";
    for (size_t i = 0; i < r.requests.size() && opt.session.receipts; ++i)
      if (!r.requests[i].receipt.empty())
        std::cout << "  request " << i << " receipt (stage 0, " << r.requests[i].receipt.size()
                  << " bytes): " << hex_encode(r.requests[i].receipt).substr(0, 48) << "...\n";
    if (opt.session.receipts)
      std::cout << "  receipts signed by stage 0; model_hash " << hex_encode(r.model_hash)
                << ", evidence_time_ms " << r.receipt_evidence_time_ms << "\n";
    std::cout << "  host relayed " << r.relayed_bytes << " bytes, plaintext seen by host: "
              << (r.host_saw_plaintext ? "YES" : "none") << "\n"
              << "  virtual time " << r.virtual_ms << " ms, " << r.events << " events\n"
              << "trace_hash " << r.trace_hash << "\n"
              << "unseed " << r.unseed << std::endl;
  }
  Status written = write_receipt_files(opt, r);
  if (!written.ok()) {
    std::cerr << "cpipe sim pipeline: " << written.to_string() << std::endl;
    return kExitFailure;
  }
  return all_ok && !r.host_saw_plaintext ? kExitOk : kExitFailure;
}

const CommandRegistrar kRegistrar([](CLI::App& root) {
  CLI::App* sim = group(root, "sim", "Deterministic simulations");
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = sim->add_subcommand(
      "pipeline", "GPT-2 sharded across simulated attested enclaves behind an untrusted host");
  cmd->add_option("--stages", opt->session.stages, "Pipeline stages")->check(CLI::Range(1, 16));
  cmd->add_option("--platform", opt->session.platform,
                  "What stages attest with: nitro (SimNsm), sev-snp (simulated SNP firmware), local (mock-dev, "
                  "DEVELOPMENT ONLY)")
      ->check(CLI::IsMember({"nitro", "sev-snp", "local"}));
  cmd->add_option("--seed", opt->session.seed, "Simulation seed");
  cmd->add_option("--model", opt->model_dir, "Model directory (default: synthesized tiny GPT-2)");
  cmd->add_option("--tokenizer", opt->tokenizer_dir, "Tokenizer directory");
  cmd->add_option("--prompt", opt->prompt, "Prompt text (needs a tokenizer)");
  cmd->add_option("--prompt-ids", opt->prompt_ids, "Prompt as token ids: 464,2068,7586");
  cmd->add_option("--max-tokens", opt->session.max_new_tokens, "Tokens to generate")->check(CLI::Range(1, 4096));
  cmd->add_option("--requests", opt->session.requests, "Requests per session, one after another")->check(CLI::Range(1, 10000));
  cmd->add_option("--concurrency", opt->session.concurrency, "Sessions at once")->check(CLI::Range(1, 1000));
  cmd->add_option("--cost-per-layer-ms", opt->session.cost_per_layer_token_ms, "Simulated compute per layer per token");
  cmd->add_flag("--greedy-in-last-stage", opt->session.greedy_in_last_stage, "The last stage picks the token");
  cmd->add_option("--kill-stage", opt->kill_stage, "Fault: kill this stage ...");
  cmd->add_option("--kill-after", opt->session.kill_after_forwards, "... after this many of its forward passes");
  cmd->add_option("--restart-after-ms", opt->session.restart_after_ms, "... and restart it this much later (<0: never)");
  cmd->add_flag("--tamper", opt->session.tamper_stage1_data, "Fault: the host flips bytes going into stage 1");
  cmd->add_option("--recovery-timeout-ms", opt->session.recovery_timeout_ms, "How long requests wait for a new pipeline");
  cmd->add_flag("--sealed", opt->session.sealed,
                "Stages boot empty: attested cold start (simulated KMS key release, S3 via the host proxy)");
  cmd->add_option("--chunk-size", opt->session.chunk_size, "Sealed chunk size in bytes")->check(CLI::Range(4096, 64 << 20));
  cmd->add_flag("--kms-policy-mismatch", opt->session.kms_policy_mismatch,
                "Fault: the key policy admits another image (AccessDenied; stages refuse)");
  cmd->add_option("--kms-throttle", opt->session.kms_throttle, "Fault: KMS throttles this many requests first");
  cmd->add_flag("--corrupt-chunk", opt->session.corrupt_chunk, "Fault: the host flips a byte of sealed chunk 0");
  cmd->add_flag("--receipts", opt->session.receipts, "Stage 0 signs an AIR v1 receipt per request");
  cmd->add_option("--receipt-out", opt->receipt_out, "Write the first request's receipt (implies --receipts)");
  cmd->add_option("--evidence-out", opt->evidence_out, "Write the signing stage's attestation document");
  cmd->add_option("--root-out", opt->root_out, "Write the simulated Nitro root (PEM) for --root");
  cmd->add_flag("--json", opt->json, "Machine-readable output");
  cmd->add_flag("--verbose", opt->verbose, "Print every structured event");
  cmd->callback([opt] { set_exit_code(run(*opt)); });
});

}  // namespace
}  // namespace cpipe::cli

// `cpipe bench coldstart [--preset tiny|124M] --json`: one stage's cold start as a real process —
// posix Env, real crypto, the production cold-start code (core/keys/cold_start.h) and the
// in-place GPT-2 load (Gpt2StageModel::from_memory) — on a synthesized GPT-2 sealed under a
// KMS data key. What is not real is named in the JSON: key release is SimKms in-process
// ("kms": "simulated": real SigV4, key policy on the attested image, RSA-OAEP/CMS answer, no
// network), the attestation document comes from SimNsm (real ECDSA P-384 signing, no NSM
// latency), and the sealed object is a local file read with pread (no S3, no proxy).
// Memory: VmHWM is reset (/proc/self/clear_refs) before the cold start and read after it, so
// peak_rss_increase / model_bytes is the cold start's own peak (target <= 1.15).
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/cpipe/command_registry.h"
#include "apps/cpipe/file_object_store.h"
#include "apps/cpipe/model_source.h"
#include "apps/cpipe/sim_attestation.h"
#include "apps/cpipe/sim_key_delivery.h"
#include "backends/posix/posix_env.h"
#include "backends/simulated/nsm/sim_nsm.h"
#include "backends/simulated/sim_kms.h"
#include "backends/simulated/sim_random.h"
#include "core/keys/cold_start.h"
#include "core/keys/sealed_model_writer.h"
#include "model/gpt2_stage_model.h"

namespace cpipe::cli {
namespace {

using nlohmann::ordered_json;

struct Options {
  std::string preset = "tiny";
  std::string model_dir;
  uint32_t chunk_size = 4u << 20;
  size_t window = 2;
  bool json = false;
};

constexpr const char* kKeyId = "5e1ec7ed-0000-4000-8000-c0ffee00bench";
constexpr const char* kRoleArn = "arn:aws:iam::111122223333:role/cpipe-stage";
const keys::AwsCredentials kCreds{"AKIDCPIPEBENCH", "cpipe-bench-secret", ""};

// KMS Decrypt with Recipient answered by SimKms in this process: the request is built and
// SigV4-signed exactly as HttpKmsClient sends it, SimKms checks signature, policy and document.
class InProcessKms final : public keys::KmsClient {
 public:
  InProcessKms(sim::SimKms& kms, int64_t unix_time) : kms_(&kms), unix_time_(unix_time) {}
  runtime::Task<Result<keys::KmsDecryptResponse>> decrypt(keys::KmsDecryptRequest request) override {
    auto http = keys::build_kms_decrypt_request(request, {"eu-west-1", "kms.eu-west-1.amazonaws.com"}, kCreds,
                                                unix_time_);
    if (!http.ok()) co_return http.status();
    keys::HttpResponse answer = kms_->handle(*http);
    co_return keys::parse_kms_decrypt_response(answer.status, answer.body);
  }

 private:
  sim::SimKms* kms_;
  int64_t unix_time_;
};

// Wraps SimNsm so attest() makes the document without a latency sleep, stamped by `clock` —
// SimKms's own clock, so its validity and age checks see the document as just made (the cost
// of making it is still measured on the posix clock by the cold start).
class InstantNsm final : public runtime::AttestationProvider {
 public:
  InstantNsm(sim::SimNsm& nsm, runtime::Clock& clock) : nsm_(&nsm), clock_(&clock) {}
  std::string platform() const override { return sim::SimNsm::kPlatform; }
  runtime::Task<Result<runtime::Evidence>> attest(runtime::AttestationRequest request) override {
    auto doc = nsm_->make_document(request, clock_->wall_now().unix_ms());
    if (!doc.ok()) co_return doc.status();
    co_return runtime::Evidence{sim::SimNsm::kPlatform, std::move(*doc)};
  }

 private:
  sim::SimNsm* nsm_;
  runtime::Clock* clock_;
};

// /proc/self/status fields in KiB (VmRSS, VmHWM); -1 when absent.
int64_t proc_status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return std::stoll(line.substr(prefix.size()));
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0).
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return bool(f);
}

std::string key_policy() {
  std::string pcr0 = sim_image_measurements(sim_image("cpipe-stage")).at("PCR0");
  for (char& c : pcr0) c = char(std::toupper(static_cast<unsigned char>(c)));
  return std::string(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":")") +
         kRoleArn + R"("},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEqualsIgnoreCase":)"
         R"({"kms:RecipientAttestation:ImageSha384":")" + pcr0 + R"("}}}]})";
}

// Seals DIR's files under a fresh SimKms data key into `path` (chunks streamed to the file).
Result<Bytes> seal_to_file(const std::string& dir, const std::string& path, uint32_t chunk_size, sim::SimKms& kms) {
  CPIPE_ASSIGN_OR_RETURN(sim::SimDataKey dk,
                         kms.generate_data_key(kKeyId, keys::sealed_model_encryption_context("gpt2-bench", "1")));
  keys::KeyWrap wrap;
  wrap.kind = keys::KeyWrapKind::kKms;
  wrap.kms_key_arn = dk.key_arn;
  wrap.kms_ciphertext_blob = dk.ciphertext_blob;
  std::vector<Bytes> files;
  CPIPE_ASSIGN_OR_RETURN(keys::Manifest manifest, model_dir_manifest(dir, &files));
  std::string chunks_path = path + ".chunks";
  std::ofstream chunks(chunks_path, std::ios::binary | std::ios::trunc);
  sim::SimRandom random(11);
  CPIPE_ASSIGN_OR_RETURN(auto writer, keys::SealedModelWriter::create(
                                          {"gpt2-bench", "1", chunk_size}, manifest, dk.plaintext, std::move(wrap),
                                          random, [&chunks](uint64_t, ByteSpan c) {
                                            chunks.write(reinterpret_cast<const char*>(c.data()), std::streamsize(c.size()));
                                            return chunks ? Status::Ok() : make_error(ErrorCode::IO_ERROR, "writing chunks");
                                          }));
  for (Bytes& f : files) {
    CPIPE_RETURN_IF_ERROR(writer->write(f));
    Bytes().swap(f);  // give the memory back before the measured cold start
  }
  CPIPE_RETURN_IF_ERROR(writer->finish());
  chunks.close();
  // header || chunks
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const Bytes header = writer->header_bytes();
  out.write(reinterpret_cast<const char*>(header.data()), std::streamsize(header.size()));
  std::ifstream in(chunks_path, std::ios::binary);
  out << in.rdbuf();
  if (!out) return make_error(ErrorCode::IO_ERROR, "cannot write " + path);
  std::remove(chunks_path.c_str());
  return manifest.hash();
}

int run(const Options& opt) {
  auto dir = resolve_model_dir(opt.model_dir, opt.preset);
  if (!dir.ok()) return report_error(dir.status(), opt.json);
  posix::PosixEnvOptions po;
  po.compute_threads = 1;
  po.event_sink = &NullEventSink::instance();
  auto posix = posix::make_posix_env(po);
  runtime::Env& env = posix->env;

  // SimKms lives in a world that never runs: only its request -> response function is used, at
  // a fixed time (the process's wall time at start), which SigV4 and the document share.
  sim::WorldOptions wo;
  wo.epoch = env.clock->wall_now();
  wo.route_libsodium = false;
  sim::SimWorld world(wo);
  sim::SimNode& kms_node = world.add_node("kms", {.host = "kms"});
  sim::SimNsmConfig nc;
  nc.seed = to_bytes("cpipe simulated Nitro PKI");
  nc.image = sim_image("cpipe-stage");
  nc.latency = runtime::Duration(0);
  auto nsm = sim::SimNsm::create(*env.clock, nc);
  if (!nsm.ok()) return report_error(nsm.status(), opt.json);
  sim::SimKmsConfig kc;
  kc.principals = {{kCreds.access_key_id, kCreds.secret_access_key, "", kRoleArn}};
  kc.keys = {{kKeyId, {"alias/cpipe-bench"}, key_policy()}};
  kc.attestation_root_der = (*nsm)->root_der();
  auto kms = sim::SimKms::create(kms_node, kc);
  if (!kms.ok()) return report_error(kms.status(), opt.json);

  const char* tmp = std::getenv("TMPDIR");
  const std::string sealed_path = std::string(tmp && *tmp ? tmp : "/tmp") + "/cpipe-bench-coldstart-" +
                                  opt.preset + "-" + std::to_string(::getpid()) + ".sealed";
  auto manifest_hash = seal_to_file(*dir, sealed_path, opt.chunk_size, **kms);
  if (!manifest_hash.ok()) return report_error(manifest_hash.status(), opt.json);

  FileObjectStore store;
  InProcessKms kms_client(**kms, wo.epoch.unix_ms() / 1000);
  InstantNsm attestation(**nsm, kms_node.clock());
  std::unique_ptr<pipeline::StageModel> loaded;
  keys::ColdStartConfig cs;
  cs.store = &store;
  cs.object_key = sealed_path;
  cs.model_id = "gpt2-bench";
  cs.model_version = "1";
  cs.expected_manifest_hash = *manifest_hash;
  cs.kms = &kms_client;
  cs.attestation = &attestation;
  cs.window_chunks = opt.window;
  cs.load = [&loaded](keys::ColdStartResult& r) -> Status {
    keys::ModelFile* cfg = r.find("config.json");
    keys::ModelFile* weights = r.find("model.safetensors");
    if (!cfg || !weights) return make_error(ErrorCode::MODEL_BAD_FILE, "sealed model lacks its files");
    model::Gpt2Options mo;
    mo.threads = 1;
    // The tied LM head is read in place from the delivered buffer (the embedding table shares
    // it): copying it out would cost its size (154 MB for 124M) on top of the model.
    mo.lm_head_in_place = true;
    auto m = model::Gpt2StageModel::from_memory(to_string(cfg->data), std::move(weights->data), mo);
    if (!m.ok()) return m.status();
    loaded = std::move(*m);
    return Status::Ok();
  };

  const bool reset = reset_peak_rss();
  const int64_t rss_before = proc_status_kib("VmRSS");
  auto result = posix->loop.block_on(keys::cold_start(env, std::move(cs)));
  const int64_t hwm_after = proc_status_kib("VmHWM");
  const int64_t rss_after = proc_status_kib("VmRSS");
  std::remove(sealed_path.c_str());
  if (!result.ok()) return report_error(result.status(), opt.json);

  const double model_mb = double(result->stats.plaintext_bytes) / (1 << 20);
  const double peak_increase_mb = double(hwm_after - rss_before) / 1024;
  const double ratio = peak_increase_mb / model_mb;
  ordered_json j;
  j["bench"] = "coldstart";
  j["preset"] = opt.model_dir.empty() ? opt.preset : "custom";
  j["kms"] = "simulated";
  j["kms_detail"] = "SimKms in-process: real SigV4, key policy on ImageSha384, RSAES-OAEP/CMS answer; no network";
  j["attestation"] = "sim-nitro: SimNsm document (real ECDSA P-384), no NSM latency";
  j["store"] = "local file (pread); no S3, no host proxy";
  j["model_bytes"] = result->stats.plaintext_bytes;
  j["sealed_bytes"] = result->stats.object_size;
  j["chunks"] = result->stats.chunks;
  j["chunk_size"] = opt.chunk_size;
  j["window_chunks"] = opt.window;
  j["stages"] = ordered_json::parse(result->timings.to_json());
  j["memory"] = {{"peak_reset", reset},
                 {"rss_before_mb", double(rss_before) / 1024},
                 {"peak_rss_mb", double(hwm_after) / 1024},
                 {"rss_after_mb", double(rss_after) / 1024},
                 {"peak_rss_increase_mb", peak_increase_mb},
                 {"model_mb", model_mb},
                 {"peak_rss_increase_over_model", ratio},
                 {"target_ratio", 1.15},
                 {"within_target", ratio <= 1.15}};
  if (opt.json) {
    std::cout << j.dump(2) << std::endl;
  } else {
    std::cout << "cold start (" << j["preset"].get<std::string>() << ", " << model_mb << " MiB): "
              << result->timings.to_json() << "\n  peak RSS increase " << peak_increase_mb << " MiB = " << ratio
              << "x the model (target <= 1.15)" << std::endl;
  }
  return kExitOk;
}

const CommandRegistrar kRegistrar([](CLI::App& root) {
  CLI::App* bench = group(root, "bench", "Benchmarks");
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = bench->add_subcommand("coldstart", "One stage's cold start as a real process: phases and peak RSS");
  cmd->add_option("--preset", opt->preset, "Synthesized GPT-2: tiny or 124M")->check(CLI::IsMember({"tiny", "124M"}));
  cmd->add_option("--model", opt->model_dir, "Model directory instead of a preset");
  cmd->add_option("--chunk-size", opt->chunk_size, "Sealed chunk size in bytes")->check(CLI::Range(4096, 64 << 20));
  cmd->add_option("--window", opt->window, "Sealed chunks in flight")->check(CLI::Range(1, 64));
  cmd->add_flag("--json", opt->json, "Machine-readable output");
  cmd->callback([opt] { set_exit_code(run(*opt)); });
});

}  // namespace
}  // namespace cpipe::cli

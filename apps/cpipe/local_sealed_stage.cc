// Local sealed stages: the cold-start boot config and `cpipe up --sealed`'s sealing
// (local_sealed_stage.h).
#include "apps/cpipe/local_sealed_stage.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/cpipe/local_pipeline.h"
#include "backends/posix/os_random.h"
#include "core/keys/sealed_model_format.h"
#include "model/gpt2_config.h"
#include "model/gpt2_stage_model.h"

namespace cpipe::cli {
namespace {

Result<Bytes> read_dev_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::IO_ERROR, "--dev-key: cannot open " + path);
  Bytes key(keys::kDataKeySize + 1);
  in.read(reinterpret_cast<char*>(key.data()), std::streamsize(key.size()));
  key.resize(size_t(in.gcount()));
  if (key.size() != keys::kDataKeySize)
    return make_error(ErrorCode::CRYPTO_BAD_KEY, "--dev-key " + path + " must hold exactly 32 raw bytes");
  return key;
}

// The header's model id and version, read before the cold start so the stage can name what it
// expects (the header is untrusted; chunk AADs bind it once the key is released).
Result<keys::SealedModelHeader> peek_header(const std::string& key) {
  std::ifstream in(key, std::ios::binary);
  if (!in) return make_error(ErrorCode::NOT_FOUND, "--sealed: cannot open " + key);
  Bytes head(64 * 1024);
  in.read(reinterpret_cast<char*>(head.data()), std::streamsize(head.size()));
  head.resize(size_t(in.gcount()));
  CPIPE_ASSIGN_OR_RETURN(uint32_t size, keys::peek_header_size(head));
  if (size > head.size()) {
    head.resize(size);
    in.clear();
    in.seekg(0);
    in.read(reinterpret_cast<char*>(head.data()), std::streamsize(size));
    if (size_t(in.gcount()) != size) return make_error(ErrorCode::KEYS_TRUNCATED, "--sealed: header cut short");
  }
  return keys::parse_header(head);
}

Status check_weight_hashes(const pipeline::Manifest& m, const pipeline::StageSpec& spec,
                           const std::vector<std::string>& loaded) {
  if (spec.weight_hashes.empty() && !m.require_weight_hashes) return Status::Ok();
  if (spec.weight_hashes != loaded)
    return make_error(ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH,
                      "stage " + std::to_string(spec.stage_idx) +
                          ": the sealed model's tensors do not hash to the manifest's weight_hashes");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<LocalSealedBoot>> make_local_sealed_boot(const LocalSealedStageOptions& o) {
  if (o.dev_key_path.empty())
    return make_error(ErrorCode::NOT_SUPPORTED,
                      "--sealed needs --dev-key FILE: local stages attest with mock-dev only, which no KMS key "
                      "policy admits, so KMS key release is not available here");
  if (o.stage_idx >= o.manifest.stages.size())
    return make_error(ErrorCode::INVALID_ARGUMENT, "stage index out of the manifest's range");
  auto boot = std::make_unique<LocalSealedBoot>();
  CPIPE_ASSIGN_OR_RETURN(keys::SealedModelHeader header, peek_header(o.sealed_path));
  CPIPE_ASSIGN_OR_RETURN(Bytes dev_key, read_dev_key(o.dev_key_path));

  keys::ColdStartConfig cs;
  cs.store = &boot->store;
  cs.object_key = o.sealed_path;
  boot->sealed_path = o.sealed_path;
  cs.model_id = o.model_id.empty() ? header.model_id : o.model_id;
  cs.model_version = o.model_version.empty() ? header.model_version : o.model_version;
  cs.dev_key = std::move(dev_key);
  boot->config.cold_start = std::move(cs);

  const pipeline::Manifest manifest = o.manifest;
  const pipeline::StageSpec spec = o.manifest.stages[o.stage_idx];
  const int threads = o.threads;
  auto wrap = o.wrap;
  boot->config.build_model = [manifest, spec, threads,
                              wrap](keys::ColdStartResult& r) -> Result<std::unique_ptr<pipeline::StageModel>> {
    keys::ModelFile* cfg = r.find("config.json");
    keys::ModelFile* weights = r.find("model.safetensors");
    if (!cfg || !weights)
      return make_error(ErrorCode::MODEL_BAD_FILE, "the sealed model lacks config.json or model.safetensors");
    // The manifest was parsed without a model; now the model is here, check its shape.
    const std::string config_text = to_string(cfg->data);
    CPIPE_ASSIGN_OR_RETURN(model::Gpt2Config config, model::parse_gpt2_config(config_text));
    pipeline::ValidateOptions vo;
    vo.model = pipeline::ModelShape{config.n_layer, config.n_embd, config.n_positions};
    CPIPE_RETURN_IF_ERROR(pipeline::load_manifest(manifest.to_json(), vo).status());
    model::Gpt2Options mo;
    mo.layer_begin = spec.layer_start;
    mo.layer_end = spec.layer_end;
    mo.threads = threads;
    // The decrypted buffer becomes the engine's file: moved, not copied.
    CPIPE_ASSIGN_OR_RETURN(auto m, model::Gpt2StageModel::from_memory(config_text, std::move(weights->data), mo));
    CPIPE_RETURN_IF_ERROR(check_weight_hashes(manifest, spec, m->weight_hashes()));
    std::unique_ptr<pipeline::StageModel> out = std::move(m);
    if (wrap) out = wrap(std::move(out));
    return out;
  };
  return boot;
}

std::string sealed_boot_json(const LocalSealedBoot& boot) {
  nlohmann::ordered_json j;
  j["sealed"] = boot.sealed_path;
  j["key_release"] = "DEVELOPMENT-ONLY dev key";
  if (boot.result.ok()) {
    j["ok"] = true;
    j["model_id"] = boot.result->model_id;
    j["model_version"] = boot.result->model_version;
    j["manifest_hash"] = hex_encode(boot.result->model_hash);
    j["stages"] = nlohmann::ordered_json::parse(boot.result->timings.to_json());
  } else {
    j["ok"] = false;
    j["code"] = int(boot.result.status().code());
    j["code_name"] = std::string(error_code_name(boot.result.status().code()));
    j["error"] = boot.result.status().to_string();
  }
  return j.dump();
}

Result<std::string> seal_model_dir_with_fresh_dev_key(const std::string& model_dir, const std::string& out_dir,
                                                      const std::string& model_id, const std::string& program) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return make_error(ErrorCode::IO_ERROR, "cannot create " + out_dir + ": " + ec.message());
  const std::string key_path = out_dir + "/dev.key";
  posix::OsRandom random;
  Bytes key = random.bytes(keys::kDataKeySize);
  int fd = ::open(key_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::IO_ERROR, "cannot create " + key_path);
  const bool wrote = ::write(fd, key.data(), key.size()) == ssize_t(key.size());
  ::close(fd);
  secure_zero(key);
  if (!wrote) return make_error(ErrorCode::IO_ERROR, "cannot write " + key_path);
  // The real `cpipe model seal` (the same code an operator runs), as a child process.
  CPIPE_ASSIGN_OR_RETURN(auto child, ChildProcess::spawn({program.empty() ? self_executable() : program, "model", "seal", "--in", model_dir,
                                                          "--out", out_dir, "--model-id", model_id, "--dev-key",
                                                          key_path, "--json"}));
  std::optional<int> code = child->wait(300000);
  if (!code) return make_error(ErrorCode::UNAVAILABLE, "cpipe model seal did not finish");
  if (*code != 0)
    return make_error(ErrorCode::INTERNAL, "cpipe model seal exited with " + std::to_string(*code));
  return out_dir + "/model.sealed";
}

}  // namespace cpipe::cli

// config.json parsing for GPT-2.
#include "model/gpt2_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace cpipe::model {
namespace {

Status bad(const std::string& why) { return make_error(ErrorCode::MODEL_BAD_CONFIG, "config.json: " + why); }

Status read_int(const nlohmann::json& j, const char* key, int64_t* out, bool required) {
  if (!j.contains(key) || j[key].is_null()) {
    if (required) return bad(std::string("missing \"") + key + "\"");
    return Status::Ok();
  }
  if (!j[key].is_number_integer()) return bad(std::string("\"") + key + "\" is not an integer");
  *out = j[key].get<int64_t>();
  return Status::Ok();
}

}  // namespace

Status Gpt2Config::validate() const {
  if (vocab_size <= 0 || n_positions <= 0 || n_embd <= 0 || n_layer <= 0 || n_head <= 0 || n_inner < 0)
    return bad("sizes must be positive");
  if (n_embd % n_head != 0) return bad("n_embd is not a multiple of n_head");
  if (!(layer_norm_epsilon > 0) || layer_norm_epsilon > 1) return bad("layer_norm_epsilon out of range");
  if (vocab_size > (int64_t(1) << 31) || n_positions > (1 << 20) || n_embd > (1 << 16) || n_layer > 4096)
    return bad("sizes exceed the supported limits");
  return Status::Ok();
}

std::string Gpt2Config::to_json() const {
  nlohmann::ordered_json j;
  j["activation_function"] = "gelu_new";
  j["architectures"] = {"GPT2LMHeadModel"};
  j["attn_pdrop"] = 0.1;
  j["bos_token_id"] = 50256;
  j["embd_pdrop"] = 0.1;
  j["eos_token_id"] = 50256;
  j["initializer_range"] = 0.02;
  j["layer_norm_epsilon"] = 1e-05;
  j["model_type"] = "gpt2";
  j["n_ctx"] = n_positions;
  j["n_embd"] = n_embd;
  j["n_head"] = n_head;
  j["n_inner"] = nullptr;
  j["n_layer"] = n_layer;
  j["n_positions"] = n_positions;
  j["reorder_and_upcast_attn"] = false;
  j["resid_pdrop"] = 0.1;
  j["scale_attn_by_inverse_layer_idx"] = false;
  j["scale_attn_weights"] = true;
  j["torch_dtype"] = "float32";
  j["use_cache"] = true;
  j["vocab_size"] = vocab_size;
  return j.dump(2) + "\n";
}

Result<Gpt2Config> parse_gpt2_config(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("not valid JSON");
  if (!j.is_object()) return bad("not a JSON object");
  if (j.contains("model_type") && j["model_type"] != "gpt2")
    return bad("model_type is not \"gpt2\"");
  Gpt2Config c;
  CPIPE_RETURN_IF_ERROR(read_int(j, "vocab_size", &c.vocab_size, true));
  CPIPE_RETURN_IF_ERROR(read_int(j, "n_embd", &c.n_embd, true));
  CPIPE_RETURN_IF_ERROR(read_int(j, "n_layer", &c.n_layer, true));
  CPIPE_RETURN_IF_ERROR(read_int(j, "n_head", &c.n_head, true));
  CPIPE_RETURN_IF_ERROR(read_int(j, "n_positions", &c.n_positions, true));
  CPIPE_RETURN_IF_ERROR(read_int(j, "n_inner", &c.n_inner, false));
  if (j.contains("layer_norm_epsilon")) {
    if (!j["layer_norm_epsilon"].is_number()) return bad("\"layer_norm_epsilon\" is not a number");
    c.layer_norm_epsilon = j["layer_norm_epsilon"].get<float>();
  }
  if (j.contains("activation_function") && j["activation_function"] != "gelu_new")
    return bad("activation_function must be \"gelu_new\" (GPT-2's tanh GELU)");
  for (const char* flag : {"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"}) {
    if (j.contains(flag) && j[flag].is_boolean() && j[flag].get<bool>())
      return bad(std::string(flag) + " is not supported");
  }
  if (j.contains("scale_attn_weights") && j["scale_attn_weights"].is_boolean() &&
      !j["scale_attn_weights"].get<bool>())
    return bad("scale_attn_weights=false is not supported");
  CPIPE_RETURN_IF_ERROR(c.validate());
  return c;
}

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(errno == ENOENT ? ErrorCode::NOT_FOUND : ErrorCode::IO_ERROR,
                             "cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::IO_ERROR, "read failed for " + path);
  return ss.str();
}

Result<Gpt2Config> load_gpt2_config(const std::string& path) {
  CPIPE_ASSIGN_OR_RETURN(std::string text, read_text_file(path));
  auto r = parse_gpt2_config(text);
  if (!r.ok()) return r.status().with_context(path);
  return r;
}

}  // namespace cpipe::model

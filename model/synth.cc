// Deterministic GPT-2 weight synthesis.
#include "model/synth.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "model/safetensors.h"

namespace cpipe::model {

double SplitMix64::normal() {
  const uint64_t r = next();
  const int64_t s = int64_t(r & 0xffff) + int64_t((r >> 16) & 0xffff) + int64_t((r >> 32) & 0xffff) +
                    int64_t(r >> 48);
  // Variance of one uniform on {0..65535} is (65536^2 - 1) / 12; four of them: / 3.
  static const double inv_sd = 1.0 / std::sqrt((65536.0 * 65536.0 - 1.0) / 3.0);
  return double(s - 2 * 65535) * inv_sd;
}

Result<Gpt2Config> gpt2_preset(std::string_view name) {
  Gpt2Config c;
  if (name == "124M") {
    return c;  // the defaults are GPT-2 small
  }
  if (name == "tiny") {
    c.n_positions = 256;
    c.n_embd = 64;
    c.n_layer = 4;
    c.n_head = 4;
    return c;
  }
  return make_error(ErrorCode::INVALID_ARGUMENT, "unknown preset \"" + std::string(name) + "\" (124M or tiny)");
}

namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// Each tensor has its own stream (seed mixed with its name), so values do not depend on which
// other tensors exist. mean + sd * z, rounded once to float.
Tensor make(const std::string& name, std::vector<int64_t> shape, uint64_t seed, double mean, double sd) {
  Tensor t{name, std::move(shape), {}};
  int64_t n = 1;
  for (int64_t s : t.shape) n *= s;
  t.values.resize(size_t(n));
  SplitMix64 g(seed ^ fnv1a(name));
  for (auto& v : t.values) v = float(mean + sd * g.normal());
  return t;
}

}  // namespace

Status synthesize_gpt2(const Gpt2Config& c, uint64_t seed, const std::string& dir) {
  CPIPE_RETURN_IF_ERROR(c.validate());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::IO_ERROR, "cannot create " + dir + ": " + ec.message());
  const int64_t C = c.n_embd, I = c.inner();
  const double proj_sd = 0.02 / std::sqrt(2.0 * double(c.n_layer));  // HF's scaled c_proj init
  std::vector<Tensor> ts;
  const std::string p = "transformer.";
  ts.push_back(make(p + "wte.weight", {c.vocab_size, C}, seed, 0, 0.02));
  ts.push_back(make(p + "wpe.weight", {c.n_positions, C}, seed, 0, 0.01));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string h = p + "h." + std::to_string(l) + ".";
    // Layer norms and biases are random too (HF starts them at 1 and 0), so a test exercises
    // every parameter.
    ts.push_back(make(h + "ln_1.weight", {C}, seed, 1.0, 0.1));
    ts.push_back(make(h + "ln_1.bias", {C}, seed, 0, 0.05));
    ts.push_back(make(h + "attn.c_attn.weight", {C, 3 * C}, seed, 0, 0.02));
    ts.push_back(make(h + "attn.c_attn.bias", {3 * C}, seed, 0, 0.02));
    ts.push_back(make(h + "attn.c_proj.weight", {C, C}, seed, 0, proj_sd));
    ts.push_back(make(h + "attn.c_proj.bias", {C}, seed, 0, 0.02));
    ts.push_back(make(h + "ln_2.weight", {C}, seed, 1.0, 0.1));
    ts.push_back(make(h + "ln_2.bias", {C}, seed, 0, 0.05));
    ts.push_back(make(h + "mlp.c_fc.weight", {C, I}, seed, 0, 0.02));
    ts.push_back(make(h + "mlp.c_fc.bias", {I}, seed, 0, 0.02));
    ts.push_back(make(h + "mlp.c_proj.weight", {I, C}, seed, 0, proj_sd));
    ts.push_back(make(h + "mlp.c_proj.bias", {C}, seed, 0, 0.02));
  }
  ts.push_back(make(p + "ln_f.weight", {C}, seed, 1.0, 0.1));
  ts.push_back(make(p + "ln_f.bias", {C}, seed, 0, 0.05));

  std::vector<TensorToWrite> out;
  for (const auto& t : ts)
    out.push_back({t.name, DType::F32, t.shape,
                   std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(t.values.data()),
                                            t.values.size() * sizeof(float))});
  CPIPE_RETURN_IF_ERROR(write_safetensors(dir + "/model.safetensors", std::move(out), {{"format", "pt"}}));
  std::ofstream cfg(dir + "/config.json", std::ios::binary | std::ios::trunc);
  cfg << c.to_json();
  cfg.close();
  if (!cfg) return make_error(ErrorCode::IO_ERROR, "cannot write " + dir + "/config.json");
  return Status::Ok();
}

}  // namespace cpipe::model

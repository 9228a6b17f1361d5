// Weight hashes (docs/manifest.md, "weight_hashes"): the framed SHA-256 per tensor, checked
// against values computed independently (Python hashlib over the documented layout) on the real
// tiny-gpt2 safetensors file, and the stage check that enforces a manifest's list.
#include "core/pipeline/manifest_weights.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/crypto/hash.h"

namespace cpipe::pipeline {
namespace {

using json = nlohmann::json;

// A minimal safetensors reader (8-byte LE header size, JSON header, data), so that this test does
// not depend on the model library whose loader it would otherwise trust.
struct TinyGpt2 {
  Bytes file;
  std::vector<WeightTensor> tensors;  // data points into `file`
};

const TinyGpt2& tiny_gpt2() {
  static const TinyGpt2 model = [] {
    TinyGpt2 m;
    std::ifstream in(CPIPE_SHARED_DATA "/tiny-gpt2/model.safetensors", std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    m.file = to_bytes(s.str());
    uint64_t header_size = load_u64_le(m.file.data());
    json header = json::parse(std::string(m.file.begin() + 8, m.file.begin() + 8 + header_size));
    const uint8_t* base = m.file.data() + 8 + header_size;
    for (const auto& [name, t] : header.items()) {
      if (name == "__metadata__") continue;
      uint64_t begin = t["data_offsets"][0], end = t["data_offsets"][1];
      m.tensors.push_back({name, t["dtype"].get<std::string>(), t["shape"].get<std::vector<uint64_t>>(),
                           ByteSpan(base + begin, end - begin)});
    }
    return m;
  }();
  return model;
}

const WeightTensor& find(const std::string& name) {
  for (const WeightTensor& t : tiny_gpt2().tensors) {
    if (t.name == name) return t;
  }
  ADD_FAILURE() << name;
  return tiny_gpt2().tensors.front();
}

// Stage 0 of a 2-stage split of tiny-gpt2: embeddings and block 0.
std::vector<WeightTensor> stage0_tensors() {
  std::vector<WeightTensor> out;
  for (const WeightTensor& t : tiny_gpt2().tensors) {
    if (t.name.starts_with("transformer.h.0.") || t.name == "transformer.wte.weight" ||
        t.name == "transformer.wpe.weight")
      out.push_back(t);
  }
  return out;
}

TEST(WeightHash, MatchesIndependentComputationOnRealTensors) {
  ASSERT_EQ(tiny_gpt2().tensors.size(), 28u);
  EXPECT_EQ(weight_tensor_hash(find("transformer.wpe.weight")),
            "eb28212f1f2709d91eab3c17128c025184f83a6a184a250dfbf64bbe6ff466a4");
  EXPECT_EQ(weight_tensor_hash(find("transformer.h.0.ln_1.weight")),
            "ea2dad50da4f83959c604e7a121320b0d224e280be86abfab4c8e98c3106deee");
}

TEST(WeightHash, BindsNameDtypeShapeAndBytes) {
  const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  WeightTensor base{"w", "F32", {2}, ByteSpan(data, 8)};
  std::string h = weight_tensor_hash(base);
  EXPECT_EQ(h.size(), 64u);
  WeightTensor renamed = base;
  renamed.name = "v";
  WeightTensor retyped = base;
  retyped.dtype = "I32";
  WeightTensor reshaped = base;
  reshaped.shape = {1, 2};
  const uint8_t other[8] = {1, 2, 3, 4, 5, 6, 7, 9};
  WeightTensor changed = base;
  changed.data = ByteSpan(other, 8);
  for (const WeightTensor* t : {&renamed, &retyped, &reshaped, &changed})
    EXPECT_NE(weight_tensor_hash(*t), h);
  // The raw SHA-256 of the bytes alone is not the scheme.
  EXPECT_NE(h, hex_encode(crypto::sha256(ByteSpan(data, 8))));
}

TEST(WeightHash, StageListIsOrderedByTensorName) {
  std::vector<WeightTensor> tensors = stage0_tensors();
  std::vector<std::string> forward = stage_weight_hashes(tensors);
  std::reverse(tensors.begin(), tensors.end());
  EXPECT_EQ(stage_weight_hashes(tensors), forward);
  ASSERT_EQ(forward.size(), 14u);
  // "transformer.h.0.attn.c_attn.bias" sorts first, "transformer.wte.weight" last.
  EXPECT_EQ(forward.front(), weight_tensor_hash(find("transformer.h.0.attn.c_attn.bias")));
  EXPECT_EQ(forward.back(), weight_tensor_hash(find("transformer.wte.weight")));
}

TEST(WeightHash, ManifestPinsAndStageCheckEnforces) {
  std::vector<WeightTensor> tensors = stage0_tensors();
  json j = json::parse(R"({"model_name":"tiny-gpt2","model_version":"1","total_layers":2,
    "require_weight_hashes":true,
    "stages":[
     {"stage_idx":0,"layer_start":0,"layer_end":1,"expected_measurements":{},
      "endpoint":{"control":{"type":"tcp","addr":"127.0.0.1:9000"},
                  "data_in":{"type":"tcp","addr":"127.0.0.1:9001"},
                  "data_out":{"type":"tcp","addr":"127.0.0.1:9011"}}},
     {"stage_idx":1,"layer_start":1,"layer_end":2,"weight_hashes":[],"expected_measurements":{},
      "endpoint":{"control":{"type":"tcp","addr":"127.0.0.1:9010"},
                  "data_in":{"type":"tcp","addr":"127.0.0.1:9011"},
                  "data_out":{"type":"tcp","addr":"127.0.0.1:9021"}}}],
    "activation_spec":{"dtype":"F32","hidden_dim":2,"max_seq_len":1024}})");
  j["stages"][0]["weight_hashes"] = stage_weight_hashes(tensors);
  j["stages"][1]["weight_hashes"] = {std::string(64, '0')};
  ValidateOptions options;
  options.model = ModelShape{2, 2, 1024};  // tiny-gpt2/config.json
  auto m = load_manifest(j.dump(), options);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  const StageSpec& stage = m->stages[0];
  EXPECT_TRUE(check_stage_weights(stage, true, tensors).ok());

  Bytes tampered(tensors[3].data.begin(), tensors[3].data.end());
  tampered[0] ^= 1;
  std::vector<WeightTensor> bad = tensors;
  bad[3].data = tampered;
  Status s = check_stage_weights(stage, true, bad);
  EXPECT_EQ(s.code(), ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH);
  EXPECT_NE(s.message().find("'" + tensors[3].name + "'"), std::string::npos) << s.message();

  std::vector<WeightTensor> fewer(tensors.begin(), tensors.end() - 1);
  EXPECT_EQ(check_stage_weights(stage, true, fewer).code(), ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH);

  StageSpec unpinned = stage;
  unpinned.weight_hashes.clear();
  EXPECT_TRUE(check_stage_weights(unpinned, false, bad).ok());
  EXPECT_EQ(check_stage_weights(unpinned, true, tensors).code(),
            ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH);
}

}  // namespace
}  // namespace cpipe::pipeline

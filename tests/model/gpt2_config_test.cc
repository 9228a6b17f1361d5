// config.json parsing: the real HF file, the round trip of what synth writes, and rejections.
#include "model/gpt2_config.h"

#include <gtest/gtest.h>

#include "tests/model/test_util.h"

namespace cpipe::model {
namespace {

TEST(Gpt2ConfigTest, ParsesRealHfConfig) {
  auto r = load_gpt2_config(testing::tiny_gpt2_dir() + "/config.json");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->n_embd, 2);
  EXPECT_EQ(r->n_layer, 2);
  EXPECT_EQ(r->n_head, 2);
  EXPECT_EQ(r->n_positions, 1024);
  EXPECT_EQ(r->vocab_size, 50257);
  EXPECT_FLOAT_EQ(r->layer_norm_epsilon, 1e-5f);
  EXPECT_EQ(r->inner(), 8);  // n_inner: null
}

TEST(Gpt2ConfigTest, WrittenConfigParsesBack) {
  Gpt2Config c;
  c.n_embd = 96;
  c.n_head = 3;
  c.n_layer = 5;
  c.n_positions = 77;
  c.vocab_size = 1000;
  auto r = parse_gpt2_config(c.to_json());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->n_embd, 96);
  EXPECT_EQ(r->n_head, 3);
  EXPECT_EQ(r->n_layer, 5);
  EXPECT_EQ(r->n_positions, 77);
  EXPECT_EQ(r->vocab_size, 1000);
}

TEST(Gpt2ConfigTest, RejectsBadConfigs) {
  const char* bad[] = {
      "not json",
      "[]",
      R"({"n_embd":768,"n_layer":12,"n_head":12,"n_positions":1024})",                     // no vocab
      R"({"vocab_size":10,"n_embd":10,"n_layer":1,"n_head":3,"n_positions":8})",          // 10 % 3
      R"({"vocab_size":10,"n_embd":8,"n_layer":0,"n_head":2,"n_positions":8})",           // 0 layers
      R"({"vocab_size":10,"n_embd":"8","n_layer":1,"n_head":2,"n_positions":8})",         // string
      R"({"vocab_size":10,"n_embd":8,"n_layer":1,"n_head":2,"n_positions":8,"model_type":"bert"})",
      R"({"vocab_size":10,"n_embd":8,"n_layer":1,"n_head":2,"n_positions":8,"activation_function":"relu"})",
      R"({"vocab_size":10,"n_embd":8,"n_layer":1,"n_head":2,"n_positions":8,"scale_attn_by_inverse_layer_idx":true})",
  };
  for (const char* text : bad) EXPECT_EQ(parse_gpt2_config(text).code(), ErrorCode::MODEL_BAD_CONFIG) << text;
}

TEST(Gpt2ConfigTest, MissingFileIsNotFound) {
  EXPECT_EQ(load_gpt2_config("/nonexistent/config.json").code(), ErrorCode::NOT_FOUND);
}

}  // namespace
}  // namespace cpipe::model

// Pipeline manifest: the Rust pipeline's own files load and validate unchanged; every validation
// rule, broken one at a time on those files, gives its own error code and the exact JSON path;
// the canonical printer round-trips.
#include "core/pipeline/manifest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

namespace cpipe::pipeline {
namespace {

using json = nlohmann::json;
using runtime::Endpoint;

const std::string kTcpFile = CPIPE_SHARED_DATA "/manifests/manifest_2stage.json";
const std::string kVsockFile = CPIPE_SHARED_DATA "/manifests/manifest_2stage_vsock.json";
const ModelShape kGpt2Small{12, 768, 1024};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ManifestSharedFiles, TcpFileLoadsWithEveryField) {
  ManifestError err;
  auto m = load_manifest(read_file(kTcpFile), {kGpt2Small}, &err);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->model_name, "gpt2");
  EXPECT_EQ(m->model_version, "1.0");
  EXPECT_EQ(m->total_layers, 12u);
  ASSERT_EQ(m->stages.size(), 2u);
  EXPECT_EQ(m->stages[0].layer_start, 0u);
  EXPECT_EQ(m->stages[0].layer_end, 6u);
  EXPECT_EQ(m->stages[1].stage_idx, 1u);
  EXPECT_EQ(m->stages[1].layer_start, 6u);
  EXPECT_EQ(m->stages[1].layer_end, 12u);
  EXPECT_TRUE(m->stages[0].weight_hashes.empty());
  EXPECT_TRUE(m->stages[1].expected_measurements.empty());
  EXPECT_EQ(m->stages[0].endpoint.control, Endpoint::tcp("127.0.0.1", 9000));
  EXPECT_EQ(m->stages[0].endpoint.data_out, m->stages[1].endpoint.data_in);
  EXPECT_EQ(m->stages[1].endpoint.data_in, Endpoint::tcp("127.0.0.1", 9011));
  EXPECT_EQ(m->result_endpoint(), Endpoint::tcp("127.0.0.1", 9021));
  EXPECT_EQ(m->activation_spec.dtype, codec::DType::F32);
  EXPECT_EQ(m->activation_spec.hidden_dim, 768u);
  EXPECT_EQ(m->activation_spec.max_seq_len, 1024u);
  EXPECT_FALSE(m->uses_vsock());
  EXPECT_TRUE(m->warnings.empty());
  // Extension defaults apply when the file has none.
  EXPECT_FALSE(m->require_weight_hashes);
  EXPECT_FALSE(m->platform.has_value());
  EXPECT_EQ(m->session_limit, 100u);
}

TEST(ManifestSharedFiles, VsockFileLoadsWithSamePortsInTwoEnclaves) {
  auto m = load_manifest(read_file(kVsockFile), {kGpt2Small});
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_TRUE(m->uses_vsock());
  EXPECT_EQ(m->stages[0].endpoint.control, Endpoint::vsock(0, 5000));
  EXPECT_EQ(m->stages[1].endpoint.control, Endpoint::vsock(0, 5000));
  EXPECT_EQ(m->stages[1].endpoint.data_in, Endpoint::vsock(0, 5001));
  EXPECT_EQ(m->stages[0].endpoint.data_out, Endpoint::vsock(3, 6001));
  EXPECT_EQ(m->result_endpoint(), Endpoint::vsock(3, 5002));
}

TEST(ManifestSharedFiles, RoundTripGivesTheSameJsonValue) {
  for (const std::string& file : {kTcpFile, kVsockFile}) {
    std::string text = read_file(file);
    auto m = load_manifest(text);
    ASSERT_TRUE(m.ok()) << file;
    EXPECT_EQ(json::parse(m->to_json()), json::parse(text)) << file;
  }
}

TEST(ManifestExtensions, ParseAndRoundTrip) {
  json j = json::parse(read_file(kTcpFile));
  const std::string h0(64, 'a'), h1 = std::string(63, '0') + "F";
  j["stages"][0]["weight_hashes"] = {h0};
  j["stages"][1]["weight_hashes"] = {h1};
  j["stages"][1]["expected_measurements"] = {{"PCR0", std::string(96, 'B')}};
  j["require_weight_hashes"] = true;
  j["platform"] = "sev-snp";
  j["attestation"] = {{"allow_debug", true}, {"max_evidence_age_ms", 60000}};
  j["session_limit"] = 8;
  j["orchestrator"] = {{"data_in", {{"type", "tcp"}, {"addr", "127.0.0.1:9021"}}}};
  auto m = load_manifest(j.dump());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_TRUE(m->require_weight_hashes);
  EXPECT_EQ(m->platform, Platform::kSevSnp);
  ASSERT_TRUE(m->attestation.has_value());
  EXPECT_TRUE(m->attestation->allow_debug);
  EXPECT_EQ(m->attestation->max_evidence_age_ms, 60000u);
  EXPECT_EQ(m->session_limit, 8u);
  EXPECT_EQ(m->stages[1].weight_hashes[0], std::string(63, '0') + "f");  // normalized to lowercase
  EXPECT_EQ(m->stages[1].expected_measurements.at("PCR0"), std::string(96, 'b'));
  auto again = load_manifest(m->to_json());
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->to_json(), m->to_json());
  EXPECT_EQ(again->orchestrator_data_in, Endpoint::tcp("127.0.0.1", 9021));
}

TEST(ManifestExtensions, NitroOrchestratorListensBesideTheRelay) {
  json j = json::parse(read_file(kVsockFile));
  j["platform"] = "nitro";
  j["orchestrator"] = {{"data_in", {{"type", "tcp"}, {"addr", "127.0.0.1:7000"}}}};
  auto m = load_manifest(j.dump(), {kGpt2Small});
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->platform, Platform::kNitro);
  EXPECT_EQ(m->result_endpoint(), Endpoint::tcp("127.0.0.1", 7000));
  EXPECT_EQ(json::parse(m->to_json()), j);
}

TEST(ManifestExtensions, Ipv6AddressesRoundTripBracketed) {
  json j = json::parse(read_file(kTcpFile));
  j["stages"][0]["endpoint"]["control"]["addr"] = "[::1]:9000";
  auto m = load_manifest(j.dump());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->stages[0].endpoint.control, Endpoint::tcp("::1", 9000));
  EXPECT_EQ(json::parse(m->to_json())["stages"][0]["endpoint"]["control"]["addr"], "[::1]:9000");
}

TEST(ManifestWarnings, UnknownKeysAreToleratedAndReportedWithTheirPath) {
  json j = json::parse(read_file(kTcpFile));
  j["pipeline_id"] = "x";
  j["stages"][1]["gpu"] = false;
  j["stages"][0]["endpoint"]["control"]["tls"] = true;
  auto m = load_manifest(j.dump());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  ASSERT_EQ(m->warnings.size(), 3u);
  std::vector<std::string> paths;
  for (const auto& w : m->warnings) paths.push_back(w.json_path);
  EXPECT_NE(std::find(paths.begin(), paths.end(), "$.pipeline_id"), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "$.stages[1].gpu"), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "$.stages[0].endpoint.control.tls"), paths.end());
}

TEST(ManifestErrors, TextThatIsNotJsonIsAParseErrorAtTheRoot) {
  ManifestError err;
  auto m = load_manifest("{\"model_name\": ", {}, &err);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(err.code, ErrorCode::PARSE_ERROR);
  EXPECT_EQ(err.json_path, "$");
}

TEST(ManifestErrors, RepeatedKeysAreRejectedWithTheirPath) {
  const std::string text = read_file(kTcpFile);
  struct Case {
    std::string from, to, path;
  } cases[] = {
      {"\"model_name\": \"gpt2\",", "\"model_name\": \"gpt2\", \"model_name\": \"gpt3\",",
       "$.model_name"},
      // Stage 1's data_in, after arrays and objects that must not shift the index.
      {"\"data_in\": { \"type\": \"tcp\", \"addr\": \"127.0.0.1:9011\" },",
       "\"data_in\": { \"type\": \"tcp\", \"addr\": \"127.0.0.1:9011\", \"addr\": \"10.0.0.1:1\" },",
       "$.stages[1].endpoint.data_in.addr"},
  };
  for (const Case& c : cases) {
    std::string mutated = text;
    size_t at = mutated.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    mutated.replace(at, c.from.size(), c.to);
    ManifestError err;
    auto m = load_manifest(mutated, {}, &err);
    ASSERT_FALSE(m.ok()) << c.path;
    EXPECT_EQ(err.code, ErrorCode::PIPELINE_BAD_MANIFEST);
    EXPECT_EQ(err.json_path, c.path);
  }
}

TEST(ManifestErrors, DeepNestingIsRejectedCheaply) {
  const size_t depth = 200000;
  std::string text = "{\"model_name\": " + std::string(depth, '[') + std::string(depth, ']') + "}";
  ManifestError err;
  auto m = load_manifest(text, {}, &err);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(err.code, ErrorCode::PIPELINE_BAD_MANIFEST);
  EXPECT_EQ(err.json_path, "$");
}

TEST(ManifestErrors, StatusCarriesCodeAndPath) {
  json j = json::parse(read_file(kTcpFile));
  j["stages"][1]["layer_start"] = 7;
  ManifestError err;
  auto m = load_manifest(j.dump(), {}, &err);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.code(), ErrorCode::PIPELINE_LAYER_GAP);
  EXPECT_EQ(m.status().message(), "layers [6, 7) belong to no stage at $.stages[1].layer_start");
  EXPECT_EQ(m.status(), err.status());
}

// One rule broken at a time, on the shared files.
struct Mutation {
  const char* name;
  bool vsock;  // base file
  std::function<void(json&)> mutate;
  ErrorCode code;
  std::string path;
  std::optional<ModelShape> model = std::nullopt;
};

json tcp_ep(const std::string& addr) { return {{"type", "tcp"}, {"addr", addr}}; }
json& st(json& j, int i) { return j["stages"][i]; }
json& ep(json& j, int i, const char* role) { return j["stages"][i]["endpoint"][role]; }

const std::vector<Mutation>& mutations() {
  using E = ErrorCode;
  static const std::vector<Mutation> table = {
      {"missing model_name", false, [](json& j) { j.erase("model_name"); }, E::PIPELINE_BAD_MANIFEST, "$.model_name"},
      {"model_name not a string", false, [](json& j) { j["model_name"] = 5; }, E::PIPELINE_BAD_MANIFEST, "$.model_name"},
      {"empty model_version", false, [](json& j) { j["model_version"] = ""; }, E::PIPELINE_BAD_MANIFEST, "$.model_version"},
      {"total_layers a string", false, [](json& j) { j["total_layers"] = "12"; }, E::PIPELINE_BAD_MANIFEST, "$.total_layers"},
      {"total_layers a float", false, [](json& j) { j["total_layers"] = 12.0; }, E::PIPELINE_BAD_MANIFEST, "$.total_layers"},
      {"total_layers negative", false, [](json& j) { j["total_layers"] = -1; }, E::PIPELINE_BAD_MANIFEST, "$.total_layers"},
      {"root is an array", false, [](json& j) { j = json::array(); }, E::PIPELINE_BAD_MANIFEST, "$"},
      {"stages an object", false, [](json& j) { j["stages"] = json::object(); }, E::PIPELINE_BAD_MANIFEST, "$.stages"},
      {"stages empty", false, [](json& j) { j["stages"] = json::array(); }, E::PIPELINE_BAD_MANIFEST, "$.stages"},
      {"stage not an object", false, [](json& j) { st(j, 1) = 1; }, E::PIPELINE_BAD_MANIFEST, "$.stages[1]"},
      {"missing layer_end", false, [](json& j) { st(j, 1).erase("layer_end"); }, E::PIPELINE_BAD_MANIFEST, "$.stages[1].layer_end"},
      {"stage_idx out of order", false, [](json& j) { st(j, 0)["stage_idx"] = 1; }, E::PIPELINE_BAD_MANIFEST, "$.stages[0].stage_idx"},
      {"stage_idx skips", false, [](json& j) { st(j, 1)["stage_idx"] = 2; }, E::PIPELINE_BAD_MANIFEST, "$.stages[1].stage_idx"},
      {"gap between stages", false, [](json& j) { st(j, 1)["layer_start"] = 7; }, E::PIPELINE_LAYER_GAP, "$.stages[1].layer_start"},
      {"gap at the start", false, [](json& j) { st(j, 0)["layer_start"] = 1; }, E::PIPELINE_LAYER_GAP, "$.stages[0].layer_start"},
      {"gap at the end", false, [](json& j) { st(j, 1)["layer_end"] = 11; }, E::PIPELINE_LAYER_GAP, "$.stages[1].layer_end"},
      {"overlap", false, [](json& j) { st(j, 1)["layer_start"] = 5; }, E::PIPELINE_LAYER_OVERLAP, "$.stages[1].layer_start"},
      {"overlap by a long first stage", false, [](json& j) { st(j, 0)["layer_end"] = 7; }, E::PIPELINE_LAYER_OVERLAP, "$.stages[1].layer_start"},
      {"range past total_layers", false, [](json& j) { st(j, 1)["layer_end"] = 13; }, E::PIPELINE_LAYER_RANGE, "$.stages[1].layer_end"},
      {"start at total_layers", false, [](json& j) { j["total_layers"] = 6; }, E::PIPELINE_LAYER_RANGE, "$.stages[1].layer_start"},
      {"empty range", false, [](json& j) { st(j, 0)["layer_end"] = 0; }, E::PIPELINE_LAYER_RANGE, "$.stages[0].layer_end"},
      {"negative layer_start", false, [](json& j) { st(j, 0)["layer_start"] = -1; }, E::PIPELINE_LAYER_RANGE, "$.stages[0].layer_start"},
      {"unknown endpoint type", false, [](json& j) { ep(j, 0, "control")["type"] = "udp"; }, E::PIPELINE_BAD_ENDPOINT, "$.stages[0].endpoint.control.type"},
      {"endpoint a string", false, [](json& j) { ep(j, 0, "control") = "127.0.0.1:9000"; }, E::PIPELINE_BAD_ENDPOINT, "$.stages[0].endpoint.control"},
      {"missing data_out", false, [](json& j) { st(j, 0)["endpoint"].erase("data_out"); }, E::PIPELINE_BAD_MANIFEST, "$.stages[0].endpoint.data_out"},
      {"addr without port", false, [](json& j) { ep(j, 1, "control")["addr"] = "127.0.0.1"; }, E::PIPELINE_BAD_ENDPOINT, "$.stages[1].endpoint.control.addr"},
      {"port above 65535", false, [](json& j) { ep(j, 1, "control")["addr"] = "127.0.0.1:70000"; }, E::PIPELINE_BAD_ENDPOINT, "$.stages[1].endpoint.control.addr"},
      {"port 0", false, [](json& j) { ep(j, 1, "control")["addr"] = "127.0.0.1:0"; }, E::PIPELINE_BAD_ENDPOINT, "$.stages[1].endpoint.control.addr"},
      {"unbracketed IPv6", false, [](json& j) { ep(j, 1, "control")["addr"] = "::1:9010"; }, E::PIPELINE_BAD_ENDPOINT, "$.stages[1].endpoint.control.addr"},
      {"host with a space", false, [](json& j) { ep(j, 1, "control")["addr"] = "a b:9010"; }, E::PIPELINE_BAD_ENDPOINT, "$.stages[1].endpoint.control.addr"},
      {"missing addr", false, [](json& j) { ep(j, 1, "control").erase("addr"); }, E::PIPELINE_BAD_MANIFEST, "$.stages[1].endpoint.control.addr"},
      {"mixed transports", false, [](json& j) { ep(j, 1, "data_in") = {{"type", "vsock"}, {"cid", 4}, {"port", 9011}}; }, E::PIPELINE_BAD_ENDPOINT, "$.stages[1].endpoint.data_in.type"},
      {"data_out to the wildcard", false, [](json& j) { ep(j, 1, "data_out") = tcp_ep("0.0.0.0:9021"); }, E::PIPELINE_BAD_ENDPOINT, "$.stages[1].endpoint.data_out.addr"},
      {"two stages bind one control port", false, [](json& j) { ep(j, 1, "control") = tcp_ep("127.0.0.1:9000"); }, E::PIPELINE_DUPLICATE_LISTENER, "$.stages[1].endpoint.control"},
      {"wildcard collides with a specific bind", false, [](json& j) { ep(j, 1, "control") = tcp_ep("0.0.0.0:9001"); }, E::PIPELINE_DUPLICATE_LISTENER, "$.stages[1].endpoint.control"},
      {"control and data_in on one port", false, [](json& j) { ep(j, 0, "data_in") = tcp_ep("127.0.0.1:9000"); }, E::PIPELINE_DUPLICATE_LISTENER, "$.stages[0].endpoint.data_in"},
      {"orchestrator listens on a stage port", false, [](json& j) { ep(j, 1, "data_out") = tcp_ep("127.0.0.1:9010"); }, E::PIPELINE_DUPLICATE_LISTENER, "$.stages[1].endpoint.data_out"},
      {"data_out misses next data_in", false, [](json& j) { ep(j, 0, "data_out") = tcp_ep("127.0.0.1:9012"); }, E::PIPELINE_CHAIN_BROKEN, "$.stages[0].endpoint.data_out.addr"},
      {"orchestrator not the last data_out", false, [](json& j) { j["orchestrator"] = {{"data_in", tcp_ep("127.0.0.1:9099")}}; }, E::PIPELINE_CHAIN_BROKEN, "$.stages[1].endpoint.data_out.addr"},
      {"dtype unknown", false, [](json& j) { j["activation_spec"]["dtype"] = "F64"; }, E::PIPELINE_BAD_MANIFEST, "$.activation_spec.dtype"},
      {"dtype not float", false, [](json& j) { j["activation_spec"]["dtype"] = "I32"; }, E::PIPELINE_BAD_MANIFEST, "$.activation_spec.dtype"},
      {"dtype lowercase", false, [](json& j) { j["activation_spec"]["dtype"] = "f32"; }, E::PIPELINE_BAD_MANIFEST, "$.activation_spec.dtype"},
      {"hidden_dim zero", false, [](json& j) { j["activation_spec"]["hidden_dim"] = 0; }, E::PIPELINE_BAD_MANIFEST, "$.activation_spec.hidden_dim"},
      {"missing activation_spec", false, [](json& j) { j.erase("activation_spec"); }, E::PIPELINE_BAD_MANIFEST, "$.activation_spec"},
      {"weight hash too short", false, [](json& j) { st(j, 0)["weight_hashes"] = {"abc"}; }, E::PIPELINE_BAD_MANIFEST, "$.stages[0].weight_hashes[0]"},
      {"weight hash not hex", false, [](json& j) { st(j, 1)["weight_hashes"] = {std::string(64, 'a'), std::string(64, 'g')}; }, E::PIPELINE_BAD_MANIFEST, "$.stages[1].weight_hashes[1]"},
      {"weight_hashes not an array", false, [](json& j) { st(j, 0)["weight_hashes"] = "x"; }, E::PIPELINE_BAD_MANIFEST, "$.stages[0].weight_hashes"},
      {"measurement not hex", false, [](json& j) { st(j, 1)["expected_measurements"] = {{"PCR0", "xyz0"}}; }, E::PIPELINE_BAD_MANIFEST, "$.stages[1].expected_measurements.PCR0"},
      {"measurement odd length", false, [](json& j) { st(j, 1)["expected_measurements"] = {{"PCR0", "abc"}}; }, E::PIPELINE_BAD_MANIFEST, "$.stages[1].expected_measurements.PCR0"},
      {"measurement not a string", false, [](json& j) { st(j, 1)["expected_measurements"] = {{"PCR8", 1}}; }, E::PIPELINE_BAD_MANIFEST, "$.stages[1].expected_measurements.PCR8"},
      {"measurements an array", false, [](json& j) { st(j, 0)["expected_measurements"] = json::array(); }, E::PIPELINE_BAD_MANIFEST, "$.stages[0].expected_measurements"},
      {"n_layer differs", false, [](json&) {}, E::PIPELINE_MODEL_MISMATCH, "$.total_layers", ModelShape{24, 768, 1024}},
      {"n_embd differs", false, [](json&) {}, E::PIPELINE_MODEL_MISMATCH, "$.activation_spec.hidden_dim", ModelShape{12, 1024, 1024}},
      {"context too long for the model", false, [](json&) {}, E::PIPELINE_MODEL_MISMATCH, "$.activation_spec.max_seq_len", ModelShape{12, 768, 512}},
      {"unknown platform", false, [](json& j) { j["platform"] = "sgx"; }, E::PIPELINE_BAD_MANIFEST, "$.platform"},
      {"nitro over tcp", false, [](json& j) { j["platform"] = "nitro"; }, E::PIPELINE_BAD_MANIFEST, "$.platform"},
      {"required weight hashes missing", false, [](json& j) { j["require_weight_hashes"] = true; }, E::PIPELINE_BAD_MANIFEST, "$.stages[0].weight_hashes"},
      {"require_weight_hashes not bool", false, [](json& j) { j["require_weight_hashes"] = "yes"; }, E::PIPELINE_BAD_MANIFEST, "$.require_weight_hashes"},
      {"session_limit zero", false, [](json& j) { j["session_limit"] = 0; }, E::PIPELINE_BAD_MANIFEST, "$.session_limit"},
      {"evidence age not a number", false, [](json& j) { j["attestation"] = {{"max_evidence_age_ms", "1s"}}; }, E::PIPELINE_BAD_MANIFEST, "$.attestation.max_evidence_age_ms"},
      {"allow_debug not bool", false, [](json& j) { j["attestation"] = {{"allow_debug", 1}}; }, E::PIPELINE_BAD_MANIFEST, "$.attestation.allow_debug"},
      {"vsock cid negative", true, [](json& j) { ep(j, 0, "control")["cid"] = -1; }, E::PIPELINE_BAD_ENDPOINT, "$.stages[0].endpoint.control.cid"},
      {"vsock cid above 32 bits", true, [](json& j) { ep(j, 0, "control")["cid"] = 4294967296ull; }, E::PIPELINE_BAD_ENDPOINT, "$.stages[0].endpoint.control.cid"},
      {"vsock port above 65535", true, [](json& j) { ep(j, 1, "data_in")["port"] = 70000; }, E::PIPELINE_BAD_ENDPOINT, "$.stages[1].endpoint.data_in.port"},
      {"vsock missing port", true, [](json& j) { ep(j, 0, "control").erase("port"); }, E::PIPELINE_BAD_MANIFEST, "$.stages[0].endpoint.control.port"},
      {"vsock ports clash inside one enclave", true, [](json& j) { ep(j, 1, "data_in")["port"] = 5000; }, E::PIPELINE_DUPLICATE_LISTENER, "$.stages[1].endpoint.data_in"},
      {"vsock data_out to cid any", true, [](json& j) { ep(j, 0, "data_out")["cid"] = 0; }, E::PIPELINE_BAD_ENDPOINT, "$.stages[0].endpoint.data_out.cid"},
      {"vsock two stages share a relay port", true, [](json& j) { ep(j, 1, "data_out")["port"] = 6001; }, E::PIPELINE_DUPLICATE_LISTENER, "$.stages[1].endpoint.data_out"},
      {"sev-snp over vsock", true, [](json& j) { j["platform"] = "sev-snp"; }, E::PIPELINE_BAD_MANIFEST, "$.platform"},
  };
  return table;
}

class ManifestMutation : public ::testing::TestWithParam<size_t> {};

TEST_P(ManifestMutation, GivesItsCodeAndExactPath) {
  const Mutation& mu = mutations()[GetParam()];
  json j = json::parse(read_file(mu.vsock ? kVsockFile : kTcpFile));
  mu.mutate(j);
  ValidateOptions options;
  options.model = mu.model;
  ManifestError err;
  auto m = load_manifest(j.dump(), options, &err);
  ASSERT_FALSE(m.ok()) << mu.name;
  EXPECT_EQ(error_code_name(err.code), error_code_name(mu.code)) << mu.name << ": " << err.message;
  EXPECT_EQ(err.json_path, mu.path) << mu.name << ": " << err.message;
  EXPECT_EQ(m.code(), err.code);
  EXPECT_FALSE(err.message.empty());
}

INSTANTIATE_TEST_SUITE_P(Table, ManifestMutation, ::testing::Range<size_t>(0, mutations().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           std::string name = mutations()[info.param].name;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// Each mutation must break only its own rule: without it, the base file is valid.
TEST(ManifestMutationTable, BaseFilesAreValidWithEveryModelShapeItUses) {
  for (bool vsock : {false, true}) {
    auto m = load_manifest(read_file(vsock ? kVsockFile : kTcpFile), {kGpt2Small});
    EXPECT_TRUE(m.ok()) << m.status().to_string();
  }
}

}  // namespace
}  // namespace cpipe::pipeline

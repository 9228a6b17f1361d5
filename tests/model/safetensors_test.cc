// safetensors validation: every structural rule has a hand-crafted file that breaks it, and the
// real HF file in shared/data loads unchanged.
#include "model/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "core/base/bytes.h"
#include "tests/model/test_util.h"

namespace cpipe::model {
namespace {

using ::testing::HasSubstr;

// u64 LE length + header + `data_len` bytes of data.
std::shared_ptr<MappedFile> make_file(const std::string& header, size_t data_len, uint64_t len_override = 0) {
  std::vector<uint8_t> b(8);
  store_u64_le(b.data(), len_override ? len_override : header.size());
  b.insert(b.end(), header.begin(), header.end());
  for (size_t i = 0; i < data_len; ++i) b.push_back(uint8_t(i));
  return MappedFile::from_bytes(std::move(b));
}

Status parse_status(const std::string& header, size_t data_len, const SafetensorsLimits& lim = {}) {
  return SafetensorsFile::parse(make_file(header, data_len), lim).status();
}

void expect_bad(const std::string& header, size_t data_len, const std::string& why,
                const SafetensorsLimits& lim = {}) {
  Status s = parse_status(header, data_len, lim);
  EXPECT_EQ(s.code(), ErrorCode::MODEL_BAD_FILE) << header;
  EXPECT_THAT(s.message(), HasSubstr(why)) << header;
}

const char* kTwo =
    R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
    R"("a":{"dtype":"I8","shape":[2,4],"data_offsets":[0,8]}})";

TEST(SafetensorsTest, ValidFileExposesZeroCopyViewsSortedByName) {
  auto file = make_file(kTwo, 16);
  auto r = SafetensorsFile::parse(file);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const auto& f = **r;
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensors()[0].name, "a");
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const TensorView* b = f.find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::F32);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2}));
  const size_t header_end = 8 + std::strlen(kTwo);
  EXPECT_EQ(b->data.data(), file->bytes().data() + header_end + 8);  // a view, not a copy
  EXPECT_EQ(b->data.size(), 8u);
  EXPECT_EQ(f.find("c"), nullptr);
}

TEST(SafetensorsTest, EmptyTensorsAndNoMetadataAreValid) {
  EXPECT_TRUE(parse_status(R"({"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},)"
                           R"("s":{"dtype":"U8","shape":[],"data_offsets":[0,1]}})", 1).ok());
  EXPECT_TRUE(parse_status("{}", 0).ok());
}

TEST(SafetensorsTest, RejectsFileShorterThanLengthField) {
  Status s = SafetensorsFile::parse(MappedFile::from_bytes({1, 2, 3})).status();
  EXPECT_EQ(s.code(), ErrorCode::MODEL_BAD_FILE);
  EXPECT_THAT(s.message(), HasSubstr("shorter than"));
}

TEST(SafetensorsTest, RejectsHeaderLengthOverLimit) {
  SafetensorsLimits lim;
  lim.max_header_bytes = 16;
  expect_bad(kTwo, 16, "exceeds the limit", lim);
  // The default limit (100 MiB) applies even when the file is that large on paper.
  Status s = SafetensorsFile::parse(make_file("{}", 0, 200ull << 20)).status();
  EXPECT_THAT(s.message(), HasSubstr("exceeds the limit"));
}

TEST(SafetensorsTest, RejectsHeaderLengthPastEndOfFile) {
  Status s = SafetensorsFile::parse(make_file("{}", 0, 3)).status();
  EXPECT_EQ(s.code(), ErrorCode::MODEL_BAD_FILE);
  EXPECT_THAT(s.message(), HasSubstr("past the end"));
}

TEST(SafetensorsTest, RejectsNonJsonAndNonObjectHeaders) {
  expect_bad("{\"a\": ", 0, "not valid JSON");
  expect_bad("[1,2]   ", 0, "does not start with '{'");
  expect_bad("{\"a\":1} x", 0, "not valid JSON");
}

TEST(SafetensorsTest, RejectsDeepNesting) {
  std::string deep = R"({"__metadata__":)" + std::string(100, '[') + std::string(100, ']') + "}";
  expect_bad(deep, 0, "nests deeper");
}

TEST(SafetensorsTest, RejectsDuplicateTensorNames) {
  expect_bad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
             R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", 2, "duplicate header key \"a\"");
}

TEST(SafetensorsTest, RejectsUnknownDtype) {
  expect_bad(R"({"a":{"dtype":"F12","shape":[1],"data_offsets":[0,1]}})", 1, "unknown dtype \"F12\"");
}

TEST(SafetensorsTest, RejectsMissingOrMalformedFields) {
  expect_bad(R"({"a":{"shape":[1],"data_offsets":[0,1]}})", 1, "dtype");
  expect_bad(R"({"a":{"dtype":"U8","data_offsets":[0,1]}})", 1, "shape");
  expect_bad(R"({"a":{"dtype":"U8","shape":[1]}})", 1, "data_offsets");
  expect_bad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})", 1, "data_offsets");
  expect_bad(R"({"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", 1, "non-negative");
  expect_bad(R"({"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", 1, "non-negative");
  expect_bad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,1]}})", 1, "non-negative");
  expect_bad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":1}})", 1, "unknown field");
  expect_bad(R"({"a":[1]})", 1, "not an object");
}

TEST(SafetensorsTest, RejectsBadMetadata) {
  expect_bad(R"({"__metadata__":{"format":1}})", 0, "not a string");
  expect_bad(R"({"__metadata__":"pt"})", 0, "__metadata__ is not an object");
}

TEST(SafetensorsTest, RejectsBeginAfterEnd) {
  expect_bad(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}})", 1, "begin 1 > end 0");
}

TEST(SafetensorsTest, RejectsOffsetsPastDataRegion) {
  expect_bad(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", 3, "past the data region");
}

TEST(SafetensorsTest, RejectsSizeNotMatchingShapeTimesDtype) {
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4, "does not match shape x dtype");
  expect_bad(R"({"a":{"dtype":"BF16","shape":[3],"data_offsets":[0,4]}})", 4, "does not match shape x dtype");
}

TEST(SafetensorsTest, RejectsElementCountOverflow) {
  expect_bad(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})", 4,
             "overflows");
}

TEST(SafetensorsTest, RejectsOverlappingTensors) {
  expect_bad(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
             R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})", 6, "overlaps");
  // Two tensors sharing the same bytes (aliasing) are an overlap too.
  expect_bad(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
             R"("b":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", 4, "overlaps");
}

TEST(SafetensorsTest, RejectsGapsInDataRegion) {
  expect_bad(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
             R"("b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}})", 5, "gap");
  expect_bad(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})", 3, "gap");
}

TEST(SafetensorsTest, RejectsTrailingBytesNotCoveredByTensors) {
  expect_bad(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 5, "3 trailing bytes");
}

TEST(SafetensorsTest, OpenReportsMissingFileAsNotFound) {
  auto r = SafetensorsFile::open("/nonexistent/model.safetensors");
  EXPECT_EQ(r.code(), ErrorCode::NOT_FOUND);
}

TEST(SafetensorsTest, RealHfTinyGpt2LoadsUnchanged) {
  auto r = SafetensorsFile::open(testing::tiny_gpt2_dir() + "/model.safetensors");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const auto& f = **r;
  EXPECT_EQ(f.tensors().size(), 28u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const TensorView* wte = f.find("transformer.wte.weight");
  ASSERT_NE(wte, nullptr);
  EXPECT_EQ(wte->dtype, DType::F32);
  EXPECT_EQ(wte->shape, (std::vector<int64_t>{50257, 2}));
  const TensorView* attn = f.find("transformer.h.1.attn.c_attn.weight");
  ASSERT_NE(attn, nullptr);
  EXPECT_EQ(attn->shape, (std::vector<int64_t>{2, 6}));  // Conv1D: [in, out]
}

TEST(SafetensorsTest, WriterRoundTripsThroughTheValidator) {
  testing::TempDir dir;
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<uint8_t> b = {7, 8, 9};
  Status s = write_safetensors(dir.path() + "/x.safetensors",
                               {{"z", DType::U8, {3}, b},
                                {"a", DType::F32, {2, 3}, {reinterpret_cast<uint8_t*>(a.data()), 24}}},
                               {{"format", "pt"}});
  ASSERT_TRUE(s.ok()) << s.to_string();
  auto r = SafetensorsFile::open(dir.path() + "/x.safetensors");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const TensorView* ta = (*r)->find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(std::memcmp(ta->data.data(), a.data(), 24), 0);
  EXPECT_EQ((*r)->find("z")->data[2], 9);
  // HF's layout: header padded to 8 bytes, so F32 data that follows it is aligned.
  EXPECT_EQ((ta->file_offset) % 8, 0u);
}

}  // namespace
}  // namespace cpipe::model

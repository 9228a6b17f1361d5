// Status/Result behaviour and the stability of the error-code table.
#include "core/base/status.h"

#include <gtest/gtest.h>

#include <set>

namespace cpipe {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error(ErrorCode::INVALID_ARGUMENT, "not positive");
  return v;
}

Result<int> doubled(int v) {
  CPIPE_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

Status check_both(int a, int b) {
  CPIPE_RETURN_IF_ERROR(parse_positive(a).status());
  CPIPE_RETURN_IF_ERROR(parse_positive(b).status().with_context("second"));
  return Status::Ok();
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.to_string(), "OK");
}

TEST(StatusTest, ToStringHasStableNameAndMessage) {
  Status s(ErrorCode::CHANNEL_BAD_TAG, "record 7");
  EXPECT_EQ(s.to_string(), "CHANNEL_BAD_TAG: record 7");
  EXPECT_EQ(s.code_name(), "CHANNEL_BAD_TAG");
}

TEST(StatusTest, MacrosPropagateErrorsAndValues) {
  EXPECT_EQ(*doubled(4), 8);
  Result<int> r = doubled(-1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::INVALID_ARGUMENT);
  Status s = check_both(1, -1);
  EXPECT_EQ(s.code(), ErrorCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.message(), "second: not positive");
}

TEST(ErrorCodeTest, PinnedNumbersNeverChange) {
  // These numbers are a public contract (docs/errors.md, JSON output, exit statuses).
  EXPECT_EQ(int(ErrorCode::TRANSPORT_REFUSED), 100);
  EXPECT_EQ(int(ErrorCode::CHANNEL_BAD_TAG), 300);
  EXPECT_EQ(int(ErrorCode::CHANNEL_SEQUENCE_GAP), 301);
  EXPECT_EQ(int(ErrorCode::ATTEST_CHAIN_INVALID), 403);
}

TEST(ErrorCodeTest, NamesAreUniqueAndRoundTrip) {
  std::set<std::string_view> names;
  std::set<int> numbers;
#define CHECK_ENTRY(name, num, doc)                                        \
  EXPECT_TRUE(names.insert(#name).second) << #name;                        \
  EXPECT_TRUE(numbers.insert(num).second) << #name;                        \
  EXPECT_EQ(error_code_from_name(#name), ErrorCode::name);                 \
  EXPECT_EQ(error_code_name(ErrorCode::name), #name);                      \
  EXPECT_FALSE(error_code_doc(ErrorCode::name).empty());
  CPIPE_ERROR_CODES(CHECK_ENTRY)
#undef CHECK_ENTRY
  EXPECT_EQ(error_code_from_name("NO_SUCH_CODE"), std::nullopt);
  EXPECT_EQ(error_code_name(ErrorCode(123456)), "UNKNOWN");
}

}  // namespace
}  // namespace cpipe

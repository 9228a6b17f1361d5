// TIME parsing and printing shared by `attest verify`, `receipt verify` and friends.
#include "apps/cpipe/cli_args.h"

#include <gtest/gtest.h>

namespace cpipe::cli {
namespace {

TEST(ParseTimeTest, AcceptsMillisecondsAndRfc3339) {
  EXPECT_EQ(*parse_time_ms("1665651542136", "--at"), 1665651542136);
  EXPECT_EQ(*parse_time_ms("1970-01-01T00:00:00Z", "--at"), 0);
  EXPECT_EQ(*parse_time_ms("2022-10-13T09:00:00Z", "--at"), 1665651600000);
  EXPECT_EQ(*parse_time_ms("2022-10-13T09:00:00.5Z", "--at"), 1665651600500);
  EXPECT_EQ(*parse_time_ms("2022-10-13T11:00:00+02:00", "--at"), 1665651600000);
  EXPECT_EQ(*parse_time_ms("2022-10-13t08:30:00-00:30", "--at"), 1665651600000);
  EXPECT_EQ(*parse_time_ms("2024-02-29T00:00:00Z", "--at"), 1709164800000);  // leap day
}

TEST(ParseTimeTest, RejectsMalformedWithTheFlagName) {
  for (const char* bad : {"", "yesterday", "2022-10-13", "2022-10-13T09:00:00", "2022-13-01T00:00:00Z",
                          "2022-10-13T24:00:00Z", "2022-10-13T09:00:00.Z", "2022-10-13T09:00:00Zjunk",
                          "2022-10-13T09:00:00+2:00", "1234567890123456"}) {
    auto r = parse_time_ms(bad, "--at");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.code(), ErrorCode::INVALID_ARGUMENT);
    EXPECT_NE(r.status().message().find("--at"), std::string::npos);
  }
}

TEST(Rfc3339Test, PrintsUtcWithMillisecondsAndRoundTrips) {
  EXPECT_EQ(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rfc3339_ms(1665651482136), "2022-10-13T08:58:02.136Z");
  EXPECT_EQ(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
  for (int64_t t : {int64_t(0), int64_t(951782400000), int64_t(1767225600123), int64_t(4102444799999)}) {
    EXPECT_EQ(*parse_time_ms(rfc3339_ms(t), "--at"), t);
  }
}

TEST(ReadFileTest, MissingFileIsAnIoErrorNamingIt) {
  auto r = read_file("/nonexistent/cpipe-test-file", "evidence");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::IO_ERROR);
  EXPECT_NE(r.status().message().find("evidence"), std::string::npos);
}

}  // namespace
}  // namespace cpipe::cli

// Structured events: formatting and the logger's component naming.
#include "core/base/event.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cpipe {
namespace {

TEST(EventTest, LoggerEmitsStructuredEvents) {
  CollectingEventSink sink;
  Logger log(&sink, "channel");
  log.child("initiator").warn("rekey", {{"seq", "42"}, {"dir", "send"}});
  ASSERT_EQ(sink.events().size(), 1u);
  const Event& e = sink.events()[0];
  EXPECT_EQ(e.component, "channel.initiator");
  EXPECT_EQ(e.to_text(), "warn channel.initiator rekey seq=42 dir=send");
  auto j = nlohmann::json::parse(e.to_json());
  EXPECT_EQ(j["event"], "rekey");
  EXPECT_EQ(j["fields"]["seq"], "42");
  EXPECT_TRUE(sink.contains("rekey"));
  EXPECT_FALSE(sink.contains("other"));
}

TEST(EventTest, DefaultLoggerDiscards) {
  Logger log;
  log.error("nothing_listens");  // must not crash
  EXPECT_EQ(log.sink(), &NullEventSink::instance());
}

}  // namespace
}  // namespace cpipe

// StderrEventSink: text and JSON line formats, timestamps, level filtering, whole lines under
// concurrent emitters.
#include "backends/posix/event_sinks.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace cpipe::posix {
namespace {

Event sample(EventLevel level, std::string name) {
  Event e;
  e.level = level;
  e.component = "channel";
  e.name = std::move(name);
  e.fields = {{"role", "initiator"}, {"peer", "mock-dev"}};
  return e;
}

// Collects what a sink writes to a FILE* in memory.
class MemFile {
 public:
  MemFile() : f_(open_memstream(&buf_, &len_)) {}
  ~MemFile() {
    if (f_) std::fclose(f_);
    std::free(buf_);
  }
  std::FILE* file() { return f_; }
  std::vector<std::string> lines() {
    std::fflush(f_);
    std::vector<std::string> out;
    std::istringstream in(std::string(buf_, len_));
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  char* buf_ = nullptr;
  size_t len_ = 0;
  std::FILE* f_;
};

TEST(EventSinksTest, TimestampsAreRfc3339Utc) {
  EXPECT_EQ(format_utc_timestamp(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_utc_timestamp(1700000000123456789), "2023-11-14T22:13:20.123456Z");
}

TEST(EventSinksTest, TextLineIsTimestampThenEventText) {
  StderrEventSink sink(EventFormat::kText);
  Event e = sample(EventLevel::kInfo, "handshake_complete");
  EXPECT_EQ(sink.format_line(e, 1700000000123456789),
            "2023-11-14T22:13:20.123456Z info channel handshake_complete role=initiator "
            "peer=mock-dev");
}

TEST(EventSinksTest, JsonLinesParseAndCarryTheTimestamp) {
  MemFile mem;
  StderrEventSink sink(EventFormat::kJson, EventLevel::kDebug, mem.file());
  sink.emit(sample(EventLevel::kWarn, "rekey_late"));
  auto lines = mem.lines();
  ASSERT_EQ(lines.size(), 1u);
  auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["component"], "channel");
  EXPECT_EQ(j["event"], "rekey_late");
  EXPECT_EQ(j["fields"]["role"], "initiator");
  std::string ts = j["ts"];
  ASSERT_EQ(ts.size(), 27u);
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_GE(ts.substr(0, 4), "2020");
}

TEST(EventSinksTest, EventsBelowTheMinimumLevelAreDropped) {
  MemFile mem;
  StderrEventSink sink(EventFormat::kText, EventLevel::kWarn, mem.file());
  sink.emit(sample(EventLevel::kDebug, "a"));
  sink.emit(sample(EventLevel::kInfo, "b"));
  sink.emit(sample(EventLevel::kWarn, "c"));
  sink.emit(sample(EventLevel::kError, "d"));
  auto lines = mem.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find(" warn channel c "), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(" error channel d "), std::string::npos) << lines[1];
}

TEST(EventSinksTest, ConcurrentEmittersNeverInterleaveLines) {
  MemFile mem;
  StderrEventSink sink(EventFormat::kJson, EventLevel::kDebug, mem.file());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&sink, t] {
      for (int i = 0; i < 200; ++i) {
        Event e = sample(EventLevel::kInfo, "tick");
        e.fields.push_back({"thread", std::to_string(t)});
        e.fields.push_back({"i", std::to_string(i)});
        sink.emit(e);
      }
    });
  }
  for (auto& t : threads) t.join();
  auto lines = mem.lines();
  ASSERT_EQ(lines.size(), 800u);
  for (const auto& line : lines) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    EXPECT_EQ(j["event"], "tick");
  }
}

}  // namespace
}  // namespace cpipe::posix

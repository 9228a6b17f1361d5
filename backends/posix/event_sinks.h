// StderrEventSink: prints structured events, one line each, to stderr (or any FILE*), as text
// ("2026-11-23T16:29:48.123456Z info channel handshake_complete role=initiator") or as JSON
// lines ({"ts":"2026-...Z","level":"info","component":...,"event":...,"fields":{...}}).
// Events below `min_level` are dropped. Lines are written whole under a mutex, so events from
// worker threads never interleave. Timestamps are wall-clock (system_clock) UTC.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include "core/base/event.h"

namespace cpipe::posix {

enum class EventFormat { kText, kJson };

class StderrEventSink final : public EventSink {
 public:
  explicit StderrEventSink(EventFormat format = EventFormat::kText,
                           EventLevel min_level = EventLevel::kInfo, std::FILE* out = stderr)
      : format_(format), min_level_(min_level), out_(out) {}

  void emit(const Event& event) override;
  // The line emit() writes for `event` at `unix_ns` (without the newline); for tests.
  std::string format_line(const Event& event, int64_t unix_ns) const;

 private:
  EventFormat format_;
  EventLevel min_level_;
  std::FILE* out_;
  std::mutex mu_;
};

// RFC 3339 UTC with microseconds: "2026-11-23T16:29:48.123456Z".
std::string format_utc_timestamp(int64_t unix_ns);

}  // namespace cpipe::posix

// Text/JSON event lines with wall-clock timestamps.
#include "backends/posix/event_sinks.h"

#include <chrono>
#include <ctime>

namespace cpipe::posix {

std::string format_utc_timestamp(int64_t unix_ns) {
  int64_t secs = unix_ns / 1'000'000'000;
  int64_t rem = unix_ns % 1'000'000'000;
  if (rem < 0) {
    rem += 1'000'000'000;
    --secs;
  }
  std::time_t t = std::time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(rem / 1000));
  return buf;
}

std::string StderrEventSink::format_line(const Event& event, int64_t unix_ns) const {
  std::string ts = format_utc_timestamp(unix_ns);
  if (format_ == EventFormat::kText) return ts + " " + event.to_text();
  // Event::to_json() is one object; the timestamp goes first in it.
  std::string json = event.to_json();
  return "{\"ts\":\"" + ts + "\"," + json.substr(1);
}

void StderrEventSink::emit(const Event& event) {
  if (int(event.level) < int(min_level_)) return;
  int64_t unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  std::string line = format_line(event, unix_ns);
  line += '\n';
  std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace cpipe::posix

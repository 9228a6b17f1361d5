// Structured events: cpipe's logging. Code emits named events with key/value fields to an
// EventSink; the posix backend prints them (text or JSON lines), the simulator stamps them with
// virtual time and folds them into its trace hash. Components never format log lines themselves.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cpipe {

enum class EventLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
std::string_view event_level_name(EventLevel level);

struct EventField {
  std::string key;
  std::string value;
};

struct Event {
  EventLevel level = EventLevel::kInfo;
  std::string component;  // "channel", "sim.net", "pipeline.stage1"
  std::string name;       // "handshake_complete"
  std::vector<EventField> fields;

  // "info channel handshake_complete role=initiator peer=mock-dev"
  std::string to_text() const;
  // {"level":"info","component":...,"event":...,"fields":{...}}
  std::string to_json() const;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void emit(const Event& event) = 0;
};

// Discards everything; the default when nobody listens.
class NullEventSink final : public EventSink {
 public:
  void emit(const Event&) override {}
  static NullEventSink& instance();
};

// Keeps every event in memory (tests, and the simulator's per-run record).
class CollectingEventSink final : public EventSink {
 public:
  void emit(const Event& event) override { events_.push_back(event); }
  const std::vector<Event>& events() const { return events_; }
  bool contains(std::string_view name) const;
  void clear() { events_.clear(); }

 private:
  std::vector<Event> events_;
};

// A component's handle on a sink: Logger log(sink, "channel"); log.info("x", {{"k", "v"}}).
class Logger {
 public:
  Logger() : sink_(&NullEventSink::instance()) {}
  Logger(EventSink* sink, std::string component)
      : sink_(sink ? sink : &NullEventSink::instance()), component_(std::move(component)) {}

  void emit(EventLevel level, std::string_view name, std::initializer_list<EventField> fields = {}) const;
  void debug(std::string_view name, std::initializer_list<EventField> fields = {}) const {
    emit(EventLevel::kDebug, name, fields);
  }
  void info(std::string_view name, std::initializer_list<EventField> fields = {}) const {
    emit(EventLevel::kInfo, name, fields);
  }
  void warn(std::string_view name, std::initializer_list<EventField> fields = {}) const {
    emit(EventLevel::kWarn, name, fields);
  }
  void error(std::string_view name, std::initializer_list<EventField> fields = {}) const {
    emit(EventLevel::kError, name, fields);
  }
  // A logger for a sub-component: "pipeline" -> "pipeline.stage1".
  Logger child(std::string_view suffix) const;
  EventSink* sink() const { return sink_; }
  const std::string& component() const { return component_; }

 private:
  EventSink* sink_;
  std::string component_;
};

}  // namespace cpipe

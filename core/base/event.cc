// Event formatting (text and JSON lines) and the trivial sinks.
#include "core/base/event.h"

#include <nlohmann/json.hpp>

namespace cpipe {

std::string_view event_level_name(EventLevel level) {
  switch (level) {
    case EventLevel::kDebug: return "debug";
    case EventLevel::kInfo: return "info";
    case EventLevel::kWarn: return "warn";
    case EventLevel::kError: return "error";
  }
  return "info";
}

std::string Event::to_text() const {
  std::string out(event_level_name(level));
  out += ' ';
  out += component;
  out += ' ';
  out += name;
  for (const auto& f : fields) {
    out += ' ';
    out += f.key;
    out += '=';
    out += f.value;
  }
  return out;
}

std::string Event::to_json() const {
  nlohmann::ordered_json j;
  j["level"] = std::string(event_level_name(level));
  j["component"] = component;
  j["event"] = name;
  nlohmann::ordered_json f = nlohmann::ordered_json::object();
  for (const auto& field : fields) f[field.key] = field.value;
  j["fields"] = std::move(f);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

NullEventSink& NullEventSink::instance() {
  static NullEventSink sink;
  return sink;
}

bool CollectingEventSink::contains(std::string_view name) const {
  for (const auto& e : events_) {
    if (e.name == name) return true;
  }
  return false;
}

void Logger::emit(EventLevel level, std::string_view name,
                  std::initializer_list<EventField> fields) const {
  Event e;
  e.level = level;
  e.component = component_;
  e.name = std::string(name);
  e.fields.assign(fields.begin(), fields.end());
  sink_->emit(e);
}

Logger Logger::child(std::string_view suffix) const {
  std::string c = component_.empty() ? std::string(suffix) : component_ + "." + std::string(suffix);
  return Logger(sink_, std::move(c));
}

}  // namespace cpipe

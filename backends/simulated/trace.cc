// Canonical encoding of trace entries into the running hash: kind byte, time, then each field
// as u64 length + bytes (little-endian), so no two different entry sequences encode alike.
#include "backends/simulated/trace.h"

#include <nlohmann/json.hpp>

namespace cpipe::sim {

std::string_view trace_kind_name(TraceKind kind) {
  switch (kind) {
    case TraceKind::kDeliver: return "deliver";
    case TraceKind::kControl: return "control";
    case TraceKind::kTimer: return "timer";
    case TraceKind::kFault: return "fault";
    case TraceKind::kEvent: return "event";
  }
  return "unknown";
}

std::string TraceRecord::to_json() const {
  nlohmann::json j;
  j["t_ns"] = time_ns;
  j["kind"] = trace_kind_name(kind);
  if (!from.empty()) j["from"] = from;
  if (!to.empty()) j["to"] = to;
  if (!what.empty()) j["what"] = what;
  if (kind == TraceKind::kDeliver) j["len"] = length;
  return j.dump();
}

TraceRecorder::TraceRecorder() {
  if (sodium_init() < 0) std::abort();
  crypto_hash_sha256_init(&state_);
  field(std::string_view("cpipe.sim.trace.v1"));
}

void TraceRecorder::u64(uint64_t v) {
  uint8_t b[8];
  store_u64_le(b, v);
  crypto_hash_sha256_update(&state_, b, sizeof b);
}

void TraceRecorder::field(ByteSpan b) {
  u64(b.size());
  crypto_hash_sha256_update(&state_, b.data(), b.size());
}

void TraceRecorder::field(std::string_view s) {
  field(ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

void TraceRecorder::begin(TraceKind kind, runtime::MonoTime t) {
  uint8_t k = uint8_t(kind);
  crypto_hash_sha256_update(&state_, &k, 1);
  u64(uint64_t(t.ns));
  ++entries_;
}

void TraceRecorder::emit(TraceRecord rec) {
  if (callback_) callback_(rec);
  if (keep_) records_.push_back(std::move(rec));
}

void TraceRecorder::record_delivery(runtime::MonoTime t, std::string_view from,
                                    std::string_view to, ByteSpan bytes) {
  begin(TraceKind::kDeliver, t);
  field(from);
  field(to);
  field(bytes);
  if (wants_records()) {
    emit({t.ns, TraceKind::kDeliver, std::string(from), std::string(to), "", bytes.size()});
  }
}

void TraceRecorder::record_control(runtime::MonoTime t, std::string_view from,
                                   std::string_view to, std::string_view what) {
  begin(TraceKind::kControl, t);
  field(from);
  field(to);
  field(what);
  if (wants_records()) {
    emit({t.ns, TraceKind::kControl, std::string(from), std::string(to), std::string(what), 0});
  }
}

void TraceRecorder::record_timer(runtime::MonoTime t, std::string_view node, uint64_t timer_id) {
  begin(TraceKind::kTimer, t);
  field(node);
  u64(timer_id);
  if (wants_records()) {
    emit({t.ns, TraceKind::kTimer, std::string(node), "", std::to_string(timer_id), 0});
  }
}

void TraceRecorder::record_fault(runtime::MonoTime t, std::string_view fault,
                                 std::string_view detail) {
  begin(TraceKind::kFault, t);
  field(fault);
  field(detail);
  if (wants_records()) {
    emit({t.ns, TraceKind::kFault, "", "", std::string(fault) + " " + std::string(detail), 0});
  }
}

void TraceRecorder::record_event(runtime::MonoTime t, std::string_view node, const Event& event) {
  begin(TraceKind::kEvent, t);
  field(node);
  u64(uint64_t(event.level));
  field(event.component);
  field(event.name);
  u64(event.fields.size());
  for (const EventField& f : event.fields) {
    field(f.key);
    field(f.value);
  }
  if (wants_records()) emit({t.ns, TraceKind::kEvent, std::string(node), "", event.to_text(), 0});
}

std::string TraceRecorder::trace_hash() const {
  crypto_hash_sha256_state copy = state_;
  uint8_t out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&copy, out);
  return hex_encode(ByteSpan(out, sizeof out));
}

}  // namespace cpipe::sim

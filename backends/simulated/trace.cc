// Canonical encoding of trace entries into the running hash: kind byte, time, then each field
// as u64 length + bytes (little-endian), so no two different entry sequences encode alike. A
// delivery's payload is its last field: its length is in the header, its bytes follow.
#include "backends/simulated/trace.h"

#include <openssl/evp.h>

#include <cstdlib>
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

std::function<void(const TraceRecord&)> TraceRecorder::jsonl_writer(std::ostream& out) {
  return [&out](const TraceRecord& r) { out << r.to_json() << '\n'; };
}

namespace {
EVP_MD_CTX* evp(void* p) { return static_cast<EVP_MD_CTX*>(p); }
}  // namespace

void TraceRecorder::CtxDeleter::operator()(void* ctx) const { EVP_MD_CTX_free(evp(ctx)); }

TraceRecorder::TraceRecorder() : ctx_(EVP_MD_CTX_new()) {
  // Without a working SHA-256 no run can be checked; there is nothing sane to continue with.
  if (!ctx_ || EVP_DigestInit_ex(evp(ctx_.get()), EVP_sha256(), nullptr) != 1) std::abort();
  header_.reserve(256);
  field(std::string_view("cpipe.sim.trace.v1"));
  finish();
}

TraceRecorder::~TraceRecorder() = default;

void TraceRecorder::u64(uint64_t v) {
  uint8_t b[8];
  store_u64_le(b, v);
  header_.insert(header_.end(), b, b + 8);
}

void TraceRecorder::field(std::string_view s) {
  u64(s.size());
  header_.insert(header_.end(), s.begin(), s.end());
}

void TraceRecorder::begin(TraceKind kind, runtime::MonoTime t) {
  header_.clear();
  header_.push_back(uint8_t(kind));
  u64(uint64_t(t.ns));
  ++entries_;
}

void TraceRecorder::finish(ByteSpan payload) {
  EVP_DigestUpdate(evp(ctx_.get()), header_.data(), header_.size());
  if (!payload.empty()) EVP_DigestUpdate(evp(ctx_.get()), payload.data(), payload.size());
  header_.clear();
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
  u64(bytes.size());
  finish(bytes);
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
  finish();
  if (wants_records()) {
    emit({t.ns, TraceKind::kControl, std::string(from), std::string(to), std::string(what), 0});
  }
}

void TraceRecorder::record_timer(runtime::MonoTime t, std::string_view node, uint64_t timer_id) {
  begin(TraceKind::kTimer, t);
  field(node);
  u64(timer_id);
  finish();
  if (wants_records()) {
    emit({t.ns, TraceKind::kTimer, std::string(node), "", std::to_string(timer_id), 0});
  }
}

void TraceRecorder::record_fault(runtime::MonoTime t, std::string_view fault,
                                 std::string_view detail) {
  begin(TraceKind::kFault, t);
  field(fault);
  field(detail);
  finish();
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
  finish();
  if (wants_records()) emit({t.ns, TraceKind::kEvent, std::string(node), "", event.to_text(), 0});
}

std::string TraceRecorder::trace_hash() const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> copy(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  uint8_t out[32];
  unsigned int len = 0;
  if (!copy || EVP_MD_CTX_copy_ex(copy.get(), evp(ctx_.get())) != 1 ||
      EVP_DigestFinal_ex(copy.get(), out, &len) != 1) {
    std::abort();
  }
  return hex_encode(ByteSpan(out, len));
}

}  // namespace cpipe::sim

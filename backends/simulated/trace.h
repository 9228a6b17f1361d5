// TraceRecorder: the fingerprint of a simulated run. Every delivered message (time, from, to,
// length, bytes), fired timer, injected fault and structured event is folded, in order, into one
// running SHA-256. Same seed and same build must give the same trace_hash(); a difference is a
// determinism bug. Optionally keeps small records (or streams them to a callback) so a run can
// be written out as JSON lines and two runs diffed. SHA-256 is OpenSSL's (SHA-NI: about 4x
// libsodium's here, and every payload byte of a run goes through it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/event.h"
#include "core/runtime/clock.h"

namespace cpipe::sim {

enum class TraceKind : uint8_t {
  kDeliver = 1,  // stream bytes arrived at a node
  kControl = 2,  // connection control: syn, syn-ack, refused (rst), fin, reset
  kTimer = 3,    // a timer fired
  kFault = 4,    // a fault was injected (partition, reset, refusal, drop, ...)
  kEvent = 5,    // a structured Event emitted by a node
};
std::string_view trace_kind_name(TraceKind kind);

// What the recorder keeps per entry (bytes are hashed, never kept).
struct TraceRecord {
  int64_t time_ns = 0;
  TraceKind kind = TraceKind::kEvent;
  std::string from;    // node / endpoint the entry originates at
  std::string to;      // destination, when there is one
  std::string what;    // "syn", "fin", timer id, event "component name k=v", fault name
  uint64_t length = 0; // payload length for deliveries
  std::string to_json() const;
};

class TraceRecorder {
 public:
  TraceRecorder();
  ~TraceRecorder();
  TraceRecorder(const TraceRecorder&) = delete;
  TraceRecorder& operator=(const TraceRecorder&) = delete;

  void record_delivery(runtime::MonoTime t, std::string_view from, std::string_view to,
                       ByteSpan bytes);
  void record_control(runtime::MonoTime t, std::string_view from, std::string_view to,
                      std::string_view what);
  void record_timer(runtime::MonoTime t, std::string_view node, uint64_t timer_id);
  void record_fault(runtime::MonoTime t, std::string_view fault, std::string_view detail);
  void record_event(runtime::MonoTime t, std::string_view node, const Event& event);

  // Hex SHA-256 of everything recorded so far (the run continues to be hashable afterwards).
  std::string trace_hash() const;
  uint64_t entries() const { return entries_; }

  // Keep TraceRecords in memory (off by default: long runs would grow without bound).
  void set_keep_records(bool keep) { keep_ = keep; }
  const std::vector<TraceRecord>& records() const { return records_; }
  // Called with every record as it happens (e.g. to write JSON lines for `--trace OUT`).
  void set_callback(std::function<void(const TraceRecord&)> cb) { callback_ = std::move(cb); }
  // A callback writing one JSON object per line to `out` (which must outlive the recorder).
  static std::function<void(const TraceRecord&)> jsonl_writer(std::ostream& out);

 private:
  // An entry is encoded into header_ (small fields), then hashed with one update for the
  // header and one for a payload, instead of one update per field.
  void begin(TraceKind kind, runtime::MonoTime t);
  void field(std::string_view s);
  void u64(uint64_t v);
  void finish(ByteSpan payload = {});
  bool wants_records() const { return keep_ || callback_ != nullptr; }
  void emit(TraceRecord rec);

  struct CtxDeleter {
    void operator()(void* ctx) const;
  };
  std::unique_ptr<void, CtxDeleter> ctx_;  // EVP_MD_CTX (kept opaque: no OpenSSL in the header)
  Bytes header_;
  uint64_t entries_ = 0;
  bool keep_ = false;
  std::vector<TraceRecord> records_;
  std::function<void(const TraceRecord&)> callback_;
};

}  // namespace cpipe::sim

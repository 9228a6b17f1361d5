// RecordingTap: what the simulated host keeps of everything it relays, and the probe that
// proves it saw no plaintext (used by the `sim channel` and `sim pipeline` sessions).
#pragma once

#include <algorithm>
#include <functional>

#include "core/base/bytes.h"
#include "core/pipeline/relay.h"

namespace cpipe::cli {

class RecordingTap final : public pipeline::RelayTap {
 public:
  void on_chunk(uint64_t, pipeline::RelayDirection direction, ByteSpan bytes) override {
    Bytes& d = direction == pipeline::RelayDirection::kToUpstream ? up_ : down_;
    d.insert(d.end(), bytes.begin(), bytes.end());
  }
  // True when any 16-byte window taken from `plaintext` (start, middle, end) occurs in the
  // recorded traffic of either direction; shorter plaintexts are searched whole.
  bool contains_any_window_of(ByteSpan plaintext) const {
    constexpr size_t kWindow = 16;
    if (plaintext.size() < kWindow) return contains(plaintext);
    for (size_t off : {size_t(0), (plaintext.size() - kWindow) / 2, plaintext.size() - kWindow}) {
      if (contains(plaintext.subspan(off, kWindow))) return true;
    }
    return false;
  }
  uint64_t bytes_recorded() const { return up_.size() + down_.size(); }

 private:
  bool contains(ByteSpan needle) const {
    if (needle.empty()) return false;
    for (const Bytes* hay : {&up_, &down_}) {
      auto it = std::search(hay->begin(), hay->end(),
                            std::boyer_moore_horspool_searcher(needle.begin(), needle.end()));
      if (it != hay->end()) return true;
    }
    return false;
  }
  Bytes up_, down_;
};

}  // namespace cpipe::cli

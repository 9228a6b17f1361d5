// Helpers shared by the model tests: temporary directories and a seeded Random.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "core/runtime/random.h"
#include "model/synth.h"

namespace cpipe::model::testing {

// A fresh directory under $TMPDIR (or /tmp), removed when the object dies.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/cpipe-model-XXXXXX";
    char* p = mkdtemp(tmpl.data());
    path_ = p ? std::string(p) : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A deterministic Random for tests (SplitMix64 stream).
class SeededRandom : public runtime::Random {
 public:
  explicit SeededRandom(uint64_t seed) : g_(seed) {}
  void fill(MutableByteSpan out) override {
    for (size_t i = 0; i < out.size(); i += 8) {
      uint64_t v = g_.next();
      for (size_t k = 0; k < 8 && i + k < out.size(); ++k) out[i + k] = uint8_t(v >> (8 * k));
    }
  }

 private:
  SplitMix64 g_;
};

inline std::string tiny_gpt2_dir() { return std::string(CPIPE_SHARED_DATA) + "/tiny-gpt2"; }

}  // namespace cpipe::model::testing

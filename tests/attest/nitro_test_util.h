// Shared helpers of the Nitro tests: reading ../shared/data files and the real documents' table
// (pinned times from ../shared/data/README.md).
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/base/bytes.h"

namespace cpipe::testing_nitro {

inline Bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline std::string data_path(const std::string& rel) { return std::string(CPIPE_SHARED_DATA) + "/" + rel; }

struct RealDoc {
  const char* file;
  int64_t timestamp_ms;
  int64_t pin_ms;  // a time inside the leaf certificate's validity window
  bool debug;
  bool indefinite;
};

// Pinned "now": one minute after the document timestamp (inside every validity window).
inline const std::vector<RealDoc>& real_docs() {
  static const std::vector<RealDoc> docs = {
      {"nitro/evervault-2022-10-13-production.cose", 1665651482136, 1665651482136 + 60000, false, false},
      {"nitro/evervault-2022-10-12-debug.cose", 1665582606081, 1665582606081 + 60000, true, false},
      {"nitro/dstack-2025-12-25-debug-indefinite.cose", 1766650846577, 1766650846577 + 60000, true, true},
  };
  return docs;
}

}  // namespace cpipe::testing_nitro

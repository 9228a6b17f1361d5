// Helpers shared by the crypto tests: hex literals and loading the third-party JSON vectors from
// CPIPE_SHARED_DATA/test-vectors (never copied into the repo).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <ostream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/base/bytes.h"

namespace cpipe {
// gtest prints ErrorCode mismatches by name instead of as raw bytes.
inline void PrintTo(ErrorCode code, std::ostream* os) { *os << error_code_name(code); }
}  // namespace cpipe

namespace cpipe::crypto::testing {

// Hex to bytes; a malformed literal is a bug in the test or the data file.
inline Bytes unhex(std::string_view hex) {
  auto r = hex_decode(hex);
  EXPECT_TRUE(r.ok()) << "bad hex in test data: " << hex;
  return r.ok() ? *r : Bytes{};
}

inline nlohmann::json load_vectors(const std::string& relative) {
  std::string path = std::string(CPIPE_SHARED_DATA) + "/test-vectors/" + relative;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  if (!in.good()) return nlohmann::json::object();
  return nlohmann::json::parse(in);
}

// Calls fn(group, test) for every case of a Wycheproof file and returns how many it saw, so a
// caller can assert the count equals numberOfTests (a parsing slip cannot skip cases quietly).
template <typename Fn>
int for_each_wycheproof_case(const nlohmann::json& file, Fn fn) {
  int seen = 0;
  for (const auto& group : file.at("testGroups")) {
    for (const auto& test : group.at("tests")) {
      ++seen;
      SCOPED_TRACE("tcId " + std::to_string(test.at("tcId").get<int>()) + ": " +
                   test.at("comment").get<std::string>());
      fn(group, test);
    }
  }
  return seen;
}

}  // namespace cpipe::crypto::testing

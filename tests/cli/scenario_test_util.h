// What the scenario tests share: loading a shipped scenario, parsing inline YAML (and expecting a
// parse error), and one line per violated invariant for failure messages.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "apps/cpipe/scenario.h"
#include "apps/cpipe/scenario_run.h"

namespace cpipe::cli::scenario_tests {

// scenarios/<name> from the source tree.
inline Scenario load_shipped(const std::string& name) {
  auto s = load_scenario(std::string(CPIPE_SOURCE_DIR) + "/scenarios/" + name);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? *s : Scenario{};
}

inline Scenario parse_yaml(const std::string& yaml, const std::string& source = "test.yaml") {
  auto s = parse_scenario(yaml, source);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? *s : Scenario{};
}

// The error text of YAML that must not parse ("" when it parsed).
inline std::string parse_error(const std::string& yaml) {
  auto s = parse_scenario(yaml, "x.yaml");
  EXPECT_FALSE(s.ok());
  return s.ok() ? "" : s.status().to_string();
}

inline std::string violations(const ScenarioSeedResult& r) {
  std::string out;
  for (const auto& v : r.violations) out += v.invariant + ": " + v.detail + "\n";
  return out;
}

}  // namespace cpipe::cli::scenario_tests

// Inside the scenario reader (scenario_parse.cc: the document and its sections;
// scenario_parse_faults.cc: the fault timeline and swarm settings): the YAML walker that knows
// where it is, so every error names the file, line, column and key path.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "apps/cpipe/scenario.h"

namespace cpipe::cli::scenario_yaml {

struct ScenarioError {
  std::string message;
};

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& path, const std::string& why) const {
    std::string where = source_;
    if (at.IsDefined() && at.Mark().line >= 0)
      where += ":" + std::to_string(at.Mark().line + 1) + ":" + std::to_string(at.Mark().column + 1);
    throw ScenarioError{where + ": key '" + path + "': " + why};
  }

  void map_with_keys(const YAML::Node& node, const std::string& path, const std::set<std::string>& allowed) const {
    if (!node.IsMap()) fail(node, path, "must be a mapping");
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.as<std::string>();
      if (!allowed.count(key)) {
        std::string known;
        for (const std::string& k : allowed) known += (known.empty() ? "" : ", ") + k;
        fail(it->first, join(path, key), "unknown key (known: " + known + ")");
      }
    }
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  template <typename T>
  T scalar(const YAML::Node& node, const std::string& path, const char* what) const {
    if (!node.IsScalar()) fail(node, path, std::string("must be ") + what);
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(node, path, std::string("must be ") + what + ", not '" + node.Scalar() + "'");
    }
  }
  double number(const YAML::Node& n, const std::string& p) const { return scalar<double>(n, p, "a number"); }
  int64_t integer(const YAML::Node& n, const std::string& p) const { return scalar<int64_t>(n, p, "an integer"); }
  bool boolean(const YAML::Node& n, const std::string& p) const { return scalar<bool>(n, p, "true or false"); }
  std::string text(const YAML::Node& n, const std::string& p) const { return scalar<std::string>(n, p, "a string"); }

  double non_negative(const YAML::Node& n, const std::string& p) const {
    double v = number(n, p);
    if (v < 0) fail(n, p, "must be >= 0");
    return v;
  }
  int64_t at_least(const YAML::Node& n, const std::string& p, int64_t min) const {
    int64_t v = integer(n, p);
    if (v < min) fail(n, p, "must be >= " + std::to_string(min));
    return v;
  }

  // A number (fixed) or {p0, p50, p99, p100}; missing quantiles default around the given ones.
  SimLatencyMs latency(const YAML::Node& n, const std::string& p) const {
    if (n.IsScalar()) return SimLatencyMs::fixed(non_negative(n, p));
    map_with_keys(n, p, {"p0", "p50", "p99", "p100"});
    if (!n["p50"]) fail(n, p, "needs at least p50");
    SimLatencyMs l;
    l.p50 = non_negative(n["p50"], p + ".p50");
    l.p99 = n["p99"] ? non_negative(n["p99"], p + ".p99") : l.p50;
    l.p0 = n["p0"] ? non_negative(n["p0"], p + ".p0") : l.p50 / 2;
    l.p100 = n["p100"] ? non_negative(n["p100"], p + ".p100") : l.p99 * 1.2;
    if (!l.valid()) fail(n, p, "quantiles must not decrease (p0 <= p50 <= p99 <= p100)");
    return l;
  }

  std::vector<int32_t> ids(const YAML::Node& n, const std::string& p) const {
    if (!n.IsSequence() || n.size() == 0) fail(n, p, "must be a non-empty list of token ids");
    std::vector<int32_t> out;
    for (size_t i = 0; i < n.size(); ++i) {
      int64_t v = integer(n[i], p + "[" + std::to_string(i) + "]");
      if (v < 0 || v > INT32_MAX) fail(n[i], p, "token ids are >= 0");
      out.push_back(int32_t(v));
    }
    return out;
  }

  // A prompt: text (tokenized with the model's tokenizer before the run) or token ids.
  SimWorkItem prompt(const YAML::Node& n, const std::string& p) const {
    SimWorkItem item;
    if (n.IsScalar()) {
      item.prompt_text = n.as<std::string>();
      if (item.prompt_text.empty()) fail(n, p, "an empty prompt");
    } else {
      item.prompt = ids(n, p);
    }
    return item;
  }

  void topology(const YAML::Node& n, Scenario& s) const;
  void costs(const YAML::Node& n, Scenario& s) const;
  void workload(const YAML::Node& n, Scenario& s) const;
  SimFault fault(const YAML::Node& n, const std::string& p, int stages, bool sealed) const;

  // kms_error / s3_error: the service answers with `error` from at_ms (default 0), for
  // duration_ms (default: the rest of the run) and at most `count` calls (0 or absent: all).
  SimFault service_fault(const YAML::Node& n, const std::string& p, bool sealed, SimFault f) const;
  void faults(const YAML::Node& n, Scenario& s) const;
  void expect(const YAML::Node& n, Scenario& s) const;
  Scenario parse(const YAML::Node& root) const;

 private:
  std::string source_;
};

}  // namespace cpipe::cli::scenario_yaml

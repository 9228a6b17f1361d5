// Key policy parsing and evaluation for SimKms (see sim_kms_policy.h).
#include "backends/simulated/sim_kms_policy.h"

#include <cctype>
#include <nlohmann/json.hpp>

namespace cpipe::sim {
namespace {

using json = nlohmann::json;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status bad(std::string what) { return make_error(ErrorCode::PARSE_ERROR, "key policy: " + std::move(what)); }

// A string or an array of strings.
Result<std::vector<std::string>> string_list(const json& j, const std::string& what) {
  std::vector<std::string> out;
  if (j.is_string()) {
    out.push_back(j.get<std::string>());
  } else if (j.is_array() && !j.empty()) {
    for (const auto& e : j) {
      if (!e.is_string()) return bad(what + " must hold strings");
      out.push_back(e.get<std::string>());
    }
  } else {
    return bad(what + " must be a string or a non-empty array of strings");
  }
  return out;
}

constexpr std::string_view kOperators[] = {"StringEquals",    "StringEqualsIgnoreCase", "StringNotEquals",
                                           "StringNotEqualsIgnoreCase", "StringLike", "Null"};

bool known_operator(std::string_view op) {
  for (auto k : kOperators)
    if (k == op) return true;
  return false;
}

bool negated(std::string_view op) { return op.starts_with("StringNot"); }

bool value_matches(std::string_view op, std::string_view pattern, std::string_view value) {
  if (op == "StringEquals" || op == "StringNotEquals") return pattern == value;
  if (op == "StringEqualsIgnoreCase" || op == "StringNotEqualsIgnoreCase") return lower(pattern) == lower(value);
  if (op == "StringLike") return KmsKeyPolicy::wildcard_match(pattern, value, false);
  return false;
}

bool condition_holds(const KmsKeyPolicy::Condition& c, const std::map<std::string, std::string>& context) {
  const auto it = context.find(c.key);
  const bool present = it != context.end();
  if (c.op == "Null") {
    // "true": the key must be absent; "false": present. Values OR.
    for (const auto& v : c.values)
      if ((lower(v) == "true") != present) return true;
    return false;
  }
  if (!present) return negated(c.op);
  bool any = false;
  for (const auto& v : c.values) any = any || value_matches(c.op, v, it->second);
  return negated(c.op) ? !any : any;
}

std::string account_of(std::string_view arn) {
  // arn:aws:iam::ACCOUNT:...
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    pos = arn.find(':', pos);
    if (pos == std::string_view::npos) return {};
    ++pos;
  }
  const size_t end = arn.find(':', pos);
  return end == std::string_view::npos ? std::string() : std::string(arn.substr(pos, end - pos));
}

bool principal_matches(const std::string& pattern, const std::string& principal) {
  if (pattern == "*" || pattern == principal) return true;
  if (pattern.ends_with(":root")) {
    const std::string account = account_of(pattern);
    return !account.empty() && account == account_of(principal);
  }
  return false;
}

}  // namespace

bool KmsKeyPolicy::wildcard_match(std::string_view p, std::string_view t, bool ignore_case) {
  // Iterative glob with backtracking to the last '*'.
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  auto eq = [&](char a, char b) {
    return ignore_case ? std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b))
                       : a == b;
  };
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti])))) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

Result<KmsKeyPolicy> KmsKeyPolicy::parse(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return bad("not a JSON object");
  if (!doc.contains("Statement")) return bad("no Statement");
  json stmts = doc["Statement"];
  if (stmts.is_object()) stmts = json::array({stmts});
  if (!stmts.is_array() || stmts.empty()) return bad("Statement must be an object or a non-empty array");
  KmsKeyPolicy policy;
  for (const auto& s : stmts) {
    if (!s.is_object()) return bad("a statement is not an object");
    Statement st;
    if (s.contains("Sid") && s["Sid"].is_string()) st.sid = s["Sid"].get<std::string>();
    if (!s.contains("Effect") || !s["Effect"].is_string()) return bad("statement without Effect");
    const std::string effect = s["Effect"].get<std::string>();
    if (effect != "Allow" && effect != "Deny") return bad("Effect must be Allow or Deny, not " + effect);
    st.allow = effect == "Allow";
    if (!s.contains("Principal")) return bad("statement without Principal");
    const json& p = s["Principal"];
    if (p.is_string() && p.get<std::string>() == "*") {
      st.any_principal = true;
    } else if (p.is_object() && p.contains("AWS")) {
      CPIPE_ASSIGN_OR_RETURN(st.principals, string_list(p["AWS"], "Principal.AWS"));
      for (const auto& a : st.principals) st.any_principal = st.any_principal || a == "*";
    } else {
      return bad("Principal must be \"*\" or {\"AWS\": ...}");
    }
    if (s.contains("Action") == s.contains("NotAction")) return bad("statement needs exactly one of Action, NotAction");
    st.not_action = s.contains("NotAction");
    CPIPE_ASSIGN_OR_RETURN(st.actions, string_list(st.not_action ? s["NotAction"] : s["Action"], "Action"));
    if (s.contains("Condition")) {
      const json& cond = s["Condition"];
      if (!cond.is_object()) return bad("Condition must be an object");
      for (const auto& [op_full, keys] : cond.items()) {
        std::string op = op_full;
        if (op.starts_with("ForAnyValue:")) op = op.substr(12);
        if (op.ends_with("IfExists")) return bad("...IfExists operators are not supported: " + op_full);
        if (!known_operator(op)) return bad("unsupported condition operator " + op_full);
        if (!keys.is_object() || keys.empty()) return bad("condition " + op_full + " must map keys to values");
        for (const auto& [key, values] : keys.items()) {
          Condition c;
          c.op = op;
          c.key = lower(key);
          CPIPE_ASSIGN_OR_RETURN(c.values, string_list(values, "condition " + key));
          st.conditions.push_back(std::move(c));
        }
      }
    }
    policy.statements_.push_back(std::move(st));
  }
  return policy;
}

KmsPolicyDecision KmsKeyPolicy::evaluate(const KmsPolicyRequest& request) const {
  std::map<std::string, std::string> context;
  for (const auto& [k, v] : request.context) context[lower(k)] = v;
  KmsPolicyDecision decision;
  std::string allowed_by;
  for (const Statement& st : statements_) {
    bool principal = st.any_principal;
    for (const auto& p : st.principals) principal = principal || principal_matches(p, request.principal_arn);
    if (!principal) continue;
    bool action = false;
    for (const auto& a : st.actions) action = action || wildcard_match(a, request.action, /*ignore_case=*/true);
    if (st.not_action) action = !action;
    if (!action) continue;
    bool conditions = true;
    for (const auto& c : st.conditions) conditions = conditions && condition_holds(c, context);
    if (!conditions) continue;
    if (!st.allow) {
      decision.allowed = false;
      decision.explicit_deny = true;
      decision.reason = "User: " + request.principal_arn + " is not authorized to perform: " + request.action +
                        " on resource: " + request.resource_arn + " with an explicit deny in a resource-based policy";
      return decision;
    }
    if (allowed_by.empty()) allowed_by = st.sid.empty() ? "(statement without Sid)" : st.sid;
  }
  if (!allowed_by.empty()) {
    decision.allowed = true;
    decision.reason = allowed_by;
    return decision;
  }
  decision.reason = "User: " + request.principal_arn + " is not authorized to perform: " + request.action +
                    " on resource: " + request.resource_arn + " because no resource-based policy allows the " +
                    request.action + " action";
  return decision;
}

}  // namespace cpipe::sim

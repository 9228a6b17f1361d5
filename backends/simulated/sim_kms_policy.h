// The key policy SimKms enforces: an AWS IAM policy document (the JSON an operator attaches to a
// KMS key), parsed once and evaluated per request with AWS's rules — an explicit Deny wins, else
// any matching Allow, else the implicit deny. What is modelled:
//   Effect Allow|Deny; Principal "*" or {"AWS": ARN | [ARN...] | "*"} (an account root ARN
//   "arn:aws:iam::ACCOUNT:root" matches every principal of that account); Action / NotAction
//   with '*' and '?' wildcards ("kms:*", "kms:Decrypt"); Resource is ignored (a key policy
//   applies to its key); Condition with StringEquals, StringEqualsIgnoreCase, StringNotEquals,
//   StringNotEqualsIgnoreCase, StringLike and Null, each optionally prefixed ForAnyValue: (the
//   keys here are single-valued, so it changes nothing).
// Condition semantics as AWS documents them: operators AND, keys within an operator AND, values
// of one key OR; condition key names are case-insensitive; a key absent from the request makes a
// positive operator false and a negated one true. The context keys SimKms supplies:
//   kms:RecipientAttestation:ImageSha384 (PCR0, lowercase hex), kms:RecipientAttestation:PCR<n>,
//   kms:EncryptionContext:<key>, aws:PrincipalArn, kms:CallerAccount.
// Anything else in the document (an unknown operator, a malformed statement) is a parse error,
// so a policy can never be silently weaker than written.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace cpipe::sim {

struct KmsPolicyRequest {
  std::string action;         // "kms:Decrypt"
  std::string principal_arn;  // "arn:aws:iam::111122223333:role/enclave"
  std::string resource_arn;   // the key's ARN (for messages)
  // Condition keys (any case) -> value.
  std::map<std::string, std::string> context;
};

struct KmsPolicyDecision {
  bool allowed = false;
  bool explicit_deny = false;
  std::string reason;  // AWS-style AccessDenied message when not allowed; the Sid that allowed otherwise
};

class KmsKeyPolicy {
 public:
  // PARSE_ERROR with the reason.
  static Result<KmsKeyPolicy> parse(std::string_view json);
  KmsPolicyDecision evaluate(const KmsPolicyRequest& request) const;

  // Shell-style match with '*' and '?', case-sensitive unless `ignore_case`.
  static bool wildcard_match(std::string_view pattern, std::string_view text, bool ignore_case);

  struct Condition {
    std::string op;           // base operator, e.g. "StringEqualsIgnoreCase"
    std::string key;          // lowercased
    std::vector<std::string> values;
  };
  struct Statement {
    std::string sid;
    bool allow = false;
    bool any_principal = false;
    std::vector<std::string> principals;
    bool not_action = false;
    std::vector<std::string> actions;
    std::vector<Condition> conditions;
  };
  const std::vector<Statement>& statements() const { return statements_; }

 private:
  std::vector<Statement> statements_;
};

}  // namespace cpipe::sim

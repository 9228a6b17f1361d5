// Internal to core/receipt: records check outcomes while a receipt is verified and turns them
// into a VerifyReport in the fixed check order, with NOT_RUN for checks a failed layer stopped.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/receipt/air_check.h"

namespace cpipe::receipt::internal {

struct CheckName {
  const char* name;
  Layer layer;
};

// Every check, in the order they run and are reported.
inline constexpr std::array kChecks = {
    CheckName{"SIZE", Layer::kParse},          CheckName{"COSE_DECODE", Layer::kParse},
    CheckName{"ALG", Layer::kParse},           CheckName{"CONTENT_TYPE", Layer::kParse},
    CheckName{"PROTECTED_HEADER", Layer::kParse}, CheckName{"UNPROTECTED", Layer::kParse},
    CheckName{"PAYLOAD", Layer::kParse},       CheckName{"CLAIMS_DECODE", Layer::kParse},
    CheckName{"DETERMINISTIC", Layer::kParse}, CheckName{"EAT_PROFILE", Layer::kParse},
    CheckName{"SIG", Layer::kCrypto},
    CheckName{"CLAIMS", Layer::kClaims},       CheckName{"CTI", Layer::kClaims},
    CheckName{"IAT", Layer::kClaims},          CheckName{"MHASH_PRESENT", Layer::kClaims},
    CheckName{"HASHES", Layer::kClaims},       CheckName{"TEXT", Layer::kClaims},
    CheckName{"NONCE_FORMAT", Layer::kClaims}, CheckName{"MEAS", Layer::kClaims},
    CheckName{"MTYPE", Layer::kClaims},        CheckName{"MHASH_SCHEME", Layer::kClaims},
    CheckName{"SECMODE", Layer::kClaims},
    CheckName{"FRESH", Layer::kPolicy},        CheckName{"MHASH", Layer::kPolicy},
    CheckName{"MODEL", Layer::kPolicy},        CheckName{"PLATFORM", Layer::kPolicy},
    CheckName{"NONCE", Layer::kPolicy},        CheckName{"SECMODE_POLICY", Layer::kPolicy},
    CheckName{"REPLAY", Layer::kPolicy},
};

class Recorder {
 public:
  void pass(const char* name, std::string detail = "") { add(name, CheckStatus::kPass, CheckCode::kNone, std::move(detail)); }
  void skip(const char* name, std::string detail = "") { add(name, CheckStatus::kSkip, CheckCode::kNone, std::move(detail)); }
  void fail(const char* name, CheckCode code, std::string detail) {
    add(name, CheckStatus::kFail, code, std::move(detail));
  }
  bool failed() const { return failed_; }

  // The report in kChecks order; checks that did not run are NOT_RUN.
  VerifyReport finish(std::optional<AirClaims> claims) {
    VerifyReport r;
    for (const CheckName& c : kChecks) {
      auto it = recorded_.find(c.name);
      if (it != recorded_.end()) {
        r.checks.push_back(std::move(it->second));
      } else {
        r.checks.push_back(Check{c.name, c.layer, CheckStatus::kNotRun, CheckCode::kNone, ""});
      }
    }
    r.claims = std::move(claims);
    return r;
  }

 private:
  void add(const char* name, CheckStatus status, CheckCode code, std::string detail) {
    Layer layer = Layer::kParse;
    for (const CheckName& c : kChecks) {
      if (std::string_view(c.name) == name) layer = c.layer;
    }
    if (status == CheckStatus::kFail) failed_ = true;
    recorded_.emplace(name, Check{name, layer, status, code, std::move(detail)});
  }
  std::map<std::string, Check> recorded_;
  bool failed_ = false;
};

}  // namespace cpipe::receipt::internal

// Names and ErrorCode mapping of the AIR v1 check codes.
#include "core/receipt/air_check.h"

namespace cpipe::receipt {

std::string_view check_code_name(CheckCode code) {
  switch (code) {
    case CheckCode::kNone:
      return "";
#define CPIPE_AIR_NAME(e, name, err) \
  case CheckCode::e:                 \
    return name;
      CPIPE_AIR_CHECK_CODES(CPIPE_AIR_NAME)
#undef CPIPE_AIR_NAME
  }
  return "";
}

ErrorCode check_code_error(CheckCode code) {
  switch (code) {
    case CheckCode::kNone:
      return ErrorCode::OK;
#define CPIPE_AIR_ERR(e, name, err) \
  case CheckCode::e:                \
    return ErrorCode::err;
      CPIPE_AIR_CHECK_CODES(CPIPE_AIR_ERR)
#undef CPIPE_AIR_ERR
  }
  return ErrorCode::RECEIPT_INVALID;
}

std::string_view layer_name(Layer layer) {
  switch (layer) {
    case Layer::kParse: return "parse";
    case Layer::kCrypto: return "crypto";
    case Layer::kClaims: return "claims";
    case Layer::kPolicy: return "policy";
    case Layer::kBinding: return "binding";
  }
  return "";
}

std::string_view check_status_name(CheckStatus status) {
  switch (status) {
    case CheckStatus::kPass: return "PASS";
    case CheckStatus::kFail: return "FAIL";
    case CheckStatus::kSkip: return "SKIP";
    case CheckStatus::kNotRun: return "NOT_RUN";
  }
  return "";
}

bool VerifyReport::verified() const { return !checks.empty() && first_failure() == nullptr; }

const Check* VerifyReport::first_failure() const {
  for (const Check& c : checks) {
    if (c.status == CheckStatus::kFail) return &c;
  }
  return nullptr;
}

const Check* VerifyReport::find(std::string_view name) const {
  for (const Check& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Status VerifyReport::status() const {
  const Check* f = first_failure();
  if (f == nullptr) {
    return checks.empty() ? make_error(ErrorCode::RECEIPT_INVALID, "no checks ran") : Status();
  }
  std::string msg = f->name + "/" + std::string(check_code_name(f->code));
  if (!f->detail.empty()) msg += ": " + f->detail;
  return make_error(check_code_error(f->code), std::move(msg));
}

}  // namespace cpipe::receipt

// Names and documentation strings of the error codes, generated from error_codes.h.
#include "core/base/status.h"

namespace cpipe {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
#define CPIPE_NAME_ENTRY(name, num, doc) \
  case ErrorCode::name:                  \
    return #name;
    CPIPE_ERROR_CODES(CPIPE_NAME_ENTRY)
#undef CPIPE_NAME_ENTRY
  }
  return "UNKNOWN";
}

std::string_view error_code_doc(ErrorCode code) {
  switch (code) {
#define CPIPE_DOC_ENTRY(name, num, doc) \
  case ErrorCode::name:                 \
    return doc;
    CPIPE_ERROR_CODES(CPIPE_DOC_ENTRY)
#undef CPIPE_DOC_ENTRY
  }
  return "unknown error code";
}

std::optional<ErrorCode> error_code_from_name(std::string_view name) {
#define CPIPE_FROM_NAME_ENTRY(n, num, doc) \
  if (name == #n) return ErrorCode::n;
  CPIPE_ERROR_CODES(CPIPE_FROM_NAME_ENTRY)
#undef CPIPE_FROM_NAME_ENTRY
  return std::nullopt;
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  std::string out(code_name());
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

}  // namespace cpipe

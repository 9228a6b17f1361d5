// Status and Result<T>: every fallible path in cpipe returns one of these instead of throwing.
// A Status is an ErrorCode (stable, see error_codes.h and docs/errors.md) plus a message for
// humans. Result<T> holds either a value or a non-OK Status (like absl::StatusOr).
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/base/error_codes.h"

namespace cpipe {

enum class ErrorCode : int32_t {
#define CPIPE_ENUM_ENTRY(name, num, doc) name = num,
  CPIPE_ERROR_CODES(CPIPE_ENUM_ENTRY)
#undef CPIPE_ENUM_ENTRY
};

// "CHANNEL_BAD_TAG" for ErrorCode::CHANNEL_BAD_TAG; "UNKNOWN" for a value not in the list.
std::string_view error_code_name(ErrorCode code);
// One-line meaning from error_codes.h.
std::string_view error_code_doc(ErrorCode code);
// Inverse of error_code_name; nullopt for an unknown name.
std::optional<ErrorCode> error_code_from_name(std::string_view name);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::OK; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string_view code_name() const { return error_code_name(code_); }

  // "CHANNEL_BAD_TAG: record 7 failed authentication"
  std::string to_string() const;

  // Adds context in front of the message, keeping the code: "while loading stage 1: ...".
  Status with_context(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  ErrorCode code_ = ErrorCode::OK;
  std::string message_;
};

inline Status make_error(ErrorCode code, std::string message) {
  assert(code != ErrorCode::OK);
  return Status(code, std::move(message));
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }
  ErrorCode code() const { return ok() ? ErrorCode::OK : std::get<Status>(v_).code(); }

  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cpipe

#define CPIPE_CONCAT_INNER_(a, b) a##b
#define CPIPE_CONCAT_(a, b) CPIPE_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function when `expr` (a Status) is not OK.
#define CPIPE_RETURN_IF_ERROR(expr)              \
  do {                                           \
    ::cpipe::Status cpipe_status_ = (expr);      \
    if (!cpipe_status_.ok()) return cpipe_status_; \
  } while (0)

// `lhs = value of expr` (a Result<T>), or return its Status from the enclosing function.
#define CPIPE_ASSIGN_OR_RETURN(lhs, expr) \
  CPIPE_ASSIGN_OR_RETURN_IMPL_(CPIPE_CONCAT_(cpipe_result_, __LINE__), lhs, expr, return)

// The same two for coroutines (co_return).
#define CPIPE_CO_RETURN_IF_ERROR(expr)                \
  do {                                                \
    ::cpipe::Status cpipe_status_ = (expr);           \
    if (!cpipe_status_.ok()) co_return cpipe_status_; \
  } while (0)
#define CPIPE_CO_ASSIGN_OR_RETURN(lhs, expr) \
  CPIPE_ASSIGN_OR_RETURN_IMPL_(CPIPE_CONCAT_(cpipe_result_, __LINE__), lhs, expr, co_return)

#define CPIPE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr, ret) \
  auto tmp = (expr);                                      \
  if (!tmp.ok()) ret tmp.status();                        \
  lhs = std::move(tmp).value()

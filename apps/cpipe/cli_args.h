// Argument helpers shared by the cpipe subcommands: reading input files, hex arguments, and the
// TIME syntax every command that verifies something at a time accepts (`--at`, `--now`).
#pragma once

#include <cstdint>
#include <string>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::cli {

// The whole file; IO_ERROR naming `what` ("evidence", "VCEK") and the path on failure.
Result<Bytes> read_file(const std::string& path, const char* what);

// Hex argument of `flag`; INVALID_ARGUMENT naming the flag.
Result<Bytes> hex_arg(const std::string& text, const char* flag);

// TIME: milliseconds since the Unix epoch (all digits), RFC 3339 ("2022-10-13T09:00:00Z",
// fractional seconds and numeric offsets allowed), or "now" — the wall clock, read only when a
// user asks for it explicitly. INVALID_ARGUMENT naming `flag` otherwise.
Result<int64_t> parse_time_ms(const std::string& text, const char* flag);

// RFC 3339 UTC with milliseconds: "2022-10-13T08:58:02.136Z".
std::string rfc3339_ms(int64_t unix_ms);

}  // namespace cpipe::cli

// File, hex and time arguments of the cpipe command (civil-date arithmetic after H. Hinnant's
// public-domain algorithms).
#include "apps/cpipe/cli_args.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>

namespace cpipe::cli {
namespace {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

// Parses `len` digits at `pos`.
bool digits_at(const std::string& s, size_t pos, size_t len, int64_t* out) {
  if (pos + len > s.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

Result<Bytes> read_file(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(ErrorCode::IO_ERROR, std::string("cannot read ") + what + " file " + path);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

Result<Bytes> hex_arg(const std::string& text, const char* flag) {
  auto b = hex_decode(text);
  if (!b.ok()) return make_error(ErrorCode::INVALID_ARGUMENT, std::string(flag) + " is not hex");
  return b;
}

Result<int64_t> parse_time_ms(const std::string& s, const char* flag) {
  auto bad = [&] {
    return make_error(ErrorCode::INVALID_ARGUMENT,
                      std::string(flag) + " \"" + s + "\" is not RFC 3339 or ms since the epoch");
  };
  if (s == "now") {
    return int64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count());
  }
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) {
    if (s.size() > 15) return bad();
    return int64_t(std::stoll(s));
  }
  int64_t y, mo, d, h, mi, sec;
  if (s.size() < 20 || !digits_at(s, 0, 4, &y) || s[4] != '-' || !digits_at(s, 5, 2, &mo) || s[7] != '-' ||
      !digits_at(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits_at(s, 11, 2, &h) || s[13] != ':' || !digits_at(s, 14, 2, &mi) || s[16] != ':' ||
      !digits_at(s, 17, 2, &sec)) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return bad();
  size_t pos = 19;
  int64_t frac_ms = 0;
  if (s[pos] == '.') {
    int digits = 0;
    for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, ++digits) {
      if (digits < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
    }
    if (digits == 0) return bad();
    for (int i = digits; i < 3; ++i) frac_ms *= 10;
  }
  int64_t offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int64_t oh, om;
    if (!digits_at(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits_at(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return bad();
    }
    offset_min = (s[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  // A leap second (:60) counts as :59, the most a Unix time can say.
  int64_t secs = ((days_from_civil(y, unsigned(mo), unsigned(d)) * 24 + h) * 60 + mi) * 60 +
                 std::min<int64_t>(sec, 59);
  return (secs - offset_min * 60) * 1000 + frac_ms;
}

std::string rfc3339_ms(int64_t ms) {
  int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  int64_t rem = ms - days * 86400000;
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = int64_t(yoe) + era * 400 + (m <= 2);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", (long long)y, m, d,
                (long long)(rem / 3600000), (long long)(rem / 60000 % 60), (long long)(rem / 1000 % 60),
                (long long)(rem % 1000));
  return buf;
}

}  // namespace cpipe::cli

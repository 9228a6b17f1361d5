// AWS SigV4 signing (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
// with the canonicalization rules AWS's test suite pins: header values trimmed and inner
// whitespace runs folded to one space, folded (multi-line) values joined, repeated headers
// joined with ',', query parameters decoded then re-encoded and sorted.
#include "core/keys/sigv4.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "core/crypto/hash.h"

namespace cpipe::keys {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// Headers a proxy may rewrite; signing them would break requests for no security gain.
bool unsigned_header(std::string_view lower_name) {
  return lower_name == "authorization" || lower_name == "user-agent" || lower_name == "x-amzn-trace-id" ||
         lower_name == "expect" || lower_name == "connection" || lower_name == "transfer-encoding";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string fold_whitespace(std::string_view v) {
  std::string out;
  bool pending_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// name (lowercase) -> canonical value, sorted by name.
std::map<std::string, std::string> canonical_headers(const HttpHeaders& headers) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : headers) {
    std::string n = lower(name);
    if (unsigned_header(n)) continue;
    std::string v = fold_whitespace(value);
    auto it = out.find(n);
    if (it == out.end()) {
      out.emplace(std::move(n), std::move(v));
    } else {
      it->second += ',' + v;
    }
  }
  return out;
}

struct Prepared {
  std::string date;
  std::string scope;
  std::string payload_hash;
};

Status check(const HttpRequest& r, const AwsCredentials& c, const SigV4Options& o) {
  if (r.method.empty() || r.path.empty() || r.path[0] != '/')
    return make_error(ErrorCode::INVALID_ARGUMENT, "SigV4: request needs a method and a path starting with '/'");
  if (o.region.empty() || o.service.empty() || c.access_key_id.empty() || c.secret_access_key.empty())
    return make_error(ErrorCode::INVALID_ARGUMENT, "SigV4: region, service and credentials are required");
  return Status::Ok();
}

Prepared prepare(const HttpRequest& r, const SigV4Options& o) {
  Prepared p;
  p.date = amz_date(o.unix_time);
  p.scope = amz_short_date(o.unix_time) + "/" + o.region + "/" + o.service + "/aws4_request";
  p.payload_hash = o.payload_hash.empty() ? hex_encode(crypto::sha256(as_bytes(r.body))) : o.payload_hash;
  return p;
}

std::string build_canonical(const HttpRequest& r, const SigV4Options& o, std::string_view canonical_query,
                            const std::map<std::string, std::string>& headers, std::string* signed_headers,
                            const std::string& payload_hash) {
  std::string canon_headers;
  signed_headers->clear();
  for (const auto& [n, v] : headers) {
    canon_headers += n + ":" + v + "\n";
    if (!signed_headers->empty()) signed_headers->push_back(';');
    *signed_headers += n;
  }
  return r.method + "\n" + sigv4_canonical_path(r.path, o.normalize_path) + "\n" + std::string(canonical_query) +
         "\n" + canon_headers + "\n" + *signed_headers + "\n" + payload_hash;
}

void finish_signature(SigV4Result& out, const AwsCredentials& c, const SigV4Options& o, const Prepared& p) {
  out.string_to_sign = std::string(kAlgorithm) + "\n" + p.date + "\n" + p.scope + "\n" +
                       hex_encode(crypto::sha256(as_bytes(out.canonical_request)));
  Bytes key = sigv4_signing_key(c.secret_access_key, amz_short_date(o.unix_time), o.region, o.service);
  out.signature = hex_encode(crypto::hmac_sha256(key, as_bytes(out.string_to_sign)));
  secure_zero(key);
}

}  // namespace

std::string aws_uri_encode(std::string_view data, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : data) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string sigv4_canonical_path(std::string_view path, bool normalize) {
  if (!normalize) return aws_uri_encode(path, true);
  std::vector<std::string_view> segments;
  bool trailing_slash = false;
  size_t start = 1;  // path[0] == '/'
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    const bool last = end == path.size();
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
      trailing_slash = last;
    } else if (seg == ".") {
      trailing_slash = last;
    } else if (seg.empty()) {
      trailing_slash = last;
    } else {
      segments.push_back(seg);
      trailing_slash = false;
    }
    start = end + 1;
  }
  std::string out = "/";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    out += segments[i];
  }
  if (trailing_slash && !segments.empty()) out.push_back('/');
  return aws_uri_encode(out, true);
}

std::string sigv4_canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view part = query.substr(start, end - start);
    if (!part.empty()) {
      size_t eq = part.find('=');
      std::string_view k = part.substr(0, eq);
      std::string_view v = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
      params.emplace_back(aws_uri_encode(percent_decode(k), false), aws_uri_encode(percent_decode(v), false));
    }
    start = end + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out += k + "=" + v;
  }
  return out;
}

Bytes sigv4_signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service) {
  std::string seed = "AWS4" + std::string(secret);
  Bytes k = crypto::hmac_sha256(as_bytes(seed), as_bytes(date));
  secure_zero(MutableByteSpan(reinterpret_cast<uint8_t*>(seed.data()), seed.size()));
  k = crypto::hmac_sha256(k, as_bytes(region));
  k = crypto::hmac_sha256(k, as_bytes(service));
  return crypto::hmac_sha256(k, as_bytes("aws4_request"));
}

namespace {
// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}
std::string two(unsigned v) { return std::string{char('0' + v / 10), char('0' + v % 10)}; }
}  // namespace

std::string amz_short_date(int64_t t) {
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  std::string ys = std::to_string(y);
  while (ys.size() < 4) ys.insert(ys.begin(), '0');
  return ys + two(m) + two(d);
}

std::string amz_date(int64_t t) {
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  const int64_t secs = t - days * 86400;
  return amz_short_date(t) + "T" + two(unsigned(secs / 3600)) + two(unsigned(secs / 60 % 60)) +
         two(unsigned(secs % 60)) + "Z";
}

Result<int64_t> parse_iso8601_utc(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SSZ exactly.
  auto bad = [] { return make_error(ErrorCode::INVALID_ARGUMENT, "expected YYYY-MM-DDTHH:MM:SSZ"); };
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
    return bad();
  auto num = [&](size_t pos, size_t len, int64_t& out) {
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int64_t y, mo, d, h, mi, se;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) || !num(17, 2, se))
    return bad();
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return bad();
  return days_from_civil(y, unsigned(mo), unsigned(d)) * 86400 + h * 3600 + mi * 60 + se;
}

Result<SigV4Result> sigv4_sign_headers(const HttpRequest& request, const AwsCredentials& credentials,
                                       const SigV4Options& options) {
  CPIPE_RETURN_IF_ERROR(check(request, credentials, options));
  const Prepared p = prepare(request, options);
  SigV4Result out;
  HttpHeaders headers;
  for (const auto& h : request.headers)
    if (lower(h.first) != "x-amz-date") headers.push_back(h);
  const bool token = !credentials.session_token.empty();
  if (token && !options.omit_session_token)
    out.added_headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  out.added_headers.emplace_back("X-Amz-Date", p.date);
  if (options.sign_body_header) out.added_headers.emplace_back("x-amz-content-sha256", p.payload_hash);
  headers.insert(headers.end(), out.added_headers.begin(), out.added_headers.end());
  std::string signed_headers;
  out.canonical_request = build_canonical(request, options, sigv4_canonical_query(request.query),
                                          canonical_headers(headers), &signed_headers, p.payload_hash);
  finish_signature(out, credentials, options, p);
  if (token && options.omit_session_token)
    out.added_headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  out.added_headers.emplace_back(
      "Authorization", std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" + p.scope +
                           ", SignedHeaders=" + signed_headers + ", Signature=" + out.signature);
  return out;
}

Result<SigV4Result> sigv4_sign_query(const HttpRequest& request, const AwsCredentials& credentials,
                                     const SigV4Options& options) {
  CPIPE_RETURN_IF_ERROR(check(request, credentials, options));
  const Prepared p = prepare(request, options);
  SigV4Result out;
  const auto headers = canonical_headers(request.headers);
  std::string signed_headers;
  for (const auto& kv : headers) signed_headers += (signed_headers.empty() ? "" : ";") + kv.first;
  std::vector<std::pair<std::string, std::string>> added = {
      {"X-Amz-Algorithm", std::string(kAlgorithm)},
      {"X-Amz-Credential", credentials.access_key_id + "/" + p.scope},
      {"X-Amz-Date", p.date},
      {"X-Amz-SignedHeaders", signed_headers},
      {"X-Amz-Expires", std::to_string(options.expires_seconds)},
  };
  const bool token = !credentials.session_token.empty();
  if (token && !options.omit_session_token) added.emplace_back("X-Amz-Security-Token", credentials.session_token);
  std::string query = request.query;
  for (const auto& [k, v] : added) query += (query.empty() ? "" : "&") + k + "=" + aws_uri_encode(v, false);
  out.canonical_request =
      build_canonical(request, options, sigv4_canonical_query(query), headers, &signed_headers, p.payload_hash);
  finish_signature(out, credentials, options, p);
  if (token && options.omit_session_token)
    query += "&X-Amz-Security-Token=" + aws_uri_encode(credentials.session_token, false);
  query += "&X-Amz-Signature=" + out.signature;
  out.signed_query = std::move(query);
  return out;
}

}  // namespace cpipe::keys

// HTTP/1.1 over runtime::Stream with Boost.Beast's parser and serializer (see http_message.h).
#include "core/keys/http_message.h"

// GCC 12 reports a false -Wmaybe-uninitialized inside Beast's parser (boost::optional returned
// by content_length_unchecked) in sanitizer builds; it is Boost's code, not ours.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cctype>

namespace cpipe::keys {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using runtime::Task;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool has_header(const HttpHeaders& headers, std::string_view name) {
  for (const auto& h : headers)
    if (iequals(h.first, name)) return true;
  return false;
}

Status malformed(std::string what) { return make_error(ErrorCode::PARSE_ERROR, "HTTP: " + std::move(what)); }

// Drives the serializer and concatenates what it emits.
template <bool isRequest>
std::string serialize(http::message<isRequest, http::string_body>& message) {
  std::string out;
  http::serializer<isRequest, http::string_body> sr{message};
  beast::error_code ec;
  while (!sr.is_done()) {
    size_t emitted = 0;
    sr.next(ec, [&](beast::error_code&, const auto& buffers) {
      for (auto b : beast::buffers_range_ref(buffers)) {
        out.append(static_cast<const char*>(b.data()), b.size());
        emitted += b.size();
      }
    });
    if (ec) break;  // string bodies cannot fail; keep what was produced
    sr.consume(emitted);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return malformed("bad percent escape in target");
    const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return malformed("bad percent escape in target");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// Feeds `parser` from `stream` until it has one whole message. `pending` carries bytes read but
// not yet consumed. Returns whether any byte was read at all (for the clean-EOF case).
template <class Parser>
Task<Status> parse_from(runtime::Stream& stream, Parser& parser, HttpReadLimits limits, bool* got_bytes) {
  std::string pending;
  Bytes buf(16 * 1024);
  *got_bytes = false;
  beast::error_code ec;
  while (!parser.is_done()) {
    if (!pending.empty()) {
      const size_t used = parser.put(beast::net::const_buffer(pending.data(), pending.size()), ec);
      pending.erase(0, used);
      if (ec == http::error::need_more) {
        ec = {};
      } else if (ec == http::error::header_limit) {
        co_return malformed("header larger than " + std::to_string(limits.max_header_bytes) + " bytes");
      } else if (ec == http::error::body_limit) {
        co_return malformed("body larger than " + std::to_string(limits.max_body_bytes) + " bytes");
      } else if (ec) {
        co_return malformed(ec.message());
      }
      if (parser.is_done()) break;
      if (used > 0 && !pending.empty()) continue;
    }
    // A header split across reads sits whole in `pending` until it parses: bound it here too.
    if (pending.size() > limits.max_header_bytes + limits.max_body_bytes)
      co_return malformed("message larger than the limits");
    Result<size_t> n = co_await stream.read_some(buf, limits.read_timeout);
    if (!n.ok()) {
      if (n.status().code() != ErrorCode::TRANSPORT_CLOSED) co_return n.status();
      if (!*got_bytes) co_return n.status();
      parser.put_eof(ec);
      if (ec) co_return malformed("truncated message (" + ec.message() + ")");
      break;
    }
    *got_bytes = true;
    pending.append(reinterpret_cast<const char*>(buf.data()), *n);
  }
  co_return Status{};
}

template <class Fields>
HttpHeaders headers_of(const Fields& fields) {
  HttpHeaders out;
  for (const auto& f : fields) out.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return out;
}

}  // namespace

std::string http_header(const HttpHeaders& headers, std::string_view name) {
  for (const auto& h : headers)
    if (iequals(h.first, name)) return h.second;
  return {};
}

std::string HttpResponse::header(std::string_view name) const { return http_header(headers, name); }

std::string http_serialize_request(const HttpRequest& request) {
  std::string target = aws_uri_encode(request.path, /*keep_slash=*/true);
  if (!request.query.empty()) target += "?" + request.query;
  http::request<http::string_body> m;
  m.method_string(request.method);
  m.target(target);
  m.version(11);
  for (const auto& [k, v] : request.headers) m.insert(k, v);
  m.body() = request.body;
  if (!has_header(request.headers, "Content-Length")) m.content_length(request.body.size());
  return serialize(m);
}

std::string http_serialize_response(const HttpResponse& response) {
  http::response<http::string_body> m;
  m.result(static_cast<unsigned>(response.status));
  if (!response.reason.empty()) m.reason(response.reason);
  m.version(11);
  for (const auto& [k, v] : response.headers) m.insert(k, v);
  m.body() = response.body;
  if (!has_header(response.headers, "Content-Length") && response.status != 204 && response.status != 304)
    m.content_length(response.body.size());
  return serialize(m);
}

Task<Result<HttpResponse>> http_read_response(runtime::Stream& stream, HttpReadLimits limits, bool head_request) {
  http::response_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  parser.eager(true);
  if (head_request) parser.skip(true);
  bool got = false;
  Status st = co_await parse_from(stream, parser, limits, &got);
  if (!st.ok()) {
    if (st.code() == ErrorCode::TRANSPORT_CLOSED && got) co_return malformed("truncated response");
    if (st.code() == ErrorCode::TRANSPORT_CLOSED) co_return malformed("connection closed before any response");
    co_return st;
  }
  auto& m = parser.get();
  HttpResponse out;
  out.status = static_cast<int>(m.result_int());
  out.reason = std::string(m.reason());
  out.headers = headers_of(m);
  out.body = std::move(m.body());
  co_return out;
}

Task<Result<HttpRequest>> http_read_request(runtime::Stream& stream, HttpReadLimits limits) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  parser.eager(true);
  bool got = false;
  Status st = co_await parse_from(stream, parser, limits, &got);
  if (!st.ok()) {
    if (st.code() == ErrorCode::TRANSPORT_CLOSED && got) co_return malformed("truncated request");
    co_return st;
  }
  auto& m = parser.get();
  HttpRequest out;
  out.method = std::string(m.method_string());
  const std::string target_text(m.target());
  std::string_view target = target_text;
  const size_t q = target.find('?');
  auto path = percent_decode(target.substr(0, q));
  if (!path.ok()) co_return path.status();
  out.path = std::move(*path);
  if (q != std::string_view::npos) out.query = std::string(target.substr(q + 1));
  out.headers = headers_of(m);
  out.body = std::move(m.body());
  co_return out;
}

}  // namespace cpipe::keys

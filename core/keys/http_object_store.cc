// HttpObjectStore: S3 HEAD / ranged GET over HTTP/1.1, with connection reuse and retries.
#include "core/keys/http_object_store.h"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cstring>
#include <optional>

namespace cpipe::keys {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using runtime::Task;

constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

Status bad(std::string what) { return make_error(ErrorCode::KEYS_STORE_BAD_RESPONSE, "S3: " + std::move(what)); }

// The text between <tag> and </tag> in an S3 XML error body (no entity decoding: it is only
// carried into a message).
std::string xml_field(std::string_view body, std::string_view tag) {
  std::string open = "<", close = "</";
  open.append(tag).push_back('>');
  close.append(tag).push_back('>');
  const size_t a = body.find(open);
  if (a == std::string_view::npos) return {};
  const size_t b = body.find(close, a + open.size());
  if (b == std::string_view::npos) return {};
  return std::string(body.substr(a + open.size(), b - a - open.size()));
}

bool parse_u64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  *out = v;
  return true;
}

// "bytes FIRST-LAST/TOTAL" (206) or "bytes */TOTAL" (416; first/last then unset).
bool parse_content_range(std::string_view v, std::optional<uint64_t>* first, std::optional<uint64_t>* last,
                         uint64_t* total) {
  if (v.substr(0, 6) != "bytes ") return false;
  v.remove_prefix(6);
  const size_t slash = v.find('/');
  if (slash == std::string_view::npos || !parse_u64(v.substr(slash + 1), total)) return false;
  std::string_view range = v.substr(0, slash);
  if (range == "*") return true;
  const size_t dash = range.find('-');
  uint64_t a = 0, b = 0;
  if (dash == std::string_view::npos || !parse_u64(range.substr(0, dash), &a) ||
      !parse_u64(range.substr(dash + 1), &b) || b < a || b >= *total)
    return false;
  *first = a;
  *last = b;
  return true;
}

Status error_for_status(int status, std::string_view body, bool head) {
  const std::string code = xml_field(body, "Code"), message = xml_field(body, "Message");
  std::string text = "S3 " + std::to_string(status) + " " + (code.empty() ? (head ? "(HEAD)" : "(no code)") : code);
  if (!message.empty()) text += ": " + message;
  if (status == 404) return make_error(ErrorCode::NOT_FOUND, text);
  if (status == 416) return make_error(ErrorCode::OUT_OF_RANGE, text);
  if (status == 403 || code == "AuthorizationHeaderMalformed" || code == "ExpiredToken" ||
      code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch")
    return make_error(ErrorCode::KEYS_STORE_DENIED, text);
  if (status == 500 || status == 502 || status == 503 || status == 504 || code == "SlowDown")
    return make_error(ErrorCode::UNAVAILABLE, text);
  return make_error(ErrorCode::KEYS_STORE_BAD_RESPONSE, text);
}

// Bytes read from a stream that a parser has not consumed yet.
struct Pending {
  Bytes buf;
  size_t begin = 0, end = 0;
  ByteSpan data() const { return ByteSpan(buf.data() + begin, end - begin); }
  void consume(size_t n) { begin += n; }
};

// Reads until `parser` has the whole response header (the parser needs it in one buffer, so
// it is re-presented from the start until complete). Bytes after the header stay in `pending`.
Task<Status> read_header(runtime::Stream& stream, http::response_parser<http::empty_body>& parser,
                         Pending& pending, runtime::Duration timeout, bool* got_any) {
  for (;;) {
    if (pending.end > pending.begin) {
      beast::error_code ec;
      const size_t used =
          parser.put(beast::net::const_buffer(pending.buf.data() + pending.begin, pending.end - pending.begin), ec);
      pending.consume(used);
      if (ec == http::error::header_limit) co_return bad("response header too large");
      if (ec && ec != http::error::need_more) co_return bad("malformed response header (" + ec.message() + ")");
      if (parser.is_header_done()) co_return Status::Ok();
    }
    if (pending.begin > 0) {  // keep the unparsed header at the front
      std::memmove(pending.buf.data(), pending.buf.data() + pending.begin, pending.end - pending.begin);
      pending.end -= pending.begin;
      pending.begin = 0;
    }
    if (pending.end == pending.buf.size()) co_return bad("response header too large");
    Result<size_t> n = co_await stream.read_some(MutableByteSpan(pending.buf).subspan(pending.end), timeout);
    if (!n.ok()) {
      if (n.code() == ErrorCode::TRANSPORT_CLOSED && *got_any)
        co_return make_error(ErrorCode::TRANSPORT_CLOSED, "S3: connection closed inside a response header");
      co_return n.status();
    }
    *got_any = true;
    pending.end += *n;
  }
}

// An error answer's body (any framing, bounded), after read_header.
Task<Result<std::string>> read_error_body(runtime::Stream& stream, http::response_parser<http::empty_body>&& head,
                                          Pending& pending, size_t limit, runtime::Duration timeout) {
  http::response_parser<http::string_body> parser(std::move(head));
  parser.body_limit(limit);
  parser.eager(true);
  Bytes buf(16 * 1024);
  while (!parser.is_done()) {
    beast::error_code ec;
    if (pending.end > pending.begin) {
      pending.consume(parser.put(beast::net::const_buffer(pending.buf.data() + pending.begin, pending.end - pending.begin), ec));
      if (ec && ec != http::error::need_more) co_return bad("malformed error body (" + ec.message() + ")");
      if (parser.is_done()) break;
      if (pending.end > pending.begin && !ec) continue;
    }
    Result<size_t> n = co_await stream.read_some(buf, timeout);
    if (!n.ok()) {
      if (n.code() != ErrorCode::TRANSPORT_CLOSED) co_return n.status();
      parser.put_eof(ec);
      if (ec) co_return bad("truncated error body");
      break;
    }
    // Append to the pending buffer (which the header read sized generously).
    if (pending.begin > 0) {
      std::memmove(pending.buf.data(), pending.buf.data() + pending.begin, pending.end - pending.begin);
      pending.end -= pending.begin;
      pending.begin = 0;
    }
    if (pending.buf.size() - pending.end < *n) pending.buf.resize(pending.end + *n);
    std::memcpy(pending.buf.data() + pending.end, buf.data(), *n);
    pending.end += *n;
  }
  co_return std::move(parser.get().body());
}

}  // namespace

bool object_store_error_retryable(ErrorCode code) {
  return code == ErrorCode::UNAVAILABLE || code == ErrorCode::TRANSPORT_RESET ||
         code == ErrorCode::TRANSPORT_CLOSED || code == ErrorCode::TRANSPORT_TIMEOUT ||
         code == ErrorCode::TRANSPORT_REFUSED;
}

HttpObjectStore::HttpObjectStore(runtime::Env& env, runtime::StreamConnector& connector, S3StoreConfig config)
    : env_(&env), connector_(&connector), config_(std::move(config)), log_(env.logger("keys.s3")) {
  if (config_.host.empty())
    config_.host = config_.path_style ? "s3." + config_.region + ".amazonaws.com"
                                      : config_.bucket + ".s3." + config_.region + ".amazonaws.com";
  if (config_.max_attempts < 1) config_.max_attempts = 1;
}

HttpObjectStore::~HttpObjectStore() { close_idle_connections(); }

void HttpObjectStore::close_idle_connections() {
  for (auto& s : idle_) s->close();
  idle_.clear();
}

Result<std::string> HttpObjectStore::build_request(bool head, const std::string& key, uint64_t offset,
                                                   size_t length) const {
  if (key.empty()) return make_error(ErrorCode::INVALID_ARGUMENT, "S3: empty object key");
  HttpRequest r;
  r.method = head ? "HEAD" : "GET";
  r.path = config_.path_style ? "/" + config_.bucket + "/" + key : "/" + key;
  r.headers.emplace_back("Host", config_.host);
  if (!head) r.headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1));
  r.headers.emplace_back("x-amz-content-sha256", std::string(kUnsignedPayload));
  SigV4Options o;
  o.region = config_.region;
  o.service = "s3";
  o.unix_time = env_->clock->wall_now().unix_ns / 1'000'000'000;
  o.normalize_path = false;  // S3 keys are taken literally
  o.payload_hash = std::string(kUnsignedPayload);
  CPIPE_ASSIGN_OR_RETURN(SigV4Result sig, sigv4_sign_headers(r, config_.credentials, o));
  std::string out = r.method + " " + aws_uri_encode(r.path, /*keep_slash=*/true) + " HTTP/1.1\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  for (const auto& [k, v] : sig.added_headers) out += k + ": " + v + "\r\n";
  out += "\r\n";
  return out;
}

Task<Result<HttpObjectStore::Reply>> HttpObjectStore::attempt(bool head, const std::string& key, uint64_t offset,
                                                              MutableByteSpan out, bool* retry_at_once) {
  *retry_at_once = false;
  CPIPE_CO_ASSIGN_OR_RETURN(std::string request, build_request(head, key, offset, out.size()));
  std::shared_ptr<runtime::Stream> stream;
  const bool reused = !idle_.empty();
  if (reused) {
    stream = std::move(idle_.back());
    idle_.pop_back();
  } else {
    Result<std::shared_ptr<runtime::Stream>> s = co_await connector_->connect();
    if (!s.ok()) co_return s.status().with_context("S3 connect");
    stream = std::move(*s);
    ++stats_.connections_opened;
  }
  ++stats_.requests;
  Status w = co_await stream->write_all(as_bytes(request));
  if (!w.ok()) {
    stream->close();
    *retry_at_once = reused;
    co_return w;
  }

  http::response_parser<http::empty_body> parser;
  parser.header_limit(static_cast<uint32_t>(config_.max_header_bytes));
  parser.eager(false);
  if (head) parser.skip(true);
  Pending pending;
  pending.buf.resize(config_.max_header_bytes + 16 * 1024);
  bool got_any = false;
  Status hs = co_await read_header(*stream, parser, pending, config_.read_timeout, &got_any);
  if (!hs.ok()) {
    stream->close();
    // A kept-alive connection the server (or the host) closed meanwhile: not the object's fault.
    *retry_at_once = reused && !got_any &&
                     (hs.code() == ErrorCode::TRANSPORT_CLOSED || hs.code() == ErrorCode::TRANSPORT_RESET);
    co_return hs;
  }
  const int status = static_cast<int>(parser.get().result_int());
  std::optional<uint64_t> content_length;
  if (parser.content_length()) content_length = *parser.content_length();
  const bool keep_alive = parser.keep_alive();
  const std::string content_range(parser.get()[http::field::content_range]);

  if (status != 200 && status != 206) {
    std::string body;
    if (!head) {
      Result<std::string> b = co_await read_error_body(*stream, std::move(parser), pending,
                                                       config_.max_error_body_bytes, config_.read_timeout);
      if (b.ok()) body = std::move(*b);
    }
    stream->close();
    Status e = error_for_status(status, body, head);
    if (status == 416 && !content_range.empty()) e = Status(e.code(), e.message() + " (Content-Range " + content_range + ")");
    co_return e;
  }

  Reply reply;
  if (head) {
    if (status != 200 || !content_length) {
      stream->close();
      co_return bad("HEAD answered " + std::to_string(status) + (content_length ? "" : " without Content-Length"));
    }
    reply.object_size = *content_length;
  } else {
    if (!content_length || parser.chunked()) {
      stream->close();
      co_return bad("ranged GET answer without Content-Length");
    }
    const uint64_t n = *content_length;
    if (status == 206) {
      std::optional<uint64_t> first, last;
      uint64_t total = 0;
      if (!parse_content_range(content_range, &first, &last, &total) || !first || *first != offset ||
          *last - *first + 1 != n || n > out.size() || (n < out.size() && *last + 1 != total)) {
        stream->close();
        co_return bad("206 with Content-Range '" + content_range + "' for bytes " + std::to_string(offset) + "+" +
                      std::to_string(out.size()) + " (Content-Length " + std::to_string(n) + ")");
      }
      reply.object_size = total;
    } else {  // 200: the whole object; only acceptable when it is the asked range
      if (offset != 0 || n > out.size()) {
        stream->close();
        co_return bad("200 (whole object, " + std::to_string(n) + " bytes) for a ranged GET at " + std::to_string(offset));
      }
      reply.object_size = n;
    }
    // The body needs no parsing: copy what came with the header, read the rest in place.
    ByteSpan have = pending.data();
    const size_t first_part = static_cast<size_t>(std::min<uint64_t>(have.size(), n));
    if (first_part > 0) std::memcpy(out.data(), have.data(), first_part);
    pending.consume(first_part);
    if (first_part < n) {
      Status r = co_await runtime::read_exact(*stream, out.subspan(first_part, n - first_part), config_.read_timeout);
      if (!r.ok()) {
        stream->close();
        co_return r.with_context("S3 body");
      }
    }
    reply.bytes = static_cast<size_t>(n);
    stats_.bytes_received += n;
  }
  // Bytes beyond the answer mean the stream is out of step: never reuse it.
  if (keep_alive && pending.data().empty() && idle_.size() < config_.max_idle_connections) {
    idle_.push_back(std::move(stream));
  } else {
    stream->close();
  }
  co_return reply;
}

Task<Result<HttpObjectStore::Reply>> HttpObjectStore::with_retries(bool head, std::string key, uint64_t offset,
                                                                   MutableByteSpan out) {
  int attempts = 0;
  for (;;) {
    bool retry_at_once = false;
    Result<Reply> r = co_await attempt(head, key, offset, out, &retry_at_once);
    if (r.ok()) co_return r;
    if (retry_at_once) continue;  // stale pooled connection: the pool shrinks, so this ends
    ++attempts;
    if (!object_store_error_retryable(r.code()) || attempts >= config_.max_attempts) co_return r.status();
    // Full jitter: uniform in [0, min(max, base * 2^(attempt-1))].
    const int64_t cap = std::min<int64_t>(config_.backoff_max.count(),
                                          config_.backoff_base.count() << std::min(attempts - 1, 30));
    const runtime::Duration wait(env_->random->uniform_range(0, std::max<int64_t>(cap, 0)));
    ++stats_.retries;
    log_.warn("s3_retry", {{"key", key},
                           {"attempt", std::to_string(attempts)},
                           {"error", r.status().to_string()},
                           {"backoff_ms", std::to_string(wait.count() / 1'000'000)}});
    co_await runtime::sleep_for(*env_->clock, wait);
  }
}

Task<Result<uint64_t>> HttpObjectStore::size(std::string key) {
  Result<Reply> r = co_await with_retries(true, std::move(key), 0, {});
  if (!r.ok()) co_return r.status();
  co_return r->object_size;
}

Task<Result<size_t>> HttpObjectStore::read_range(std::string key, uint64_t offset, MutableByteSpan out) {
  if (out.empty()) co_return size_t{0};
  Result<Reply> r = co_await with_retries(false, std::move(key), offset, out);
  if (!r.ok()) co_return r.status();
  co_return r->bytes;
}

}  // namespace cpipe::keys

// SimS3's request handling: addressing, authentication checks, injected faults, ranges, the
// timing model and S3-shaped answers.
#include "backends/simulated/sim_s3.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "core/keys/http_message.h"
#include "core/runtime/executor.h"

namespace cpipe::sim {

struct SimS3::Answer {
  int status = 200;
  std::string reason = "OK";
  keys::HttpHeaders headers;
  std::string error_body;               // XML, for errors
  std::shared_ptr<const Bytes> object;  // body source for 200/206 GET
  uint64_t body_offset = 0;
  uint64_t body_length = 0;
  bool head = false;
};

namespace {

using runtime::Task;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string reason_for(int status) {
  switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 416: return "Requested Range Not Satisfiable";
    case 500: return "Internal Server Error";
    case 503: return "Slow Down";
    default: return "Error";
  }
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

// "20150830T123600Z" -> unix seconds.
bool parse_amz_date(std::string_view s, int64_t* out) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return false;
  std::string iso = std::string(s.substr(0, 4)) + "-" + std::string(s.substr(4, 2)) + "-" +
                    std::string(s.substr(6, 2)) + "T" + std::string(s.substr(9, 2)) + ":" +
                    std::string(s.substr(11, 2)) + ":" + std::string(s.substr(13, 2)) + "Z";
  auto t = keys::parse_iso8601_utc(iso);
  if (!t.ok()) return false;
  *out = *t;
  return true;
}

struct AuthHeader {
  std::string access_key, date, region, service;
  std::vector<std::string> signed_headers;
  std::string signature;
};

// "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_request, SignedHeaders=a;b, Signature=hex"
bool parse_authorization(std::string_view v, AuthHeader* out) {
  constexpr std::string_view kAlg = "AWS4-HMAC-SHA256 ";
  if (v.substr(0, kAlg.size()) != kAlg) return false;
  v.remove_prefix(kAlg.size());
  std::map<std::string, std::string> parts;
  while (!v.empty()) {
    while (!v.empty() && (v.front() == ' ' || v.front() == ',')) v.remove_prefix(1);
    const size_t eq = v.find('=');
    if (eq == std::string_view::npos) break;
    size_t end = v.find(',', eq);
    if (end == std::string_view::npos) end = v.size();
    parts[std::string(v.substr(0, eq))] = std::string(v.substr(eq + 1, end - eq - 1));
    v.remove_prefix(end);
  }
  if (!parts.count("Credential") || !parts.count("SignedHeaders") || !parts.count("Signature")) return false;
  std::vector<std::string> scope;
  std::string_view cred = parts["Credential"];
  for (size_t p; (p = cred.find('/')) != std::string_view::npos; cred.remove_prefix(p + 1))
    scope.emplace_back(cred.substr(0, p));
  scope.emplace_back(cred);
  if (scope.size() != 5 || scope[0].empty() || scope[1].size() != 8 || scope[4] != "aws4_request") return false;
  out->access_key = scope[0];
  out->date = scope[1];
  out->region = scope[2];
  out->service = scope[3];
  std::string_view sh = parts["SignedHeaders"];
  for (size_t p; (p = sh.find(';')) != std::string_view::npos; sh.remove_prefix(p + 1))
    out->signed_headers.emplace_back(sh.substr(0, p));
  out->signed_headers.emplace_back(sh);
  out->signature = parts["Signature"];
  if (out->signature.size() != 64) return false;
  for (char c : out->signature)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

SimS3::SimS3(SimNode& node, SimS3Config config)
    : node_(node), config_(std::move(config)), log_(node.logger("sim.s3")) {}

SimS3::~SimS3() { stop(); }

runtime::Endpoint SimS3::endpoint() const { return listener_ ? listener_->local_endpoint() : config_.listen; }

Status SimS3::start() {
  Result<std::unique_ptr<runtime::Listener>> l = node_.network().listen(config_.listen);
  if (!l.ok()) return l.status();
  listener_ = std::move(*l);
  runtime::spawn(node_, serve(this));
  return Status::Ok();
}

void SimS3::stop() {
  if (listener_) listener_->close();
}

void SimS3::put_object(const std::string& key, Bytes data) {
  objects_[key] = std::make_shared<const Bytes>(std::move(data));
}
bool SimS3::delete_object(const std::string& key) { return objects_.erase(key) > 0; }
const Bytes* SimS3::object(const std::string& key) const {
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : it->second.get();
}

void SimS3::fail_next(int count, int http_status) {
  fail_count_ = count;
  fail_status_ = http_status;
}

Task<void> SimS3::serve(SimS3* self) {
  for (;;) {
    Result<std::shared_ptr<runtime::Stream>> s = co_await self->listener_->accept();
    if (!s.ok()) co_return;
    ++self->stats_.connections;
    runtime::spawn(self->node_, handle(self, std::move(*s)));
  }
}

SimS3::Answer SimS3::answer(const keys::HttpRequest& request, const SimInjectedError* injected) {
  Answer a;
  a.head = request.method == "HEAD";
  const std::string request_id = "SIMS3" + std::to_string(++request_ids_);
  a.headers.emplace_back("x-amz-request-id", request_id);
  auto error = [&](int status, std::string code, std::string message, std::string resource = {}) {
    a.status = status;
    a.reason = reason_for(status);
    a.error_body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" +
                   message + "</Message>" + (resource.empty() ? "" : "<Key>" + resource + "</Key>") +
                   "<RequestId>" + request_id + "</RequestId></Error>";
    a.headers.emplace_back("Content-Type", "application/xml");
    ++stats_.errors;
    log_.debug("error", {{"status", std::to_string(status)}, {"code", code}});
    return a;
  };

  ++stats_.requests;
  if (injected) {
    (a.head ? stats_.heads : stats_.gets)++;
    ++stats_.injected;
    return error(injected->http_status, injected->code, injected->message);
  }
  if (request.method != "GET" && request.method != "HEAD")
    return error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
  (a.head ? stats_.heads : stats_.gets)++;

  // Addressing: virtual-hosted ("<bucket>.s3...") or path-style ("/<bucket>/<key>").
  const std::string host = lower(keys::http_header(request.headers, "Host"));
  std::string bucket, key;
  if (host.rfind(lower(config_.bucket) + ".", 0) == 0) {
    bucket = config_.bucket;
    key = request.path.size() > 1 ? request.path.substr(1) : "";
  } else {
    const size_t slash = request.path.find('/', 1);
    bucket = request.path.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
    key = slash == std::string::npos ? "" : request.path.substr(slash + 1);
  }

  // Authentication.
  const std::string auth = keys::http_header(request.headers, "Authorization");
  if (auth.empty()) return error(403, "AccessDenied", "Access Denied");
  AuthHeader ah;
  if (!parse_authorization(auth, &ah) || ah.service != "s3")
    return error(400, "AuthorizationHeaderMalformed", "The authorization header is malformed.");
  const std::string amz_date = keys::http_header(request.headers, "X-Amz-Date");
  int64_t request_time = 0;
  if (!parse_amz_date(amz_date, &request_time) || amz_date.substr(0, 8) != ah.date)
    return error(400, "AuthorizationHeaderMalformed", "X-Amz-Date is missing or disagrees with the credential scope.");
  const std::string payload_hash = keys::http_header(request.headers, "x-amz-content-sha256");
  if (payload_hash.empty())
    return error(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256");
  const int64_t now_s = node_.clock().wall_now().unix_ns / 1'000'000'000;
  if (request_time > now_s + config_.max_skew_seconds || request_time < now_s - config_.max_skew_seconds)
    return error(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.");
  if (config_.credentials) {
    if (ah.access_key != config_.credentials->access_key_id)
      return error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
    keys::HttpRequest canonical;
    canonical.method = request.method;
    canonical.path = request.path;
    canonical.query = request.query;
    for (const std::string& name : ah.signed_headers) {
      if (name == "x-amz-date" || name == "x-amz-security-token") continue;  // the signer adds these
      canonical.headers.emplace_back(name, keys::http_header(request.headers, name));
    }
    keys::SigV4Options o;
    o.region = ah.region;
    o.service = "s3";
    o.unix_time = request_time;
    o.normalize_path = false;
    o.payload_hash = payload_hash;
    auto sig = keys::sigv4_sign_headers(canonical, *config_.credentials, o);
    if (!sig.ok() || sig->signature != lower(ah.signature))
      return error(403, "SignatureDoesNotMatch",
                   "The request signature we calculated does not match the signature you provided.");
  }

  if (fail_count_ > 0) {
    --fail_count_;
    ++stats_.injected;
    if (fail_status_ == 503) return error(503, "SlowDown", "Please reduce your request rate.");
    return error(fail_status_, "InternalError", "We encountered an internal error. Please try again.");
  }

  if (bucket != config_.bucket) return error(404, "NoSuchBucket", "The specified bucket does not exist.");
  auto it = objects_.find(key);
  if (key.empty() || it == objects_.end()) return error(404, "NoSuchKey", "The specified key does not exist.", key);
  const uint64_t size = it->second->size();
  a.headers.emplace_back("Accept-Ranges", "bytes");
  a.headers.emplace_back("ETag", "\"sim-" + std::to_string(size) + "\"");
  a.headers.emplace_back("Content-Type", "application/octet-stream");
  if (a.head) {
    a.headers.emplace_back("Content-Length", std::to_string(size));
    return a;
  }

  // Range: "bytes=a-b", "bytes=a-", "bytes=-n"; anything else is ignored (200), as S3 does.
  const std::string range = keys::http_header(request.headers, "Range");
  uint64_t first = 0, last = size == 0 ? 0 : size - 1;
  bool ranged = false;
  if (range.rfind("bytes=", 0) == 0 && range.find(',') == std::string::npos) {
    std::string_view r = std::string_view(range).substr(6);
    const size_t dash = r.find('-');
    uint64_t x = 0, y = 0;
    if (dash != std::string_view::npos) {
      const std::string_view sa = r.substr(0, dash), sb = r.substr(dash + 1);
      if (sa.empty() && parse_u64(sb, &y) && y > 0) {  // suffix: the last y bytes
        ranged = true;
        if (size == 0) {
          a.headers.emplace_back("Content-Range", "bytes */0");
          return error(416, "InvalidRange", "The requested range is not satisfiable", key);
        }
        first = size - std::min(y, size);
      } else if (parse_u64(sa, &x) && (sb.empty() || (parse_u64(sb, &y) && y >= x))) {
        ranged = true;
        if (x >= size) {
          a.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
          return error(416, "InvalidRange", "The requested range is not satisfiable", key);
        }
        first = x;
        last = sb.empty() ? size - 1 : std::min(y, size - 1);
      }
    }
  }
  a.object = it->second;
  if (ranged) {
    a.status = 206;
    a.reason = reason_for(206);
    a.body_offset = first;
    a.body_length = last - first + 1;
    a.headers.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                                                std::to_string(size));
  } else {
    a.body_offset = 0;
    a.body_length = size;
  }
  a.headers.emplace_back("Content-Length", std::to_string(a.body_length));
  return a;
}

Task<void> SimS3::handle(SimS3* self, std::shared_ptr<runtime::Stream> stream) {
  keys::HttpReadLimits limits;
  limits.max_body_bytes = 64 * 1024;  // GET and HEAD carry none
  for (;;) {
    Result<keys::HttpRequest> request = co_await keys::http_read_request(*stream, limits);
    if (!request.ok()) break;  // EOF between requests, or garbage: hang up
    SimServiceCall call;
    call.id = ++self->calls_;
    call.op = request->method;
    call.caller = sigv4_access_key_of(keys::http_header(request->headers, "Authorization"));
    std::optional<SimInjectedError> injected;
    if (self->filter_) injected = self->filter_->on_request(call);
    Answer a = self->answer(*request, injected ? &*injected : nullptr);
    co_await runtime::sleep_for(self->node_.clock(), self->config_.first_byte.sample(self->node_.random()));
    std::string head = "HTTP/1.1 " + std::to_string(a.status) + " " + a.reason + "\r\n";
    for (const auto& [k, v] : a.headers) head += k + ": " + v + "\r\n";
    if (!a.error_body.empty()) head += "Content-Length: " + std::to_string(a.error_body.size()) + "\r\n";
    head += "\r\n";
    if (!a.head) head += a.error_body;
    const bool head_sent = (co_await stream->write_all(as_bytes(head))).ok();
    if (self->filter_) self->filter_->on_answer(call, a.status);
    if (!head_sent) break;
    if (a.object && !a.head) {
      uint64_t sent = 0;
      bool ok = true;
      while (sent < a.body_length) {
        const size_t piece = static_cast<size_t>(std::min<uint64_t>(self->config_.send_piece, a.body_length - sent));
        if (self->config_.bandwidth_bytes_per_s > 0)
          co_await runtime::sleep_for(self->node_.clock(),
                                      runtime::Duration(int64_t((__int128)piece * 1'000'000'000 /
                                                                self->config_.bandwidth_bytes_per_s)));
        if (!(co_await stream->write_all(ByteSpan(a.object->data() + a.body_offset + sent, piece))).ok()) {
          ok = false;
          break;
        }
        sent += piece;
        self->stats_.body_bytes_sent += piece;
      }
      if (!ok) break;
    }
    if (lower(keys::http_header(request->headers, "Connection")) == "close") break;
  }
  stream->close();
}

}  // namespace cpipe::sim

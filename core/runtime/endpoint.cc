// Parsing and printing of endpoints.
#include "core/runtime/endpoint.h"

#include <charconv>

namespace cpipe::runtime {
namespace {

Status bad(std::string_view text, std::string_view why) {
  return make_error(ErrorCode::TRANSPORT_BAD_ENDPOINT,
                    "endpoint '" + std::string(text) + "': " + std::string(why));
}

template <typename T>
bool parse_uint(std::string_view s, T max, T& out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v > uint64_t(max)) return false;
  out = T(v);
  return true;
}

}  // namespace

Endpoint Endpoint::tcp(std::string host, uint16_t port) {
  Endpoint e;
  e.kind = Kind::kTcp;
  e.host = std::move(host);
  e.port = port;
  return e;
}

Endpoint Endpoint::vsock(uint32_t cid, uint16_t port) {
  Endpoint e;
  e.kind = Kind::kVsock;
  e.cid = cid;
  e.port = port;
  return e;
}

Result<Endpoint> Endpoint::parse(std::string_view text) {
  std::string_view rest = text;
  bool is_vsock = false;
  if (rest.starts_with("tcp:")) {
    rest.remove_prefix(4);
  } else if (rest.starts_with("vsock:")) {
    rest.remove_prefix(6);
    is_vsock = true;
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return bad(text, "missing ':PORT'");
  std::string_view addr = rest.substr(0, colon);
  std::string_view port_text = rest.substr(colon + 1);
  uint16_t port = 0;
  if (!parse_uint<uint16_t>(port_text, 65535, port)) return bad(text, "port is not 0..65535");
  if (is_vsock) {
    uint32_t cid = 0;
    if (!parse_uint<uint32_t>(addr, 0xffffffffu, cid)) return bad(text, "cid is not a 32-bit number");
    return vsock(cid, port);
  }
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') {
    addr = addr.substr(1, addr.size() - 2);  // [::1]:80
  }
  if (addr.empty()) return bad(text, "empty host");
  for (char c : addr) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '_';
    if (!ok) return bad(text, "host contains an invalid character");
  }
  return tcp(std::string(addr), port);
}

std::string Endpoint::to_string() const {
  if (kind == Kind::kVsock) return "vsock:" + std::to_string(cid) + ":" + std::to_string(port);
  if (host.find(':') != std::string::npos) return "tcp:[" + host + "]:" + std::to_string(port);
  return "tcp:" + host + ":" + std::to_string(port);
}

}  // namespace cpipe::runtime

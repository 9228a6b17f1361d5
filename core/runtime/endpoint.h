// Endpoint: where a listener listens or a stream connects. Two kinds, as on the platforms cpipe
// runs on: TCP (host:port) for local runs and SEV-SNP VMs, VSock (cid:port) for Nitro enclaves.
// Text forms: "tcp:HOST:PORT", "vsock:CID:PORT"; a bare "HOST:PORT" means TCP.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/status.h"

namespace cpipe::runtime {

struct Endpoint {
  enum class Kind { kTcp, kVsock };
  Kind kind = Kind::kTcp;
  std::string host;   // TCP only: IPv4/IPv6 literal or name ("127.0.0.1", "stage1")
  uint32_t cid = 0;   // VSock only
  uint16_t port = 0;  // 0 when listening asks the OS/simulator to pick

  static Endpoint tcp(std::string host, uint16_t port);
  static Endpoint vsock(uint32_t cid, uint16_t port);
  // TRANSPORT_BAD_ENDPOINT with the reason on a malformed string.
  static Result<Endpoint> parse(std::string_view text);

  std::string to_string() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

}  // namespace cpipe::runtime

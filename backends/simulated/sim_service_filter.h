// SimServiceFilter: the fault-injection seam at a simulated cloud service's request boundary
// (SimKms, SimS3). It wraps the service's request handler the way a LinkFilter wraps a link:
// every request that has fully arrived is shown to the filter, which either lets the service
// answer or names an error the service then sends in its own wire format (KMS JSON
// {"__type", "message"}, S3 XML <Error>), after the service's usual latency; and the filter
// sees each answer leave. The code under test (the stages' HttpKmsClient / HttpObjectStore)
// is untouched: it only ever sees what a real KMS or S3 could send.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cpipe::sim {

// One call as the service sees it on arrival.
struct SimServiceCall {
  uint64_t id = 0;      // per service, 1.. in arrival order
  std::string op;       // KMS: the X-Amz-Target operation ("Decrypt"); S3: "GET" / "HEAD"
  std::string caller;   // the SigV4 access key id of the request ("" when absent or malformed)
};

// An error answer the service renders in its own format.
struct SimInjectedError {
  int http_status = 500;
  std::string code;     // KMS __type ("KMSInternalException") or S3 <Code> ("SlowDown")
  std::string message;
};

class SimServiceFilter {
 public:
  virtual ~SimServiceFilter() = default;
  // The request has arrived (before the service authenticates it): an error to answer with
  // instead of the service's own answer, or nothing.
  virtual std::optional<SimInjectedError> on_request(const SimServiceCall& call) = 0;
  // The answer to `call` has been written back (or the write failed: the caller is gone).
  virtual void on_answer(const SimServiceCall& call, int http_status) { (void)call, (void)http_status; }
};

// The access key id of a SigV4 Authorization header ("AWS4-HMAC-SHA256 Credential=AKID/...").
inline std::string sigv4_access_key_of(const std::string& authorization) {
  const size_t at = authorization.find("Credential=");
  if (at == std::string::npos) return {};
  const size_t from = at + 11;
  const size_t end = authorization.find_first_of("/, ", from);
  return authorization.substr(from, end == std::string::npos ? std::string::npos : end - from);
}

}  // namespace cpipe::sim

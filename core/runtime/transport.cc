// Helpers shared by all transports.
#include "core/runtime/transport.h"

namespace cpipe::runtime {

Task<Status> read_exact(Stream& stream, MutableByteSpan buffer, Duration timeout) {
  size_t done = 0;
  while (done < buffer.size()) {
    Result<size_t> n = co_await stream.read_some(buffer.subspan(done), timeout);
    if (!n.ok()) co_return n.status();
    done += *n;
  }
  co_return Status::Ok();
}

}  // namespace cpipe::runtime

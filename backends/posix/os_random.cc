// getrandom(2) with the flags 0 (blocks only until the pool is first initialised, at boot).
#include "backends/posix/os_random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cpipe::posix {

void OsRandom::fill(MutableByteSpan out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "cpipe: getrandom failed: %s\n", std::strerror(errno));
      std::abort();
    }
    done += size_t(n);  // requests over 32 MiB may come back short
  }
}

}  // namespace cpipe::posix

// Wiring of the posix runtime pieces into one Env.
#include "backends/posix/posix_env.h"

#include <sodium.h>

#include <cstdlib>

namespace cpipe::posix {

PosixEnv::PosixEnv(const PosixEnvOptions& options)
    : stderr_sink(options.event_format, options.min_event_level),
      network(loop),
      compute(loop, options.compute_threads) {
  // core/ never calls sodium_init (it may open /dev/urandom); the process that owns the OS does.
  if (sodium_init() < 0) std::abort();
  env.executor = &loop;
  env.clock = &loop;
  env.random = &random;
  env.network = &network;
  env.compute = &compute;
  env.events = options.event_sink ? options.event_sink : &stderr_sink;
}

std::unique_ptr<PosixEnv> make_posix_env(const PosixEnvOptions& options) {
  return std::make_unique<PosixEnv>(options);
}

}  // namespace cpipe::posix

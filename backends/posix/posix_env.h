// PosixEnv: the real runtime for one process — an EventLoop (executor + clock), TcpNetwork,
// OsRandom, a WorkerPool and an event sink — bundled as a runtime::Env for core/ code.
//
//   auto posix = cpipe::posix::make_posix_env({});
//   Status s = posix->loop.block_on(run_stage(posix->env, config));
//
// Members are declared so that everything is destroyed before the loop it uses.
#pragma once

#include <memory>

#include "backends/posix/event_loop.h"
#include "backends/posix/event_sinks.h"
#include "backends/posix/os_random.h"
#include "backends/posix/tcp_network.h"
#include "backends/posix/worker_pool.h"
#include "core/runtime/env.h"

namespace cpipe::posix {

struct PosixEnvOptions {
  int compute_threads = 0;  // 0 = hardware concurrency
  EventFormat event_format = EventFormat::kText;
  EventLevel min_event_level = EventLevel::kInfo;
  // Events go here instead of stderr when set (not owned; must outlive the PosixEnv).
  EventSink* event_sink = nullptr;
};

struct PosixEnv {
  explicit PosixEnv(const PosixEnvOptions& options);
  PosixEnv(const PosixEnv&) = delete;
  PosixEnv& operator=(const PosixEnv&) = delete;

  EventLoop loop;
  OsRandom random;
  StderrEventSink stderr_sink;
  TcpNetwork network;
  WorkerPool compute;
  runtime::Env env;
};

std::unique_ptr<PosixEnv> make_posix_env(const PosixEnvOptions& options = {});

}  // namespace cpipe::posix

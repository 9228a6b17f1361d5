// Child processes of this binary (`cpipe up`, `bench pipeline` and the tests start stage
// processes): fork/exec with stdout piped back, waiting for a line, SIGTERM once then SIGKILL,
// and reaping. Children get SIGKILL when this process dies (PDEATHSIG). OS calls: apps/ only.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace cpipe::cli {

// This executable (/proc/self/exe, resolved).
std::string self_executable();

// A child process whose stdout we read (for its "ready" line). The destructor kills (SIGKILL) and
// reaps it if it still runs. Children also get SIGKILL when this process dies (PDEATHSIG).
class ChildProcess {
 public:
  // argv[0] is the program path. `stderr_path` empty: inherit ours.
  static Result<std::unique_ptr<ChildProcess>> spawn(const std::vector<std::string>& argv,
                                                     const std::string& stderr_path = "");
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads stdout lines until one starts with `prefix` (returned), the child exits
  // (PIPELINE_STAGE_FAILED with its exit status) or `timeout_ms` pass (UNAVAILABLE).
  Result<std::string> wait_for_line(const std::string& prefix, int timeout_ms);
  // Not yet exited (reaps it when it has).
  bool alive();
  // Waits up to `timeout_ms` for the child to exit on its own: its exit code, or nullopt.
  std::optional<int> wait(int timeout_ms);
  // SIGTERM, once: a second one could land after the child's handler is gone (it is shutting
  // down) and kill it with 143 instead of its own clean exit.
  void request_stop();
  // request_stop(), wait up to `timeout_ms`, then SIGKILL. The exit code (128+signal when killed).
  int terminate(int timeout_ms);
  void kill_now();  // SIGKILL and reap
  pid_t pid() const { return pid_; }
  std::optional<int> exit_code() const { return exit_code_; }

 private:
  ChildProcess(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}
  bool reap(bool block);
  pid_t pid_;
  int out_fd_;
  std::string buffered_;
  std::optional<int> exit_code_;
  bool stop_requested_ = false;
};

}  // namespace cpipe::cli

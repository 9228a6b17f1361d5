// Child processes (child_process.h): fork/exec with a stdout pipe, line reads with a deadline,
// stop and kill, reaping.
#include "apps/cpipe/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace cpipe::cli {

std::string self_executable() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/proc/self/exe";
  return std::string(buf, size_t(n));
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(const std::vector<std::string>& argv,
                                                          const std::string& stderr_path) {
  if (argv.empty()) return make_error(ErrorCode::INVALID_ARGUMENT, "no program to run");
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0)
    return make_error(ErrorCode::IO_ERROR, std::string("pipe: ") + std::strerror(errno));
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return make_error(ErrorCode::IO_ERROR, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(pipefd[1], STDOUT_FILENO);
    if (!stderr_path.empty()) {
      int fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) ::dup2(fd, STDERR_FILENO);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, pipefd[0]));
}

ChildProcess::~ChildProcess() {
  if (!exit_code_) kill_now();
  if (out_fd_ >= 0) ::close(out_fd_);
}

bool ChildProcess::reap(bool block) {
  if (exit_code_) return true;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (r != pid_) return false;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

bool ChildProcess::alive() { return !reap(false); }

Result<std::string> ChildProcess::wait_for_line(const std::string& prefix, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    size_t nl;
    while ((nl = buffered_.find('\n')) != std::string::npos) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      if (line.rfind(prefix, 0) == 0) return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return make_error(ErrorCode::UNAVAILABLE, "process " + std::to_string(pid_) + " did not print '" +
                                                    prefix + "' within " + std::to_string(timeout_ms) + " ms");
    pollfd p{out_fd_, POLLIN, 0};
    int r = ::poll(&p, 1, int(std::min<int64_t>(left.count(), 100)));
    if (r < 0 && errno != EINTR) return make_error(ErrorCode::IO_ERROR, std::string("poll: ") + std::strerror(errno));
    if (r > 0) {
      char buf[4096];
      ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n > 0) {
        buffered_.append(buf, size_t(n));
        continue;
      }
      if (n == 0) {  // EOF: the child is gone (or closed stdout)
        reap(true);
        return make_error(ErrorCode::PIPELINE_STAGE_FAILED,
                          "process " + std::to_string(pid_) + " exited with status " +
                              std::to_string(exit_code_.value_or(-1)) + " before printing '" + prefix + "'");
      }
    }
  }
}

std::optional<int> ChildProcess::wait(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!reap(false) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return exit_code_;
}

void ChildProcess::request_stop() {
  if (stop_requested_ || exit_code_) return;
  stop_requested_ = true;
  ::kill(pid_, SIGTERM);
}

int ChildProcess::terminate(int timeout_ms) {
  if (reap(false)) return *exit_code_;
  request_stop();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (reap(false)) return *exit_code_;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill_now();
  return exit_code_.value_or(128 + SIGKILL);
}

void ChildProcess::kill_now() {
  if (exit_code_) return;
  ::kill(pid_, SIGKILL);
  reap(true);
}

}  // namespace cpipe::cli

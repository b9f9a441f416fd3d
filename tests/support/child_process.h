// ChildProcess: the RAII owner of one forked program of a test (the
// supervisor, a nats-server), its stdout and optionally its stderr on pipes.
// It runs in its own process group with PR_SET_PDEATHSIG, and its destructor
// stops it (SIGTERM, then SIGKILL of the group after a guard), so no process
// outlives a test. Waits poll() a pidfd and the pipes: timeouts are failure
// guards only.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/process_tools.h"
#include "support/relay_process.h"

namespace sprites::test {

using Clock = std::chrono::steady_clock;

inline constexpr std::chrono::seconds kStopGuard{20};


inline int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

inline ExitStatus decode_status(int raw, bool forced) {
  ExitStatus s;
  s.forced = forced;
  if (WIFEXITED(raw)) {
    s.exited = true;
    s.code = WEXITSTATUS(raw);
  } else if (WIFSIGNALED(raw)) {
    s.signal = WTERMSIG(raw);
  }
  return s;
}

// One forked program, its stdout (and optionally stderr) on pipes.
class ChildProcess {
 public:
  struct Spec {
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;
    bool capture_stderr = false;
    std::optional<std::string> stderr_path;
  };

  explicit ChildProcess(const Spec& spec) {
    // Everything the child needs is built before fork(): after it, in a
    // multi-threaded test, only async-signal-safe calls are allowed.
    std::vector<std::string> env_strings = child_environment(spec.env);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = spec.argv;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    int out_pipe[2];
    int err_pipe[2] = {-1, -1};
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    if (spec.capture_stderr && ::pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    int err_file = -1;
    if (spec.stderr_path) {
      err_file = ::open(spec.stderr_path->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (err_file < 0) throw std::runtime_error("cannot open " + *spec.stderr_path);
    }
    int null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = ::getpid();

    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(126);
      if (null_in >= 0) ::dup2(null_in, STDIN_FILENO);
      ::dup2(out_pipe[1], STDOUT_FILENO);
      if (err_pipe[1] >= 0) ::dup2(err_pipe[1], STDERR_FILENO);
      if (err_file >= 0) ::dup2(err_file, STDERR_FILENO);
      ::execve(argv[0], argv.data(), envp.data());
      const char message[] = "relay_process: execve of the supervisor failed\n";
      ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
      (void)ignored;
      ::_exit(127);
    }
    // Also set from the parent: whichever runs first, the group exists before
    // we might signal it.
    ::setpgid(pid_, pid_);
    ::close(out_pipe[1]);
    out_fd_ = out_pipe[0];
    if (err_pipe[1] >= 0) {
      ::close(err_pipe[1]);
      err_fd_ = err_pipe[0];
    }
    if (err_file >= 0) ::close(err_file);
    if (null_in >= 0) ::close(null_in);
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  }

  ~ChildProcess() {
    if (!status_) terminate(kStopGuard);
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
    if (pidfd_ >= 0) ::close(pidfd_);
  }

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The next line on stdout; nullopt at end of stream or when the deadline
  // passes (`timed_out` tells which).
  std::optional<std::string> read_line(Clock::time_point deadline, bool* timed_out) {
    *timed_out = false;
    for (;;) {
      std::size_t end = out_.find('\n');
      if (end != std::string::npos) {
        std::string line = out_.substr(0, end);
        out_.erase(0, end + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      if (out_fd_ < 0) return std::nullopt;
      pollfd p{out_fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, remaining_ms(deadline));
      if (rc < 0 && errno == EINTR) continue;
      if (rc == 0) {
        *timed_out = true;
        return std::nullopt;
      }
      if (!read_into(out_fd_, out_)) {
        ::close(out_fd_);
        out_fd_ = -1;
      }
    }
  }

  // Waits for exit until `deadline`, draining the pipes meanwhile.
  std::optional<ExitStatus> wait_until(Clock::time_point deadline) {
    if (status_) return status_;
    for (;;) {
      int raw = 0;
      pid_t r = ::waitpid(pid_, &raw, WNOHANG);
      if (r == pid_) {
        status_ = decode_status(raw, forced_);
        reap_group();
        return status_;
      }
      if (r < 0 && errno != EINTR) {
        status_ = ExitStatus{};
        return status_;
      }
      int left = remaining_ms(deadline);
      if (left == 0) return std::nullopt;
      std::vector<pollfd> fds;
      if (pidfd_ >= 0) fds.push_back({pidfd_, POLLIN, 0});
      if (out_fd_ >= 0) fds.push_back({out_fd_, POLLIN, 0});
      if (err_fd_ >= 0) fds.push_back({err_fd_, POLLIN, 0});
      // Without a pidfd (old kernel) the pipes' hang-up usually wakes us; the
      // bounded timeout keeps the loop honest otherwise.
      int slice = pidfd_ >= 0 ? left : std::min(left, 20);
      int rc = ::poll(fds.data(), fds.size(), slice);
      if (rc < 0 && errno != EINTR) return std::nullopt;
      for (const pollfd& p : fds) {
        if (p.revents == 0 || p.fd == pidfd_) continue;
        if (p.fd == out_fd_ && !read_into(out_fd_, out_)) {
          ::close(out_fd_);
          out_fd_ = -1;
        } else if (p.fd == err_fd_ && !read_into(err_fd_, err_)) {
          ::close(err_fd_);
          err_fd_ = -1;
        }
      }
    }
  }

  // SIGTERM, wait up to `guard`, then SIGKILL to the whole group.
  ExitStatus terminate(std::chrono::milliseconds guard) {
    if (status_) return *status_;
    ::kill(pid_, SIGTERM);
    if (auto s = wait_until(Clock::now() + guard)) return *s;
    kill_group();
    auto s = wait_until(Clock::now() + kStopGuard);
    if (!s) {
      int raw = 0;
      ::waitpid(pid_, &raw, 0);
      status_ = decode_status(raw, true);
      s = status_;
    }
    return *s;
  }

  void kill_group() {
    forced_ = true;
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
  }

  std::string output() const { return out_ + err_; }

 private:
  static bool read_into(int fd, std::string& into) {
    char chunk[4096];
    for (;;) {
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n > 0) {
        into.append(chunk, static_cast<std::size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
  }

  // Anything left in the supervisor's group after it ended (a child it failed
  // to stop) is killed: no process outlives the test.
  void reap_group() { ::kill(-pid_, SIGKILL); }

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool forced_ = false;
  std::string out_;
  std::string err_;
  std::optional<ExitStatus> status_;
};

}  // namespace sprites::test

// See program.h.
#include "support/program.h"

#include "support/process_tools.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sprites::test {
namespace {

int remaining_ms(Program::Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Program::Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Appends what `fd` has; false at its end (then the caller closes it).
bool drain(int fd, std::string& into) {
  char chunk[8192];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      into.append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

}  // namespace

Program::Program(std::vector<std::string> argv, std::vector<std::pair<std::string, std::string>> env) {
  // Built before fork(): after it only async-signal-safe calls are allowed.
  std::vector<std::string> env_strings = child_environment(env);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  int null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(126);
    if (null_in >= 0) ::dup2(null_in, STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::execve(args[0], args.data(), envp.data());
    const char message[] = "program: execve failed\n";
    ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (null_in >= 0) ::close(null_in);
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
}

Program::~Program() {
  if (!status_) terminate(std::chrono::seconds(20));
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
  if (pidfd_ >= 0) ::close(pidfd_);
}

bool Program::pump(Clock::time_point deadline) {
  std::vector<pollfd> fds;
  if (out_fd_ >= 0) fds.push_back({out_fd_, POLLIN, 0});
  if (err_fd_ >= 0) fds.push_back({err_fd_, POLLIN, 0});
  bool watch_exit = pidfd_ >= 0 && !status_;  // once reaped, a pidfd stays readable
  if (watch_exit) fds.push_back({pidfd_, POLLIN, 0});
  if (fds.empty()) return true;
  // Without a pidfd (old kernels) a short slice keeps the exit check honest.
  int slice = watch_exit || status_ ? remaining_ms(deadline) : std::min(remaining_ms(deadline), 20);
  int rc = ::poll(fds.data(), fds.size(), slice);
  if (rc < 0 && errno == EINTR) return true;
  if (rc == 0) return Clock::now() < deadline;
  for (const pollfd& p : fds) {
    if (p.revents == 0 || p.fd == pidfd_) continue;
    if (p.fd == out_fd_ && !drain(out_fd_, out_)) {
      ::close(out_fd_);
      out_fd_ = -1;
    } else if (p.fd == err_fd_ && !drain(err_fd_, err_)) {
      ::close(err_fd_);
      err_fd_ = -1;
    }
  }
  return true;
}

std::optional<std::string> Program::read_line(std::chrono::milliseconds guard) {
  auto deadline = Clock::now() + guard;
  for (;;) {
    size_t end = out_.find('\n');
    if (end != std::string::npos) {
      std::string line = out_.substr(0, end);
      out_.erase(0, end + 1);
      return line;
    }
    if (out_fd_ < 0) return std::nullopt;
    if (!pump(deadline)) return std::nullopt;
  }
}

bool Program::reap(int options) {
  int raw = 0;
  pid_t r = ::waitpid(pid_, &raw, options);
  if (r != pid_) return false;
  Finished f;
  if (WIFEXITED(raw)) {
    f.exited = true;
    f.code = WEXITSTATUS(raw);
  } else if (WIFSIGNALED(raw)) {
    f.signal = WTERMSIG(raw);
  }
  status_ = f;
  return true;
}

Program::Finished Program::finish(std::chrono::milliseconds guard) {
  auto deadline = Clock::now() + guard;
  while (!status_) {
    if (reap(WNOHANG)) break;
    if (!pump(deadline)) {
      ::kill(pid_, SIGKILL);
      reap(0);
      status_->exited = false;
      break;
    }
  }
  // Whatever is left in the pipes (the program may have handed them on to a
  // child that is gone too: the pipes end).
  auto drain_deadline = Clock::now() + std::chrono::seconds(5);
  while ((out_fd_ >= 0 || err_fd_ >= 0) && pump(drain_deadline)) {
  }
  Finished f = *status_;
  f.out = out_;
  f.err = err_;
  return f;
}

Program::Finished Program::terminate(std::chrono::milliseconds guard) {
  if (!status_) ::kill(pid_, SIGTERM);
  return finish(guard);
}

Program::Finished run_program(std::vector<std::string> argv, std::vector<std::pair<std::string, std::string>> env,
                              std::chrono::milliseconds guard) {
  Program p(std::move(argv), std::move(env));
  return p.finish(guard);
}

}  // namespace sprites::test

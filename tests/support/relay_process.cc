// The supervisor as a child of the test: see relay_process.h.
//
// ChildProcess is the RAII owner of one forked program. RelayProcess holds it in
// a member, so when the constructor fails (no ready line, bad format) the member
// is destroyed and the process group is taken down even though ~RelayProcess
// never runs.
#include "support/relay_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/proc_file.h"
#include "support/http_client.h"
#include "support/process_tools.h"

namespace sprites::test {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kReadyGuard{60};
constexpr std::chrono::seconds kStopGuard{20};


int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

ExitStatus decode_status(int raw, bool forced) {
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

}  // namespace

std::string ExitStatus::describe() const {
  std::string out;
  if (exited) out = "exited with code " + std::to_string(code);
  else if (signal != 0) out = std::string("killed by signal ") + strsignal(signal);
  else out = "did not end";
  if (forced) out += " (after SIGKILL: it ignored SIGTERM for " + std::to_string(kStopGuard.count()) + " s)";
  return out;
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

std::vector<std::string> base_supervisor_args(const std::string& bin_dir, int workers) {
  return {SPRITES_SUPERVISOR, "--bin-dir",     bin_dir, "--host",    "127.0.0.1",
          "--master-port",    "0",             "--worker-port", "0", "--workers", std::to_string(workers)};
}

RelayProcess::RelayProcess(std::vector<std::string> extra_args)
    : RelayProcess(RelayOptions{std::move(extra_args), {}, SPRITES_BIN_DIR, 2, std::nullopt}) {}

RelayProcess::RelayProcess(RelayOptions options) {
  ChildProcess::Spec spec;
  spec.argv = base_supervisor_args(options.bin_dir, options.workers);
  spec.argv.insert(spec.argv.end(), options.args.begin(), options.args.end());
  spec.env = options.env;
  spec.stderr_path = options.stderr_path;
  child_ = std::make_unique<ChildProcess>(spec);

  static const std::regex kReady(
      R"(ready master=127\.0\.0\.1:([0-9]{1,5}) worker=127\.0\.0\.1:([0-9]{1,5}) workers=([0-9]+))");
  auto deadline = Clock::now() + kReadyGuard;
  for (;;) {
    bool timed_out = false;
    std::optional<std::string> line = child_->read_line(deadline, &timed_out);
    if (!line) {
      if (timed_out) {
        FAIL("the supervisor printed no ready line within " << kReadyGuard.count()
                                                            << " s (is its stdout flushed?)");
      }
      auto status = child_->wait_until(Clock::now() + kStopGuard);
      FAIL("the supervisor closed its stdout before the ready line; it "
           << (status ? status->describe() : std::string("is still running")));
    }
    if (line->rfind("ready", 0) != 0) {
      lines_before_ready_.push_back(*line);
      continue;
    }
    std::smatch m;
    INFO("ready line: '" << *line << "'");
    REQUIRE(std::regex_match(*line, m, kReady));
    ready_line_ = *line;
    master_port_ = static_cast<std::uint16_t>(std::stoul(m[1].str()));
    worker_port_ = static_cast<std::uint16_t>(std::stoul(m[2].str()));
    workers_ = std::stoi(m[3].str());
    REQUIRE(master_port_ != 0);
    REQUIRE(worker_port_ != 0);
    REQUIRE(master_port_ != worker_port_);
    return;
  }
}

RelayProcess::~RelayProcess() = default;

pid_t RelayProcess::pid() const { return child_->pid(); }

ExitStatus RelayProcess::stop() { return child_->terminate(kStopGuard); }

std::vector<pid_t> RelayProcess::processes_named(const std::string& program) const {
  // ppid of every process, then a walk down from the supervisor.
  std::vector<std::pair<pid_t, pid_t>> parent_of;  // (pid, ppid)
  if (DIR* proc = ::opendir("/proc")) {
    while (dirent* entry = ::readdir(proc)) {
      char* end = nullptr;
      long pid = std::strtol(entry->d_name, &end, 10);
      if (end == entry->d_name || *end != '\0') continue;
      std::string text = read_proc_file("/proc/" + std::string(entry->d_name) + "/stat");
      std::size_t close_paren = text.rfind(')');
      if (close_paren == std::string::npos) continue;
      std::istringstream rest(text.substr(close_paren + 1));
      std::string state;
      long ppid = 0;
      rest >> state >> ppid;
      if (state == "Z") continue;
      parent_of.emplace_back(static_cast<pid_t>(pid), static_cast<pid_t>(ppid));
    }
    ::closedir(proc);
  }
  std::set<pid_t> family{child_->pid()};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, ppid] : parent_of) {
      if (family.count(ppid) != 0 && family.insert(pid).second) grew = true;
    }
  }
  std::vector<pid_t> out;
  for (pid_t pid : family) {
    if (pid == child_->pid()) continue;
    std::string cmdline = read_proc_file("/proc/" + std::to_string(pid) + "/cmdline");
    std::string argv0 = cmdline.substr(0, cmdline.find('\0'));
    std::size_t slash = argv0.rfind('/');
    std::string base = slash == std::string::npos ? argv0 : argv0.substr(slash + 1);
    if (base == program) out.push_back(pid);
  }
  return out;
}

FinishedRun run_supervisor_to_exit(const std::vector<std::string>& args, std::chrono::milliseconds guard) {
  ChildProcess::Spec spec;
  spec.argv = args;
  spec.capture_stderr = true;
  ChildProcess child(spec);
  FinishedRun run;
  if (auto status = child.wait_until(Clock::now() + guard)) {
    run.status = *status;
  } else {
    child.kill_group();
    run.status = child.wait_until(Clock::now() + kStopGuard).value_or(ExitStatus{});
    run.status.forced = true;
  }
  run.output = child.output();
  return run;
}

pid_t RelayProcess::master_pid() const {
  std::vector<pid_t> masters = processes_named("sprites-master");
  REQUIRE(masters.size() == 1);
  return masters[0];
}

std::string RelayProcess::ipc_path() const {
  std::string path = argument_of(master_pid(), "--ipc-path");
  REQUIRE_FALSE(path.empty());
  return path;
}

void RelayProcess::wait_for_master_after(pid_t old, std::chrono::milliseconds guard) const {
  const bool back = retry_until(
      [&] {
        std::vector<pid_t> now = processes_named("sprites-master");
        if (now.size() != 1 || now[0] == old) return false;
        try {
          Response r = Connection(master_port_).request("GET", "/v1/stats");
          return r.status == 200 && r.json()["workers"]["connected"] == workers_;
        } catch (const std::exception&) {
          return false;  // the new master does not accept yet
        }
      },
      guard);
  REQUIRE(back);
}

}  // namespace sprites::test

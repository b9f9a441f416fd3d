// See process_tools.h.
#include "support/process_tools.h"

#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/proc_file.h"

extern char** environ;

namespace sprites::test {

Frozen::Frozen(pid_t pid) : pid_(pid) { ::kill(pid_, SIGSTOP); }

void Frozen::thaw() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
  pid_ = -1;
}

std::vector<std::string> command_line(pid_t pid) {
  const std::string raw = read_proc_file("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> args;
  size_t start = 0;
  while (start < raw.size()) {
    size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    args.push_back(raw.substr(start, end - start));
    start = end + 1;
  }
  return args;
}

std::string argument_of(pid_t pid, const std::string& flag) {
  const std::vector<std::string> args = command_line(pid);
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag) return args[i + 1];
  }
  return {};
}

std::uint64_t rss_bytes(pid_t pid) {
  const std::string statm = read_proc_file("/proc/" + std::to_string(pid) + "/statm");
  unsigned long long size = 0, resident = 0;
  if (std::sscanf(statm.c_str(), "%llu %llu", &size, &resident) != 2) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::uint64_t bytes_read(pid_t pid) {
  const std::string io = read_proc_file("/proc/" + std::to_string(pid) + "/io");
  const size_t at = io.find("rchar:");
  if (at == std::string::npos) return 0;
  return std::strtoull(io.c_str() + at + 6, nullptr, 10);
}

namespace {

// In the child only, right after fork (the test process has one thread, so
// the child may run ordinary code).
bool become(Identity identity) {
  if (::setgroups(0, nullptr) != 0) return false;
  if (identity == Identity::Nobody) {
    return ::setresgid(kNobody, kNobody, kNobody) == 0 && ::setresuid(kNobody, kNobody, kNobody) == 0;
  }
  // Effective ids of nobody (what SO_PEERCRED reports), real ids still root,
  // so the file-system uid may go back to 0 (setfsuid allows the real uid).
  if (::setresgid(0, kNobody, 0) != 0 || ::setresuid(0, kNobody, 0) != 0) return false;
  ::setfsuid(0);
  ::setfsgid(0);
  return static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) == 0 && ::geteuid() == kNobody;
}

}  // namespace

int as_user(Identity identity, const std::function<int()>& body, std::chrono::milliseconds guard) {
  const pid_t child = ::fork();
  if (child < 0) return -1;
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (!become(identity)) ::_exit(120);
    ::_exit(body());
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  pollfd p{pidfd, POLLIN, 0};
  const int ready = pidfd >= 0 ? ::poll(&p, 1, static_cast<int>(guard.count())) : 1;
  if (ready <= 0) ::kill(child, SIGKILL);
  if (pidfd >= 0) ::close(pidfd);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (ready <= 0 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.rfind("SPRITES_", 0) == 0) continue;
    const std::string_view name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& [key, value] : extra) overridden = overridden || key == name;
    if (!overridden) env.emplace_back(entry);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

std::pair<std::string, std::string> measurable_memory_env() {
  const char* current = std::getenv("ASAN_OPTIONS");
  std::string options = current != nullptr && *current != '\0' ? std::string(current) + ":" : std::string();
  return {"ASAN_OPTIONS", options + "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"};
}

int connect_unix(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

Drained read_until_eof(int fd, std::chrono::milliseconds guard) {
  Drained out;
  const auto deadline = std::chrono::steady_clock::now() + guard;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      out.eof = true;  // EOF, or a reset: the peer is gone either way
      return out;
    }
    out.bytes.append(buf, static_cast<size_t>(n));
  }
}

std::string read_some(int fd, std::chrono::milliseconds guard) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(guard.count())) <= 0) return {};
  char buf[4096];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

bool write_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace sprites::test

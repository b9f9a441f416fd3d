// Process tools for the black-box tests that play the part of an attacker or
// of a stuck process: hold a process stopped (SIGSTOP) for a scope, read a
// process's command line and memory, and run a piece of the test in a child
// process under another user's identity (the unprivileged uid 65534 of an
// attack by another local user).
//
// A child run with as_user() reports back only through its exit status (0
// for "as expected", any other value names what went wrong): it shares no
// memory with the test after the fork, and Catch2's assertions must not run
// in it. Its waits are bounded by poll() guards; the parent reaps it with a
// guard too and kills it if the guard runs out.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sprites::test {

inline constexpr uid_t kNobody = 65534;

// SIGSTOP now, SIGCONT when thawed or destroyed.
class Frozen {
 public:
  explicit Frozen(pid_t pid);
  ~Frozen() { thaw(); }
  Frozen(const Frozen&) = delete;
  Frozen& operator=(const Frozen&) = delete;
  void thaw();

 private:
  pid_t pid_;
};

// The arguments of a running process (/proc/<pid>/cmdline).
std::vector<std::string> command_line(pid_t pid);
// The value after `flag` in a process's arguments, or "".
std::string argument_of(pid_t pid, const std::string& flag);
// Resident memory of a process in bytes (/proc/<pid>/statm); 0 once gone.
std::uint64_t rss_bytes(pid_t pid);
// Bytes a process has read with read(2) and friends, sockets included
// (rchar of /proc/<pid>/io): tells that a server has taken in what was sent.
std::uint64_t bytes_read(pid_t pid);

// How a child under another identity is made.
enum class Identity {
  Nobody,              // real, effective and saved uid and gid 65534: an ordinary other user
  NobodyRootFiles,     // effective uid 65534 but file-system uid 0: passes the relay's
                       // directory permissions, so only the peer-credential check stands
};

// Forks, switches to `identity`, runs `body` and exits with what it returns.
// Returns that exit status, or -1 when the child died otherwise or outlived
// `guard`.
int as_user(Identity identity, const std::function<int()>& body,
            std::chrono::milliseconds guard = std::chrono::seconds(30));

// The environment of a process a test starts: the test's own without its
// SPRITES_* variables (each test sets only what it means) and without those
// `extra` sets, then `extra`.
std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& extra);

// ASAN_OPTIONS for a process whose memory a test measures: the current ones
// plus no allocator quarantine. Under AddressSanitizer freed memory waits in
// a quarantine of up to 256 MB before it is reused, which would hide what the
// code keeps; without the sanitizer the variable is ignored.
std::pair<std::string, std::string> measurable_memory_env();

// A connected AF_UNIX stream socket to `path`, or -1 (errno set).
int connect_unix(const std::string& path);
// Reads from `fd` until EOF or `guard`: the bytes read, and whether EOF came.
struct Drained {
  std::string bytes;
  bool eof = false;
};
Drained read_until_eof(int fd, std::chrono::milliseconds guard = std::chrono::seconds(10));
// The bytes of one read once `fd` is readable; "" at EOF or after `guard`.
std::string read_some(int fd, std::chrono::milliseconds guard = std::chrono::seconds(10));
// Writes all of `bytes`; false when the peer is gone.
bool write_all(int fd, const std::string& bytes);

}  // namespace sprites::test

// RelayProcess: the real relay (deploy/sprites-supervisor with its master and
// workers) started for one test on ports chosen by the system.
//
// It owns the supervisor process for its whole life: the constructor forks and
// execs the supervisor with its standard output on a pipe (standard error is
// inherited, so the relay's logs show beside a failing test), and returns once
// the supervisor printed its `ready master=... worker=... workers=...` line.
// The destructor stops it with SIGTERM and, should it not exit within the guard,
// kills its whole process group, so no process outlives a test even when an
// assertion failed half way. The child also asks the kernel for SIGTERM if the
// test process dies first (PR_SET_PDEATHSIG).
//
// Waiting uses poll() on a pidfd and the stdout pipe: nothing sleeps, timeouts
// are failure guards only. The stdout pipe is drained while waiting for exit so
// a supervisor that prints on shutdown is not killed by SIGPIPE.
//
// Dropped alternative: running the master and workers directly. That would
// test a process layout nobody deploys and skip the supervisor's own contract
// (ready line, restarts, graceful stop).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sprites::test {

class ChildProcess;

// How a process ended.
struct ExitStatus {
  bool exited = false;     // exit() was called; `code` holds its value
  int code = -1;
  int signal = 0;          // killed by this signal
  bool forced = false;     // the guard ran out and we sent SIGKILL
  bool clean() const { return exited && code == 0 && !forced; }
  std::string describe() const;
};

struct RelayOptions {
  // Per-test flags after the fixed ones, e.g. {"--node-ttl-ms", "300"}.
  std::vector<std::string> args;
  // Environment variables added for the supervisor (SPRITES_* from the test's
  // own environment are removed so every test sees only what it sets).
  std::vector<std::pair<std::string, std::string>> env;
  std::string bin_dir = SPRITES_BIN_DIR;
  int workers = 2;
  // When set, the supervisor's standard error goes to this file instead of the
  // test's (a test that inspects the logs).
  std::optional<std::string> stderr_path;
};

class RelayProcess {
 public:
  explicit RelayProcess(std::vector<std::string> extra_args = {});
  explicit RelayProcess(RelayOptions options);
  ~RelayProcess();
  RelayProcess(const RelayProcess&) = delete;
  RelayProcess& operator=(const RelayProcess&) = delete;

  // Where both ports listen, as a URL writes it: "127.0.0.1", or "[::1]" for
  // a relay started with --host ::1.
  const std::string& host() const { return host_; }
  std::uint16_t master_port() const { return master_port_; }
  std::uint16_t worker_port() const { return worker_port_; }
  int workers() const { return workers_; }
  pid_t pid() const;
  const std::string& ready_line() const { return ready_line_; }
  // The ready line's ` relay=<id>` (a relay started with --nats), else "".
  const std::string& relay_id() const { return relay_id_; }
  // Lines the supervisor printed on standard output before the ready line.
  const std::vector<std::string>& lines_before_ready() const { return lines_before_ready_; }

  // SIGTERM, then waits (guard 20 s, then SIGKILL of the group). Idempotent.
  ExitStatus stop();

  // Live descendants of the supervisor whose program is `program`
  // ("sprites-master", "sprites-worker"), found through /proc.
  std::vector<pid_t> processes_named(const std::string& program) const;
  // The one live master (a failed check when there is not exactly one).
  pid_t master_pid() const;
  // The master's --ipc-path, from its command line.
  std::string ipc_path() const;
  // Waits until a master other than `old` serves and every worker has
  // connected to it (a failed check after the guard).
  void wait_for_master_after(pid_t old, std::chrono::milliseconds guard = std::chrono::seconds(30)) const;

 private:
  std::unique_ptr<ChildProcess> child_;
  std::string host_;
  std::uint16_t master_port_ = 0;
  std::uint16_t worker_port_ = 0;
  int workers_ = 0;
  std::string ready_line_;
  std::string relay_id_;
  std::vector<std::string> lines_before_ready_;
};

// Runs the supervisor with exactly `args` until it exits by itself (guard:
// `guard`, then it is killed and `status.forced` is set); collects what it
// printed on standard output and standard error.
struct FinishedRun {
  ExitStatus status;
  std::string output;  // stdout then stderr
};
FinishedRun run_supervisor_to_exit(const std::vector<std::string>& args,
                                   std::chrono::milliseconds guard = std::chrono::seconds(30));

// The fixed flags every RelayProcess passes before the per-test ones.
std::vector<std::string> base_supervisor_args(const std::string& bin_dir, int workers);

}  // namespace sprites::test

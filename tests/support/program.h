// Program: one of our own binaries (sprites-cli, sprites-swarm) run by a test,
// with its standard output and standard error on pipes.
//
// The test reads its output line by line as it comes (read_line, with a
// deadline that only turns a hang into a failure), or waits for it to exit and
// takes everything it printed (finish). The destructor ends a program still
// running by its pid (SIGTERM, then SIGKILL after a guard) and reaps it, so no
// process outlives its test even when an assertion failed half way; the child
// also asks for SIGTERM should the test process die first (PR_SET_PDEATHSIG).
//
// Waiting uses poll() on the pipes and a pidfd: nothing sleeps.
//
// Dropped alternative: reusing RelayProcess's ChildProcess. It is private to
// relay_process.cc and built around the supervisor's ready line and process
// group; these programs are single processes (the swarm's children die with
// it) that the test talks to line by line.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sprites::test {

class Program {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts `argv` (argv[0] a path) with `env` added to the environment and
  // SPRITES_* variables of the test's own environment removed.
  explicit Program(std::vector<std::string> argv, std::vector<std::pair<std::string, std::string>> env = {});
  ~Program();
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  pid_t pid() const { return pid_; }

  // The next line of standard output; nullopt at its end or at the deadline.
  std::optional<std::string> read_line(std::chrono::milliseconds guard = std::chrono::seconds(30));

  struct Finished {
    bool exited = false;  // false: killed by a signal, or the guard ran out
    int code = -1;
    int signal = 0;
    std::string out;  // all of standard output not read by read_line
    std::string err;  // all of standard error
  };
  // Waits for the program to exit by itself, collecting its output; after
  // `guard` it is killed and `exited` is false.
  Finished finish(std::chrono::milliseconds guard = std::chrono::seconds(60));
  // SIGTERM now, then finish().
  Finished terminate(std::chrono::milliseconds guard = std::chrono::seconds(20));

 private:
  bool pump(Clock::time_point deadline);  // reads what is there; false at the deadline
  bool reap(int options);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  std::optional<Finished> status_;
};

// Runs a program to its end and returns what it printed; a convenience for
// short commands.
Program::Finished run_program(std::vector<std::string> argv,
                              std::vector<std::pair<std::string, std::string>> env = {},
                              std::chrono::milliseconds guard = std::chrono::seconds(60));

}  // namespace sprites::test

// The supervisor as a child of the test: see relay_process.h.
//
// RelayProcess holds its ChildProcess (child_process.h) in a member, so when
// the constructor fails (no ready line, bad format) the member is destroyed
// and the process group is taken down even though ~RelayProcess never runs.
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
#include "support/child_process.h"
#include "support/http_client.h"
#include "support/process_tools.h"

namespace sprites::test {

namespace {

constexpr std::chrono::seconds kReadyGuard{60};

}  // namespace

std::string ExitStatus::describe() const {
  std::string out;
  if (exited) out = "exited with code " + std::to_string(code);
  else if (signal != 0) out = std::string("killed by signal ") + strsignal(signal);
  else out = "did not end";
  if (forced) out += " (after SIGKILL: it ignored SIGTERM for " + std::to_string(kStopGuard.count()) + " s)";
  return out;
}

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

  // On 127.0.0.1, or on ::1 for a test that passes --host ::1.
  static const std::regex kReady(
      R"(ready master=(127\.0\.0\.1|\[::1\]):([0-9]{1,5}) worker=\1:([0-9]{1,5}) workers=([0-9]+)( relay=([a-z0-9]{1,16}))?( admin=\S+)?)");
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
    host_ = m[1].str();
    master_port_ = static_cast<std::uint16_t>(std::stoul(m[2].str()));
    worker_port_ = static_cast<std::uint16_t>(std::stoul(m[3].str()));
    workers_ = std::stoi(m[4].str());
    relay_id_ = m[6].str();
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

// deploy/sprites-supervisor as a black box: its ready line, its refusal to
// start without binaries, options from flags and the environment, relays side
// by side, restarts of a worker and of the master, and a graceful stop
// (docs/API.md "Options", "Processes").
//
// The restart tests wait for a restarted process with retry_until(), the one
// place in the suite where there is no event to wait on; its pacing is a guard,
// and every assertion is about the state reached, never about time taken.
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cctype>
#include <regex>
#include <string>
#include <vector>

#include "common/proc_file.h"
#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool healthy(std::uint16_t port) {
  try {
    return Connection(port).request("GET", "/healthz").status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

TEST_CASE("the supervisor prints one ready line naming both ports and the worker count") {
  RelayProcess relay;
  CHECK(relay.lines_before_ready().empty());
  CHECK(std::regex_match(relay.ready_line(),
                         std::regex(R"(ready master=127\.0\.0\.1:[1-9][0-9]* worker=127\.0\.0\.1:[1-9][0-9]* workers=2)")));
  CHECK(relay.workers() == 2);
  CHECK(healthy(relay.master_port()));
  CHECK(healthy(relay.worker_port()));
  CHECK(relay.processes_named("sprites-master").size() == 1);
  CHECK(relay.processes_named("sprites-worker").size() == 2);
}

TEST_CASE("the supervisor starts the number of workers asked for") {
  RelayOptions options;
  options.workers = 1;
  RelayProcess relay(options);
  CHECK(relay.workers() == 1);
  CHECK(relay.ready_line().size() >= 10);
  CHECK(relay.ready_line().compare(relay.ready_line().size() - 10, 10, " workers=1") == 0);
  Json s = stats_when(relay.master_port(), [](Json& j) { return j["workers"]["connected"] == 1; });
  CHECK(s["workers"]["connected"] == 1);
  CHECK(relay.processes_named("sprites-worker").size() == 1);
}

TEST_CASE("the supervisor refuses to start when the binaries are not built") {
  char dir[] = "/tmp/sprites-empty-bin-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  FinishedRun run = run_supervisor_to_exit(base_supervisor_args(dir, 2));
  ::rmdir(dir);
  INFO(run.status.describe() << "; output: " << run.output);
  CHECK_FALSE(run.status.forced);
  CHECK(run.status.exited);
  CHECK(run.status.code != 0);
  const std::string said = lower(run.output);
  CHECK(said.find("sprites-master") != std::string::npos);
  CHECK(said.find("buil") != std::string::npos);  // "not built", "build it with ..."
  CHECK(said.find("ready master=") == std::string::npos);
}

TEST_CASE("SIGTERM stops the relay gracefully: exit 0 and both ports closed") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  Connection held(relay.master_port());
  send_poll(held, a, 0, 20000);  // a held poll must not keep the relay up
  Json s = stats_when(relay.master_port(), [](Json& j) { return j["polls_pending"] == 1; });
  REQUIRE(s["polls_pending"] == 1);
  ExitStatus status = relay.stop();
  INFO(status.describe());
  CHECK(status.clean());
  CHECK(connection_refused(relay.master_port()));
  CHECK(connection_refused(relay.worker_port()));
}

TEST_CASE("options come from SPRITES_ environment variables, and a flag wins over one") {
  RelayOptions from_env;
  from_env.env = {{"SPRITES_GRID_WIDTH", "2"}, {"SPRITES_MAX_NODES", "3"}};
  RelayProcess env_relay(from_env);
  std::vector<Node> nodes;
  for (int i = 0; i < 3; ++i) nodes.push_back(join(env_relay.master_port(), "g", "n" + std::to_string(i)));
  CHECK(nodes[2].joined["position"] == Json{{"row", 1}, {"col", 0}});
  check_error(join_raw(env_relay.master_port(), ""), 503, "node_limit");

  RelayOptions both;
  both.env = {{"SPRITES_GRID_WIDTH", "2"}, {"SPRITES_POLL_TIMEOUT_MS", "1234"}};
  both.args = {"--grid-width", "3"};
  RelayProcess flag_relay(both);
  nodes.clear();
  for (int i = 0; i < 3; ++i) nodes.push_back(join(flag_relay.master_port(), "g", "n" + std::to_string(i)));
  CHECK(nodes[2].joined["position"] == Json{{"row", 0}, {"col", 2}});
  CHECK(nodes[0].joined["poll_timeout_ms"] == 1234);
}

TEST_CASE("the supervisor takes every option as the binaries do, a fractional rate limit included") {
  RelayProcess relay({"--rate-limit", "2.5"});  // a burst of 5 throws
  Node a = join(relay.master_port(), "g", "a");
  int accepted = 0;
  for (int i = 0; i < 20; ++i) accepted += throw_sprite(relay.worker_port(), a, "up", "{}").status == 202 ? 1 : 0;
  CHECK(accepted >= 5);
  CHECK(accepted < 20);  // refilled at 2.5/s, all 20 would take 6 s
}

TEST_CASE("the supervisor refuses what the binaries refuse, with their reason and status 2") {
  FinishedRun run = run_supervisor_to_exit({SPRITES_SUPERVISOR, "--bin-dir", SPRITES_BIN_DIR, "--grid-width", "0"});
  INFO(run.output);
  CHECK(run.status.exited);
  CHECK(run.status.code == 2);
  CHECK(run.output.find("--grid-width") != std::string::npos);
  CHECK(run.output.find("ready master=") == std::string::npos);
}

TEST_CASE("two relays run side by side without sharing state") {
  RelayProcess first;
  RelayProcess second;
  CHECK(first.master_port() != second.master_port());
  CHECK(first.worker_port() != second.worker_port());
  Node a = join(first.master_port(), "g", "a");
  Node b = join(second.master_port(), "g", "b");
  CHECK(a.joined["position"] == Json{{"row", 0}, {"col", 0}});
  CHECK(b.joined["position"] == Json{{"row", 0}, {"col", 0}});
  check_error(node_info(second.master_port(), a), 404, "unknown_node");
  // Each relay's workers talk to their own master.
  CHECK_STATUS(throw_sprite(first.worker_port(), a, "up", "{}"), 202);
  check_error(throw_sprite(second.worker_port(), a, "up", "{}"), 404, "unknown_node");
  CHECK(stats(first.master_port())["workers"]["connected"] == 2);
  CHECK(stats(second.master_port())["workers"]["connected"] == 2);
  CHECK(stats(first.master_port())["nodes"] == 1);
  CHECK(stats(second.master_port())["nodes"] == 1);
}

TEST_CASE("a worker that dies is restarted and the relay keeps its state") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  std::vector<pid_t> workers = relay.processes_named("sprites-worker");
  REQUIRE(workers.size() == 2);
  const pid_t victim = workers[0];
  REQUIRE(::kill(victim, SIGKILL) == 0);

  bool replaced = retry_until(
      [&] {
        std::vector<pid_t> now = relay.processes_named("sprites-worker");
        return now.size() == 2 && std::find(now.begin(), now.end(), victim) == now.end();
      },
      std::chrono::seconds(30));
  CHECK(replaced);
  Json s = stats_when(relay.master_port(), [](Json& j) { return j["workers"]["connected"] == 2; },
                      std::chrono::seconds(30));
  CHECK(s["workers"]["connected"] == 2);
  // The master kept the node, and throws go through.
  CHECK_STATUS(node_info(relay.master_port(), a), 200);
  for (int i = 0; i < 4; ++i) CHECK_STATUS(throw_sprite(relay.worker_port(), a, "up", "{}"), 202);
  ExitStatus status = relay.stop();
  INFO(status.describe());
  CHECK(status.clean());
}

TEST_CASE("a master that dies is restarted, old nodes are unknown and throws resume") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node old = join(port, "g", "old");
  std::vector<pid_t> masters = relay.processes_named("sprites-master");
  REQUIRE(masters.size() == 1);
  const pid_t victim = masters[0];
  REQUIRE(::kill(victim, SIGKILL) == 0);

  // Back on the same port, as the ready line promised.
  bool back = retry_until(
      [&] {
        std::vector<pid_t> now = relay.processes_named("sprites-master");
        return now.size() == 1 && now[0] != victim && healthy(port);
      },
      std::chrono::seconds(30));
  REQUIRE(back);
  check_error(poll(port, old, 0, 0), 404, "unknown_node");
  Node fresh = join(port, "g", "fresh");

  // Workers reconnect by themselves; until then a throw may meet 503.
  Response last;
  bool accepted = retry_until(
      [&] {
        last = throw_sprite(relay.worker_port(), fresh, "up", "{}");
        if (last.status == 503) {
          CHECK(last.json().value("error", "") == "master_unavailable");
          CHECK(last.header("Retry-After") == "1");
        }
        return last.status == 202;
      },
      std::chrono::seconds(30));
  INFO(last.summary());
  CHECK(accepted);
  // One worker answered; the throw below may reach the other, which must
  // have reconnected too, or it rightly answers 503.
  Json s = stats_when(port, [](Json& j) { return j["workers"]["connected"] == 2; }, std::chrono::seconds(30));
  CHECK(s["workers"]["connected"] == 2);
  check_error(throw_sprite(relay.worker_port(), old, "up", "{}"), 404, "unknown_node");
  ExitStatus status = relay.stop();
  INFO(status.describe());
  CHECK(status.clean());
}

// Holds the supervisor stopped (SIGSTOP) so it cannot restart anything, and
// lets it go again however the test ends.
class FrozenSupervisor {
 public:
  explicit FrozenSupervisor(pid_t pid) : pid_(pid) { REQUIRE(::kill(pid_, SIGSTOP) == 0); }
  ~FrozenSupervisor() { thaw(); }
  FrozenSupervisor(const FrozenSupervisor&) = delete;
  FrozenSupervisor& operator=(const FrozenSupervisor&) = delete;
  void thaw() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

TEST_CASE("while the master is down a throw is 503 master_unavailable and the worker is unhealthy") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  std::vector<pid_t> masters = relay.processes_named("sprites-master");
  REQUIRE(masters.size() == 1);
  {
    FrozenSupervisor frozen(relay.pid());
    REQUIRE(::kill(masters[0], SIGKILL) == 0);
    Response health;
    bool unhealthy = retry_until(
        [&] {
          health = Connection(relay.worker_port()).request("GET", "/healthz");
          return health.status == 503;
        },
        std::chrono::seconds(20));
    INFO(health.summary());
    REQUIRE(unhealthy);
    Response r = throw_sprite(relay.worker_port(), a, "up", "{}");
    check_error(r, 503, "master_unavailable");
    CHECK(r.header("Retry-After") == "1");
    frozen.thaw();
  }
  // Restarted: healthy again, the old node forgotten, a new one served.
  bool back = retry_until([&] { return healthy(relay.master_port()) && healthy(relay.worker_port()); },
                          std::chrono::seconds(30));
  REQUIRE(back);
  check_error(node_info(relay.master_port(), a), 404, "unknown_node");
  Node b = join(relay.master_port(), "g", "b");
  Response last;
  bool accepted = retry_until(
      [&] {
        last = throw_sprite(relay.worker_port(), b, "up", "{}");
        return last.status == 202;
      },
      std::chrono::seconds(30));
  INFO(last.summary());
  CHECK(accepted);
  ExitStatus status = relay.stop();
  INFO(status.describe());
  CHECK(status.clean());
}

TEST_CASE("with master port 0 the IPC socket is named after the supervisor pid, or --ipc-path") {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  const std::string dir = runtime != nullptr && *runtime != '\0' ? runtime : "/tmp/sprites-" + std::to_string(::geteuid());
  {
    RelayProcess relay;
    struct stat st {};
    const std::string path = dir + "/sprites-" + std::to_string(relay.pid()) + ".sock";
    INFO(path);
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
  }
  char custom_dir[] = "/tmp/sprites-ipc-XXXXXX";
  REQUIRE(::mkdtemp(custom_dir) != nullptr);
  const std::string custom = std::string(custom_dir) + "/relay.sock";
  {
    RelayProcess relay({"--ipc-path", custom});
    struct stat st {};
    REQUIRE(::stat(custom.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_STATUS(throw_sprite(relay.worker_port(), join(relay.master_port(), "g", "a"), "up", "{}"), 202);
    CHECK(relay.stop().clean());
  }
  ::unlink(custom.c_str());
  ::rmdir(custom_dir);
}

// Whether `pid` has a handler for `signum` (its SigCgt mask in /proc); false
// once it has exited.
bool catches(pid_t pid, int signum) {
  const std::string status = read_proc_file("/proc/" + std::to_string(pid) + "/status");
  const size_t at = status.find("\nSigCgt:");
  if (at == std::string::npos) return false;
  return (std::stoull(status.substr(at + 8), nullptr, 16) >> (signum - 1) & 1) != 0;
}

// Ctrl-C at a terminal sends SIGINT to every process of the group, and the
// supervisor then sends each child its own SIGTERM. A worker already draining
// its throws in flight must finish them (202 or a clean error), not die of the
// second signal.
TEST_CASE("a second stop signal does not cut short a worker draining a throw in flight") {
  RelayProcess relay({"--workers", "1"});
  Node a = join(relay.master_port(), "g", "a");
  const std::vector<pid_t> masters = relay.processes_named("sprites-master");
  const std::vector<pid_t> workers = relay.processes_named("sprites-worker");
  REQUIRE(masters.size() == 1);
  REQUIRE(workers.size() == 1);
  // A stopped master never acknowledges, so the throw stays in flight.
  FrozenSupervisor frozen_master(masters[0]);
  Connection thrower(relay.worker_port());
  thrower.send_request("POST", "/v1/nodes/" + a.id + "/sprites", bearer(a.token), throw_body("left", "{}", "s-1"));
  // The worker reads a connection accepted after the throw arrived only in a
  // later loop turn than the throw itself: once /healthz answers, the throw
  // has been forwarded.
  REQUIRE(Connection(relay.worker_port()).request("GET", "/healthz").status == 200);

  REQUIRE(catches(workers[0], SIGTERM));
  REQUIRE(::kill(workers[0], SIGINT) == 0);
  // The worker has begun its stop once it no longer handles SIGTERM itself
  // (no event to wait on from outside).
  REQUIRE(retry_until([&] { return !catches(workers[0], SIGTERM); }, std::chrono::seconds(10)));
  REQUIRE(::kill(workers[0], SIGTERM) == 0);

  // The drain ends at its grace with the master still stopped: a clean 503.
  Response r = thrower.read_response();
  CHECK_STATUS(r, 503);
  CHECK(r.json().at("error") == "master_unavailable");
  frozen_master.thaw();
  CHECK(relay.stop().clean());
}

}  // namespace
}  // namespace sprites::test

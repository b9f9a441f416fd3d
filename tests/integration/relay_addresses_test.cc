// How the tools find the relay: --master and --worker as a host name
// (`localhost`, from /etc/hosts: no network is needed), as an http:// URL, and
// as an IPv6 literal against a relay started with --host ::1 (which listens
// on ::1 only, so an exchange with it went over IPv6). A name that
// does not resolve (`.invalid` is reserved never to) is one clear error with
// the tools' "could not reach the relay" status; an address that is not one
// is a usage error, before anything is sent.
//
// Each exchange has the listener join last, so the first event it prints is
// the sprite: `listen --count 1` then exits by itself and nothing waits on a
// clock.
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/program.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

std::string port_text(std::uint16_t port) { return std::to_string(port); }

// The one JSON line a command printed.
Json only_line(const Program::Finished& run) {
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  REQUIRE(run.exited);
  REQUIRE(run.code == 0);
  REQUIRE(run.out.find('\n') == run.out.size() - 1);
  return Json::parse(run.out);
}

struct Addresses {
  std::string master;
  std::string worker;
};

Program::Finished cli(const Addresses& at, std::vector<std::string> args) {
  std::vector<std::string> argv = {SPRITES_CLI, "--master", at.master, "--worker", at.worker};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv);
}

// Two nodes join through `joins`, the second listens through `listens` and
// the first throws through `throws`: the listener prints that sprite.
void exchange(const Addresses& joins, const Addresses& listens, const Addresses& throws, const std::string& id) {
  Json thrower = only_line(cli(joins, {"join", "--group", "addr-" + id, "--name", "thrower"}));
  Json listener_node = only_line(cli(joins, {"join", "--group", "addr-" + id, "--name", "listener"}));
  Program listener({SPRITES_CLI, "--master", listens.master, "--worker", listens.worker, "listen", "--node",
                    listener_node["node"].get<std::string>(), "--count", "1"},
                   {{"SPRITES_TOKEN", listener_node["token"].get<std::string>()}});
  Json thrown = only_line(cli(throws, {"throw", "--node", thrower["node"].get<std::string>(), "--token",
                                       thrower["token"].get<std::string>(), "--direction", "right", "--sprite",
                                       R"({"kind":"cat"})", "--id", id}));
  CHECK(thrown["to"]["node"] == listener_node["node"]);
  Json event = only_line(listener.finish());
  CHECK(event["type"] == "sprite");
  CHECK(event["id"] == id);
  Program::Finished left = cli(listens, {"leave", "--node", listener_node["node"].get<std::string>(), "--token",
                                         listener_node["token"].get<std::string>()});
  INFO("stderr: " << left.err);
  CHECK(left.code == 0);
}

TEST_CASE("sprites-cli reaches the relay by host name and by http:// URL") {
  RelayProcess relay;
  const std::string mp = port_text(relay.master_port());
  const std::string wp = port_text(relay.worker_port());
  exchange({"localhost:" + mp, "localhost:" + wp}, {"http://127.0.0.1:" + mp, "http://127.0.0.1:" + wp},
           {"http://localhost:" + mp + "/", "http://localhost:" + wp}, "by-name");
}

TEST_CASE("sprites-cli talks to a relay that listens on ::1, as [::1]:port and as http://[::1]:port") {
  RelayProcess relay({"--host", "::1"});
  REQUIRE(relay.host() == "[::1]");
  const std::string mp = port_text(relay.master_port());
  const std::string wp = port_text(relay.worker_port());
  exchange({"[::1]:" + mp, "[::1]:" + wp}, {"http://[::1]:" + mp, "http://[::1]:" + wp},
           {"[::1]:" + mp, "http://[::1]:" + wp + "/"}, "by-ipv6");
}

TEST_CASE("sprites-cli: a name that does not resolve is one clear error and exit 1") {
  for (const char* flag : {"--master", "--worker"}) {
    Program::Finished run = run_program({SPRITES_CLI, flag, "no-such-host.invalid:8000", "join"});
    INFO(flag << " stderr: " << run.err);
    CHECK(run.exited);
    CHECK(run.code == 1);
    CHECK(run.out.empty());
    CHECK(run.err.rfind("sprites-cli: cannot resolve no-such-host.invalid: ", 0) == 0);
    CHECK(run.err.find('\n') == run.err.size() - 1);  // one line
  }
}

TEST_CASE("sprites-cli: an address that is not host:port is a usage error, exit 2") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ftp://x:1", "http and https only"},
      {"https://relay.example.com:", "not host:port"},
      {"relay:0", "not a port"},
      {"relay.example.com:", "not host:port"},
      {":8000", "not host:port"},
      {"[::1", "[IPv6 address]:port"},
      {"::1:8000", "brackets"},
  };
  for (const auto& [address, reason] : cases) {
    Program::Finished run = run_program({SPRITES_CLI, "--master", address, "join"});
    INFO(address << " stderr: " << run.err);
    CHECK(run.code == 2);
    CHECK(run.out.empty());
    CHECK(run.err.find("--master: ") != std::string::npos);
    CHECK(run.err.find(reason) != std::string::npos);
  }
}

Json swarm_report(const Program::Finished& run) {
  INFO("stderr:\n" << run.err << "\nstdout:\n" << run.out);
  REQUIRE(run.exited);
  REQUIRE(run.code == 0);
  return Json::parse(run.out);
}

std::vector<std::string> short_swarm(const std::string& master, const std::string& worker,
                                     std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {SPRITES_SWARM, "--master", master,     "--worker", worker, "--json", "--quiet",
                                   "--nodes",     "20",     "--procs", "1",        "--interval", "500ms",
                                   "--warmup",    "0",      "--duration", "1s"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

TEST_CASE("sprites-swarm reaches the relay by host name") {
  RelayProcess relay;
  Json r = swarm_report(run_program(short_swarm("localhost:" + port_text(relay.master_port()),
                                                "http://localhost:" + port_text(relay.worker_port())),
                                    {}, std::chrono::seconds(120)));
  INFO(r.dump(2));
  CHECK(r["ok"] == true);
  CHECK(r["nodes"]["held"] == 20);
  CHECK(r["deliveries"]["lost"] == 0);
  CHECK(r["deliveries"]["count"] == r["throws"]["accepted"]);
}

TEST_CASE("sprites-swarm against a relay on ::1 needs --source-base none, and then runs over IPv6") {
  RelayProcess relay({"--host", "::1"});
  REQUIRE(relay.host() == "[::1]");
  const std::string master = "[::1]:" + port_text(relay.master_port());
  const std::string worker = "[::1]:" + port_text(relay.worker_port());
  Program::Finished refused = run_program(short_swarm(master, worker));
  INFO("stderr: " << refused.err);
  CHECK(refused.code == 2);
  CHECK(refused.err.find("--source-base none") != std::string::npos);

  Json r = swarm_report(run_program(short_swarm(master, worker, {"--source-base", "none"}), {},
                                    std::chrono::seconds(120)));
  INFO(r.dump(2));
  CHECK(r["ok"] == true);
  CHECK(r["nodes"]["held"] == 20);
  CHECK(r["deliveries"]["lost"] == 0);
}

TEST_CASE("sprites-swarm: a name that does not resolve ends the run like a relay that is not there") {
  Program::Finished run =
      run_program({SPRITES_SWARM, "--master", "no-such-host.invalid:8000", "--worker", "127.0.0.1:2", "--nodes", "10"});
  INFO("stderr: " << run.err);
  CHECK(run.code == 3);
  CHECK(run.out.empty());
  CHECK(run.err.rfind("sprites-swarm: cannot resolve no-such-host.invalid: ", 0) == 0);
}

}  // namespace
}  // namespace sprites::test

// sprites-swarm against the real relay: a short run of ~200 nodes over two
// child processes, read from its --json report. No figure of speed is
// asserted, only what must hold on any machine: every node asked for was held,
// every accepted throw was delivered, nothing lost, nothing duplicated, and
// the relay's processes were found and measured.
//
// The swarm bounds itself (duration, then a bounded drain, then its children
// leave and exit); the test's guard only turns a hang into a failure, and the
// Program destructor ends the swarm by pid should an assertion fail first.
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/program.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

std::vector<std::string> swarm_args(const RelayProcess& relay, std::vector<std::string> extra) {
  std::vector<std::string> argv = {SPRITES_SWARM, "--master", "127.0.0.1:" + std::to_string(relay.master_port()),
                                   "--worker", "127.0.0.1:" + std::to_string(relay.worker_port()), "--json"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

Json report_of(const Program::Finished& run) {
  INFO("stderr:\n" << run.err << "\nstdout:\n" << run.out);
  REQUIRE(run.exited);
  REQUIRE(run.code == 0);
  return Json::parse(run.out);
}

TEST_CASE("sprites-swarm: 200 nodes in two processes deliver every accepted throw exactly once") {
  RelayProcess relay;
  Program::Finished run = run_program(swarm_args(relay, {"--nodes", "200", "--procs", "2", "--groups", "3",
                                                          "--interval", "1s", "--warmup", "1s", "--duration", "3s"}),
                                      {}, std::chrono::seconds(120));
  Json r = report_of(run);
  INFO(r.dump(2));
  CHECK(r["ok"] == true);
  CHECK(r["config"]["procs"] == 2);
  CHECK(r["nodes"]["asked"] == 200);
  CHECK(r["nodes"]["joined"] == 200);
  CHECK(r["nodes"]["held"] == 200);
  CHECK(r["nodes"]["gone"] == 0);
  CHECK(r["throws"]["sent"].get<uint64_t>() > 0);
  CHECK(r["throws"]["accepted"] == r["throws"]["sent"]);
  CHECK(r["deliveries"]["count"] == r["throws"]["accepted"]);
  CHECK(r["deliveries"]["lost"] == 0);
  CHECK(r["deliveries"]["duplicated"] == 0);
  CHECK(r["deliveries"]["drained"] == true);
  CHECK(r["latency_ms"]["count"] == r["deliveries"]["count"]);
  CHECK(r["problems"].empty());
  // The relay's processes, found through /proc by the master port.
  std::vector<pid_t> masters = relay.processes_named("sprites-master");
  REQUIRE(masters.size() == 1);
  CHECK(r["server"]["master_pid"] == masters[0]);
  CHECK(r["server"]["worker_pids"].size() == 2);
  CHECK(r["server"]["master_rss_bytes"].get<uint64_t>() > 0);
  CHECK(r["server"]["cpu_s"].is_number());
  // Progress lines went to standard error.
  CHECK(run.err.find("held 200/200") != std::string::npos);
  // Every node left at the end.
  Json s = stats_when(relay.master_port(), [](Json& j) { return j["nodes"] == 0; });
  CHECK(s["nodes"] == 0);
}

TEST_CASE("sprites-swarm: a closed loop counts the relay's refusals by code") {
  // A rate limit of 1 per node and a burst of 2: most throws of a closed loop
  // over 20 nodes are refused 429 rate_limited, and counted, not lost.
  RelayProcess relay({"--rate-limit", "1"});
  Program::Finished run = run_program(
      swarm_args(relay, {"--nodes", "20", "--closed", "8", "--warmup", "0", "--duration", "1s", "--quiet"}), {},
      std::chrono::seconds(120));
  Json r = report_of(run);
  INFO(r.dump(2));
  CHECK(r["ok"] == true);
  CHECK(r["nodes"]["held"] == 20);
  CHECK(r["throws"]["rejected"]["429 rate_limited"].get<uint64_t>() > 0);
  CHECK(r["throws"]["sent"].get<uint64_t>() ==
        r["throws"]["accepted"].get<uint64_t>() + r["throws"]["rejected_total"].get<uint64_t>() +
            r["throws"]["no_answer"].get<uint64_t>());
  CHECK(r["deliveries"]["count"] == r["throws"]["accepted"]);
  CHECK(r["deliveries"]["lost"] == 0);
  CHECK(r["deliveries"]["duplicated"] == 0);
  CHECK(run.err.empty());  // --quiet
}

TEST_CASE("sprites-swarm: a relay that is not there is a clear error") {
  Program::Finished run = run_program({SPRITES_SWARM, "--master", "127.0.0.1:1", "--worker", "127.0.0.1:2", "--nodes", "10"});
  CHECK(run.exited);
  CHECK(run.code == 3);
  CHECK(run.out.empty());
  CHECK(run.err.find("127.0.0.1:1") != std::string::npos);
}

TEST_CASE("sprites-swarm: only loopback targets are accepted") {
  Program::Finished run = run_program({SPRITES_SWARM, "--master", "192.0.2.1:8000", "--nodes", "10"});
  CHECK(run.code == 2);
  CHECK(run.err.find("loopback") != std::string::npos);
}

}  // namespace
}  // namespace sprites::test

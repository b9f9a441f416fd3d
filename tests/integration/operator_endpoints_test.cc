// The operators' endpoints (/v1/stats, /metrics, /v1/cluster, the status
// page) on a port of their own (--admin-port) and behind a token
// (--admin-token), while clients keep the master port: docs/API.md
// "Operator endpoints".
#include <signal.h>

#include <catch2/catch.hpp>

#include <regex>

#include "support/http_client.h"
#include "support/relay_process.h"

using namespace sprites::test;

namespace {

constexpr char kToken[] = "op-3fH9xQ2mLk7Vw8Rt";

std::uint16_t admin_port_of(const RelayProcess& relay) {
  static const std::regex kAdmin(R"( admin=127\.0\.0\.1:([0-9]+)$)");
  std::smatch m;
  const std::string& line = relay.ready_line();
  REQUIRE(std::regex_search(line, m, kAdmin));
  return static_cast<std::uint16_t>(std::stoi(m[1]));
}

}  // namespace

TEST_CASE("with an admin port the figures leave the master port, which keeps serving clients") {
  RelayProcess relay({"--admin-port", "0"});
  const std::uint16_t admin = admin_port_of(relay);
  CHECK(admin != relay.master_port());
  Node a = join(relay.master_port(), "ops", "a");

  Connection master(relay.master_port());
  for (const char* path : {"/v1/stats", "/metrics", "/v1/cluster", "/"}) {
    INFO(path);
    check_error(master.request("GET", path), 404, "not_found");
  }
  CHECK(master.request("GET", "/healthz").status == 200);
  CHECK(master.request("GET", "/play").status == 200);

  Connection ops(admin);
  Response stats = ops.request("GET", "/v1/stats");
  REQUIRE_STATUS(stats, 200);
  CHECK(stats.json()["nodes"] == 1);
  Response metrics = ops.request("GET", "/metrics");
  REQUIRE_STATUS(metrics, 200);
  CHECK(metrics.body.find("sprites_nodes 1\n") != std::string::npos);
  CHECK(ops.request("GET", "/v1/cluster").status == 200);
  Response page = ops.request("GET", "/");
  REQUIRE_STATUS(page, 200);
  CHECK(page.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(ops.request("GET", "/healthz").status == 200);
  // Nothing of the clients' API is there.
  check_error(ops.request("POST", "/v1/nodes"), 404, "not_found");
  check_error(ops.request("GET", "/v1/nodes/" + a.id + "/events", bearer(a.token)), 404, "not_found");
  check_error(ops.request("GET", "/play"), 404, "not_found");
}

TEST_CASE("a restarted master takes over the admin port the supervisor holds") {
  RelayProcess relay({"--admin-port", "0"});
  const std::uint16_t admin = admin_port_of(relay);
  std::vector<pid_t> masters = relay.processes_named("sprites-master");
  REQUIRE(masters.size() == 1);
  ::kill(masters[0], SIGKILL);
  bool back = retry_until(
      [&] {
        std::vector<pid_t> now = relay.processes_named("sprites-master");
        if (now.size() != 1 || now[0] == masters[0]) return false;
        try {
          return Connection(admin).request("GET", "/v1/stats").status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(20));
  CHECK(back);
}

TEST_CASE("with an admin token the figures need it, clients and health checks do not") {
  RelayProcess relay(RelayOptions{{}, {{"SPRITES_ADMIN_TOKEN", kToken}}, SPRITES_BIN_DIR, 1, std::nullopt});
  Connection c(relay.master_port());
  for (const char* path : {"/v1/stats", "/metrics", "/v1/cluster"}) {
    INFO(path);
    check_error(c.request("GET", path), 401, "unauthorized");
    check_error(c.request("GET", path, bearer("op-3fH9xQ2mLk7Vw8Rx")), 401, "unauthorized");
    check_error(c.request("GET", path, bearer(std::string(kToken) + "x")), 401, "unauthorized");
    CHECK(c.request("GET", path, bearer(kToken)).status == 200);
  }
  CHECK(c.request("GET", "/healthz").status == 200);
  // The status page shows no figures itself: its script asks for them with the token.
  CHECK(c.request("GET", "/").status == 200);
  Node a = join(relay.master_port(), "ops", "a");
  Response stats = c.request("GET", "/v1/stats", bearer(kToken));
  CHECK(stats.json()["nodes"] == 1);
  // The token is no node's: a node's token does not open the figures.
  check_error(c.request("GET", "/v1/stats", bearer(a.token)), 401, "unauthorized");
}

TEST_CASE("the admin port with a token needs the token there") {
  RelayProcess relay({"--admin-port", "0", "--admin-token", kToken});
  const std::uint16_t admin = admin_port_of(relay);
  Connection ops(admin);
  check_error(ops.request("GET", "/v1/stats"), 401, "unauthorized");
  CHECK(ops.request("GET", "/v1/stats", bearer(kToken)).status == 200);
  CHECK(ops.request("GET", "/healthz").status == 200);
}

TEST_CASE("an admin port that is the master port, or a short admin token, is a usage error") {
  FinishedRun same = run_supervisor_to_exit(
      {SPRITES_SUPERVISOR, "--bin-dir", SPRITES_BIN_DIR, "--master-port", "18000", "--admin-port", "18000"});
  INFO(same.output);
  CHECK(same.status.code == 2);
  CHECK(same.output.find("--admin-port") != std::string::npos);
  FinishedRun short_token =
      run_supervisor_to_exit({SPRITES_SUPERVISOR, "--bin-dir", SPRITES_BIN_DIR, "--admin-token", "short"});
  INFO(short_token.output);
  CHECK(short_token.status.code == 2);
  CHECK(short_token.output.find("--admin-token") != std::string::npos);
  CHECK(short_token.output.find("ready master=") == std::string::npos);
}

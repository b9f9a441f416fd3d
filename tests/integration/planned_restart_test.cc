// Planned restart: SIGHUP to the supervisor makes the master answer
// its held polls, write a snapshot and exit; the next master loads it, so a
// client polls again with its old token and cursor and loses neither its node
// nor a sprite it had not acknowledged.
#include <signal.h>

#include <string>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

bool serves(std::uint16_t port) {
  try {
    return Connection(port).request("GET", "/healthz").status == 200;
  } catch (...) {
    return false;
  }
}

TEST_CASE("a planned restart keeps every node, token, cursor and unacknowledged sprite") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  // b acknowledges everything it has so far; then a throws it a sprite that b
  // has not read when the restart comes.
  std::uint64_t b_cursor = poll(port, b, 0, 0).json()["cursor"].get<std::uint64_t>();
  Response thrown = throw_sprite(relay.worker_port(), a, "right", R"({"big":18446744073709551615})", "kept");
  REQUIRE(thrown.status == 202);
  Json a_before = node_info(port, a).json();

  // a holds a poll across the restart: it is answered, not dropped.
  Connection held(port);
  std::uint64_t a_cursor = poll(port, a, 0, 0).json()["cursor"].get<std::uint64_t>();
  send_poll(held, a, a_cursor, 30000);

  std::vector<pid_t> masters = relay.processes_named("sprites-master");
  REQUIRE(masters.size() == 1);
  REQUIRE(::kill(relay.pid(), SIGHUP) == 0);
  Response answer = held.read_response();
  CHECK(answer.status == 200);
  CHECK(answer.json()["cursor"] == a_cursor);

  bool back = retry_until(
      [&] {
        std::vector<pid_t> now = relay.processes_named("sprites-master");
        return now.size() == 1 && now[0] != masters[0] && serves(port);
      },
      std::chrono::seconds(30));
  REQUIRE(back);

  // Same node, same token, same place; the cursor is still valid.
  Json a_after = node_info(port, a).json();
  CHECK(a_after["position"] == a_before["position"]);
  CHECK(a_after["neighbors"] == a_before["neighbors"]);
  Response r = poll(port, b, b_cursor, 0);
  REQUIRE(r.status == 200);
  std::vector<Json> sprites = of_type(r.json()["events"].get<std::vector<Json>>(), "sprite");
  REQUIRE(sprites.size() == 1);
  CHECK(sprites[0]["id"] == "kept");
  CHECK(sprites[0]["seq"] == b_cursor + 1);
  CHECK(r.ordered_json()["events"].back()["sprite"].dump() == R"({"big":18446744073709551615})");
  Json s = stats(port);
  CHECK(s["nodes"] == 2);
  CHECK(s["sprites"]["accepted"] == 1);

  // Workers reconnect by themselves and throws resume.
  bool accepted = retry_until([&] { return throw_sprite(relay.worker_port(), b, "left", "{}").status == 202; },
                              std::chrono::seconds(30));
  CHECK(accepted);
  ExitStatus status = relay.stop();
  INFO(status.describe());
  CHECK(status.clean());
}

TEST_CASE("a master that crashes after a planned restart does not come back with old state") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  std::vector<pid_t> first = relay.processes_named("sprites-master");
  REQUIRE(::kill(relay.pid(), SIGHUP) == 0);
  pid_t second = 0;
  REQUIRE(retry_until(
      [&] {
        std::vector<pid_t> now = relay.processes_named("sprites-master");
        if (now.size() != 1 || now[0] == first[0] || !serves(port)) return false;
        second = now[0];
        return true;
      },
      std::chrono::seconds(30)));
  CHECK(node_info(port, a).status == 200);  // kept by the planned restart
  REQUIRE(::kill(second, SIGKILL) == 0);     // then a crash: the snapshot was consumed
  REQUIRE(retry_until(
      [&] {
        std::vector<pid_t> now = relay.processes_named("sprites-master");
        return now.size() == 1 && now[0] != second && serves(port);
      },
      std::chrono::seconds(30)));
  check_error(node_info(port, a), 404, "unknown_node");
}

}  // namespace
}  // namespace sprites::test

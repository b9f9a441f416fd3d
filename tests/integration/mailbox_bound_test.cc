// What one node's mailbox holds at most, whatever other clients do (README
// "Security"): --mailbox-limit sprite and returned events plus two neighbors
// events (one sent and not yet acknowledged, one not sent). A client that joins and leaves next to a node again and again leaves
// it one neighbors event, the latest; sprites that come back to a thrower
// whose mailbox is full are counted as dropped instead of queued past the
// limit.
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

TEST_CASE("a neighbour that joins and leaves a thousand times leaves a node one neighbors event") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Connection c(port);
  for (int i = 0; i < 1000; ++i) {
    Response joined = c.request("POST", "/v1/nodes", {}, R"({"group":"g","name":"churn"})");
    REQUIRE_STATUS(joined, 201);
    Json j = joined.json();
    REQUIRE_STATUS(c.request("DELETE", "/v1/nodes/" + j["node"].get<std::string>(),
                             bearer(j["token"].get<std::string>())),
                   204);
  }
  CHECK(node_info(port, a).json()["pending"] == 1);
  Response r = poll(port, a, 0, 0);
  REQUIRE_STATUS(r, 200);
  Json events = r.json()["events"];
  REQUIRE(events.size() == 1);
  CHECK(events[0]["type"] == "neighbors");
  CHECK(events[0]["seq"] == 1);  // each change took the place of the one not yet sent: no gap
  CHECK(r.json()["cursor"] == 1);
  for (const char* d : {"left", "right", "up", "down"}) CHECK(events[0]["neighbors"][d]["node"] == a.id);
}

TEST_CASE("sprites returned to a thrower whose mailbox is full are dropped and counted") {
  RelayProcess relay({"--mailbox-limit", "4", "--rate-limit", "0"});
  std::uint16_t port = relay.master_port();
  Node t = join(port, "g", "thrower");
  int accepted = 0;
  for (int r = 0; r < 5; ++r) {
    Node receiver = join(port, "g", "receiver");  // takes slot 1: t's right
    while (true) {
      Response thrown = throw_sprite(relay.worker_port(), t, "right", "{}", "s" + std::to_string(accepted));
      if (thrown.status != 202) {
        check_error(thrown, 429, "mailbox_full");
        break;
      }
      ++accepted;
    }
    REQUIRE_STATUS(leave(port, receiver), 204);  // leaves its sprites unread
  }
  REQUIRE(accepted == 20);
  Json info = node_info(port, t).json();
  CHECK(info["pending"].get<int>() <= 4 + 2);
  std::vector<Json> events = poll(port, t, 0, 0).json()["events"].get<std::vector<Json>>();
  std::size_t returned = of_type(events, "returned").size();
  CHECK(returned >= 1);
  CHECK(returned <= 4);
  CHECK(of_type(events, "neighbors").size() == 1);
  Json s = stats_when(port, [&](Json& j) { return j["sprites"]["accepted"] == accepted; });
  CHECK(s["sprites"]["returned"] == returned);
  CHECK(s["sprites"]["dropped"] == accepted - static_cast<int>(returned));
}

TEST_CASE("a node that polls without acknowledging while its neighbours churn holds two neighbors events at most") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Connection c(port);
  for (int i = 0; i < 200; ++i) {
    Response joined = c.request("POST", "/v1/nodes", {}, R"({"group":"g","name":"churn"})");
    REQUIRE_STATUS(joined, 201);
    REQUIRE_STATUS(poll(port, a, 0, 0), 200);  // sent, never acknowledged
  }
  CHECK(node_info(port, a).json()["pending"].get<int>() <= 2);
  // The last event it gets is its latest set of neighbours.
  std::vector<Json> events = poll(port, a, 0, 0).json()["events"].get<std::vector<Json>>();
  REQUIRE_FALSE(events.empty());
  CHECK(events.back()["type"] == "neighbors");
}

}  // namespace
}  // namespace sprites::test

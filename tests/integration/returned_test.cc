// What happens to an accepted sprite that its receiver never acknowledged:
// it comes back to a living thrower as a `returned` event, or is counted as
// dropped; and the sprite counters of /v1/stats (docs/API.md "returned",
// "GET /v1/stats").
//
// Counters a worker reports to the master over IPC may trail the worker's
// answer by a moment, so they are read with stats_when() until they settle,
// then asserted exactly.
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

// True when every member of `expected` is in `actual` with the same value
// (stats may hold more fields than these).
bool has_fields(const Json& actual, const Json& expected) {
  for (const auto& [key, value] : expected.items()) {
    if (!actual.contains(key) || actual.at(key) != value) return false;
  }
  return true;
}

Json sprite_counters_when(std::uint16_t port, const Json& expected) {
  Json s = stats_when(port, [&](Json& j) { return has_fields(j.at("sprites"), expected); });
  REQUIRE(s["sprites"].is_object());
  return s["sprites"];
}

bool is_returned(const Json& e) { return e.value("type", "") == "returned"; }

TEST_CASE("a sprite whose receiver leaves unread comes back to its thrower") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  Inbox b_inbox(port, b);
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), b, "left", R"({"z":2,"a":18446744073709551615})", "r-1"), 202);
  REQUIRE_STATUS(leave(port, a), 204);

  std::vector<Json> events = b_inbox.drain();
  std::vector<Json> returned = of_type(events, "returned");
  REQUIRE(returned.size() == 1);
  Json r = returned[0];
  CHECK(r["to"] == Json{{"node", a.id}, {"name", "a"}});
  CHECK(r["direction"] == "left");
  CHECK(r["id"] == "r-1");
  CHECK(r["sprite"] == Json::parse(R"({"z":2,"a":18446744073709551615})"));
  CHECK(r["sprite"]["a"].get<std::uint64_t>() == 18446744073709551615ULL);
  CHECK(of_type(events, "neighbors").size() == 1);  // and b was told a left

  Json counters = sprite_counters_when(port, Json{{"accepted", 1}, {"delivered", 0}, {"returned", 1},
                                                  {"dropped", 0}, {"rejected", 0}});
  CHECK(counters["returned"] == 1);
  CHECK(counters["dropped"] == 0);
  CHECK(counters["delivered"] == 0);
}

TEST_CASE("a returned sprite without an id comes back without an id") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  Inbox b_inbox(port, b);
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), b, "right", R"({"n":1})"), 202);
  REQUIRE_STATUS(leave(port, a), 204);
  std::vector<Json> returned = of_type(b_inbox.drain(), "returned");
  REQUIRE(returned.size() == 1);
  CHECK_FALSE(returned[0].contains("id"));
  CHECK(returned[0]["direction"] == "right");
}

TEST_CASE("an acknowledged sprite does not come back when its receiver leaves") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  Inbox a_inbox(port, a);
  Inbox b_inbox(port, b);
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), b, "left", "{}", "seen"), 202);
  REQUIRE(of_type(a_inbox.drain(), "sprite").size() == 1);
  a_inbox.poll(0);  // acknowledges it
  REQUIRE_STATUS(leave(port, a), 204);
  CHECK(of_type(b_inbox.drain(), "returned").empty());
  Json counters = sprite_counters_when(port, Json{{"accepted", 1}, {"delivered", 1}, {"returned", 0},
                                                  {"dropped", 0}, {"rejected", 0}});
  CHECK(counters["delivered"] == 1);
  CHECK(counters["returned"] == 0);
}

TEST_CASE("a sprite whose receiver expires through its ttl comes back to its thrower") {
  // a holds a poll (so it is alive) until b's sprite answers it; a never
  // acknowledges it nor polls again, and expires 1 s later.
  RelayProcess relay({"--node-ttl-ms", "1000", "--poll-timeout-ms", "5000"});
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  Connection held(port);
  send_poll(held, a, 1, 5000);  // past b's arrival
  Json s = stats_when(port, [](Json& j) { return j["polls_pending"] == 1; });
  REQUIRE(s["polls_pending"] == 1);
  Inbox b_inbox(port, b);
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), b, "left", R"({"t":1})", "ttl-1"), 202);
  Response got = held.read_response();
  REQUIRE_STATUS(got, 200);
  REQUIRE(got.json()["events"].size() == 1);

  Json r = b_inbox.wait_for(is_returned);
  CHECK(r["to"]["node"] == a.id);
  CHECK(r["id"] == "ttl-1");
  CHECK(r["sprite"] == Json{{"t", 1}});
  check_error(node_info(port, a), 404, "unknown_node");
}

TEST_CASE("a sprite is dropped when its thrower left before its receiver") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), b, "left", "{}", "orphan"), 202);
  REQUIRE_STATUS(leave(port, b), 204);
  REQUIRE_STATUS(leave(port, a), 204);
  Json counters = sprite_counters_when(port, Json{{"accepted", 1}, {"delivered", 0}, {"returned", 0},
                                                  {"dropped", 1}, {"rejected", 0}});
  CHECK(counters["dropped"] == 1);
  CHECK(counters["returned"] == 0);
}

TEST_CASE("unread returned events are dropped when their node leaves") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), b, "left", "{}", "boomerang"), 202);
  REQUIRE_STATUS(leave(port, a), 204);
  // b read it but never acknowledged it.
  REQUIRE(of_type(poll(port, b, 0, 0).json()["events"].get<std::vector<Json>>(), "returned").size() == 1);
  REQUIRE_STATUS(leave(port, b), 204);
  Json counters = sprite_counters_when(port, Json{{"accepted", 1}, {"delivered", 0}, {"returned", 1},
                                                  {"dropped", 1}, {"rejected", 0}});
  CHECK(counters["returned"] == 1);
  CHECK(counters["dropped"] == 1);
}

TEST_CASE("a sprite that comes back to a full mailbox is dropped and counted") {
  RelayProcess relay({"--mailbox-limit", "2", "--rate-limit", "0"});
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  // b's mailbox: two sprites from a, then full.
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "right", "{}", "to-b-1"), 202);
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "right", "{}", "to-b-2"), 202);
  check_error(throw_sprite(relay.worker_port(), a, "right", "{}"), 429, "mailbox_full");
  // b throws at a, then a leaves without reading it: it cannot go back.
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), b, "left", "{}", "back"), 202);
  REQUIRE_STATUS(leave(port, a), 204);
  Json info = node_info(port, b).json();
  CHECK(info["pending"] == 3);  // 2 sprites + the neighbors event, past the limit
  Inbox b_inbox(port, b);
  std::vector<Json> events = b_inbox.drain();
  CHECK(of_type(events, "returned").empty());
  CHECK(of_type(events, "neighbors").size() == 1);
  Json counters = sprite_counters_when(port, Json{{"accepted", 3}, {"returned", 0}, {"dropped", 1}});
  CHECK(counters["dropped"] == 1);
}

TEST_CASE("stats count accepted, delivered, returned, dropped and rejected throws") {
  RelayProcess relay({"--mailbox-limit", "3", "--max-body-bytes", "1024", "--rate-limit", "0"});
  std::uint16_t port = relay.master_port();
  std::uint16_t worker = relay.worker_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");  // a holds 1 event
  CHECK(has_fields(stats(port)["sprites"],
                   Json({{"accepted", 0}, {"delivered", 0}, {"returned", 0}, {"dropped", 0}, {"rejected", 0}})));

  REQUIRE_STATUS(throw_sprite(worker, b, "left", "{}", "1"), 202);
  REQUIRE_STATUS(throw_sprite(worker, b, "left", "{}", "2"), 202);
  // Refused by the master: mailbox_full, unknown_node, another node's token.
  check_error(throw_sprite(worker, b, "left", "{}", "3"), 429, "mailbox_full");
  check_error(throw_sprite(worker, "nosuchnode", b.token, "left", "{}"), 404, "unknown_node");
  check_error(throw_sprite(worker, b.id, a.token, "left", "{}"), 401, "unauthorized");
  // Refused by a worker alone: no header, too large, not JSON.
  check_error(Connection(worker).request("POST", "/v1/nodes/" + b.id + "/sprites", {}, throw_body("left", "{}")), 401,
              "unauthorized");
  check_error(Connection(worker).request("POST", "/v1/nodes/" + b.id + "/sprites", bearer(b.token),
                                         std::string(2000, ' ')),
              413, "too_large");
  check_error(Connection(worker).request("POST", "/v1/nodes/" + b.id + "/sprites", bearer(b.token), "nope"), 400,
              "invalid_json");

  Json counters = sprite_counters_when(port, Json{{"accepted", 2}, {"delivered", 0}, {"returned", 0},
                                                  {"dropped", 0}, {"rejected", 6}});
  CHECK(counters["accepted"] == 2);
  CHECK(counters["rejected"] == 6);

  // Reading is not acknowledging; the next poll acknowledges.
  Inbox a_inbox(port, a);
  REQUIRE(of_type(a_inbox.poll(0), "sprite").size() == 2);
  CHECK(stats(port)["sprites"]["delivered"] == 0);
  CHECK(a_inbox.poll(0).empty());  // acknowledges them
  CHECK(stats(port)["sprites"]["delivered"] == 2);

  // One more, never read: it comes back when a leaves.
  REQUIRE_STATUS(throw_sprite(worker, b, "left", "{}", "4"), 202);
  REQUIRE_STATUS(leave(port, a), 204);
  counters = sprite_counters_when(port, Json{{"accepted", 3}, {"delivered", 2}, {"returned", 1}, {"dropped", 0},
                                             {"rejected", 6}});
  CHECK(counters["accepted"] == 3);
  CHECK(counters["delivered"] == 2);
  CHECK(counters["returned"] == 1);
  CHECK(counters["dropped"] == 0);
  CHECK(counters["rejected"] == 6);
}

}  // namespace
}  // namespace sprites::test

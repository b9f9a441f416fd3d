// GET /v1/nodes/{id}/events: immediate and held answers, timeouts, cursors
// that acknowledge, the 100-event page, superseded polls and every error
// (docs/API.md "long-poll").
//
// A poll that must be held is sent on its own connection; the test then waits
// until /v1/stats counts it as pending (so the trigger really hits a parked
// poll) and reads the answer. Nothing sleeps.
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

Json empty_answer(std::uint64_t cursor) { return Json{{"cursor", cursor}, {"events", Json::array()}}; }

Response poll_target(std::uint16_t port, const Node& node, const std::string& target) {
  return Connection(port).request("GET", target, bearer(node.token));
}

TEST_CASE("a held poll is answered when its neighbour throws") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  Node b = join(relay.master_port(), "g", "b");
  Inbox inbox(relay.master_port(), a);
  REQUIRE(inbox.drain().size() == 1);  // b's arrival

  Connection held(relay.master_port());
  send_poll(held, a, inbox.cursor(), 20000);
  wait_until_polls_pending(relay.master_port(), 1);

  Response thrown = throw_sprite(relay.worker_port(), b, "left", R"({"k":1})", "s-1");
  REQUIRE_STATUS(thrown, 202);
  Response r = held.read_response();
  REQUIRE_STATUS(r, 200);
  Json j = r.json();
  REQUIRE(j["events"].size() == 1);
  CHECK(j["events"][0]["type"] == "sprite");
  CHECK(j["events"][0]["id"] == "s-1");
  CHECK(j["events"][0]["from"] == Json{{"node", b.id}, {"name", "b"}});
  CHECK(j["cursor"] == j["events"][0]["seq"]);
  CHECK(j["events"][0]["seq"] == inbox.cursor() + 1);
  wait_until_polls_pending(relay.master_port(), 0);
}

TEST_CASE("a poll is answered at once when events are waiting") {
  // The poll asks for the longest hold the server allows, longer than the
  // client's 30 s read guard: holding it would fail the test.
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  Node b = join(relay.master_port(), "g", "b");
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), b, "right", R"({"x":1})"), 202);
  Response r = poll(relay.master_port(), a, 0, 60000);
  REQUIRE_STATUS(r, 200);
  Json j = r.json();
  REQUIRE(j["events"].size() == 2);
  CHECK(j["events"][0]["type"] == "neighbors");
  CHECK(j["events"][0]["seq"] == 1);
  CHECK(j["events"][1]["type"] == "sprite");
  CHECK(j["events"][1]["seq"] == 2);
  CHECK(j["cursor"] == 2);
}

TEST_CASE("a poll with nothing to deliver is held, then answers an empty list when timeout_ms passes") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  Connection held(relay.master_port());
  const auto sent = std::chrono::steady_clock::now();
  send_poll(held, a, 0, 400);
  wait_until_polls_pending(relay.master_port(), 1);  // held, not answered at once
  Response r = held.read_response();
  REQUIRE_STATUS(r, 200);
  CHECK(r.json() == empty_answer(0));
  // Not before its timeout (a bound a slow machine cannot break; the
  // server's clock counts whole milliseconds, hence the small slack).
  CHECK(std::chrono::steady_clock::now() - sent >= std::chrono::milliseconds(400 - 10));
  wait_until_polls_pending(relay.master_port(), 0);
}

TEST_CASE("a poll with timeout_ms=0 answers at once") {
  RelayProcess relay;  // default poll_timeout_ms 60000: a hold would trip the 30 s guard
  Node a = join(relay.master_port(), "g", "a");
  Response r = poll(relay.master_port(), a, 0, 0);
  REQUIRE_STATUS(r, 200);
  CHECK(r.json() == empty_answer(0));
}

TEST_CASE("a poll without after and timeout_ms starts at 0 and holds for the server's poll_timeout_ms") {
  RelayProcess relay({"--poll-timeout-ms", "300"});
  Node a = join(relay.master_port(), "g", "a");
  Connection held(relay.master_port());
  const auto sent = std::chrono::steady_clock::now();
  held.send_request("GET", "/v1/nodes/" + a.id + "/events", bearer(a.token));
  wait_until_polls_pending(relay.master_port(), 1);  // held: the default timeout is not 0
  Response r = held.read_response();
  REQUIRE_STATUS(r, 200);
  CHECK(r.json() == empty_answer(0));
  CHECK(std::chrono::steady_clock::now() - sent >= std::chrono::milliseconds(300 - 10));

  // `after` alone, with events waiting: the default is 0, so nothing is skipped.
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "up", "{}"), 202);
  Response only_timeout = poll_target(relay.master_port(), a, "/v1/nodes/" + a.id + "/events?timeout_ms=0");
  REQUIRE_STATUS(only_timeout, 200);
  CHECK(only_timeout.json()["events"].size() == 1);
}

TEST_CASE("a poll acknowledges every event up to its after and redelivers the rest") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  for (const char* id : {"s1", "s2", "s3"}) REQUIRE_STATUS(throw_sprite(relay.worker_port(), b, "left", "{}", id), 202);

  auto pending = [&] {
    Response r = node_info(port, a);
    REQUIRE_STATUS(r, 200);
    return r.json()["pending"];
  };
  CHECK(pending() == 4);

  // Unacknowledged events come again, oldest first, seqs 1, 2, 3, ...
  for (int round = 0; round < 2; ++round) {
    Json j = poll(port, a, 0, 0).json();
    REQUIRE(j["events"].size() == 4);
    for (int i = 0; i < 4; ++i) CHECK(j["events"][i]["seq"] == i + 1);
    CHECK(j["events"][1]["id"] == "s1");
    CHECK(j["events"][3]["id"] == "s3");
    CHECK(j["cursor"] == 4);
  }
  CHECK(pending() == 4);

  Json part = poll(port, a, 2, 0).json();
  REQUIRE(part["events"].size() == 2);
  CHECK(part["events"][0]["seq"] == 3);
  CHECK(part["cursor"] == 4);
  CHECK(pending() == 2);

  CHECK(poll(port, a, 4, 0).json() == empty_answer(4));
  CHECK(pending() == 0);
  // Acknowledged events are gone for good.
  CHECK(poll(port, a, 0, 0).json() == empty_answer(0));

  // Numbering goes on after the deleted events.
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), b, "left", "{}", "s4"), 202);
  Json next = poll(port, a, 4, 0).json();
  REQUIRE(next["events"].size() == 1);
  CHECK(next["events"][0]["seq"] == 5);
  CHECK(next["events"][0]["id"] == "s4");
}

TEST_CASE("a poll returns at most 100 events, oldest first") {
  RelayProcess relay({"--rate-limit", "0", "--mailbox-limit", "400"});
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  Connection thrower(relay.worker_port());
  HeaderList headers = bearer(b.token);
  for (int i = 0; i < 150; ++i) {
    Response r = thrower.request("POST", "/v1/nodes/" + b.id + "/sprites", headers,
                                 throw_body("left", "{}", "s" + std::to_string(i)));
    REQUIRE_STATUS(r, 202);
  }
  // 151 events: b's arrival, then 150 sprites.
  Json first = poll(port, a, 0, 0).json();
  REQUIRE(first["events"].size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(first["events"][i]["seq"] == i + 1);
  CHECK(first["cursor"] == 100);

  Json second = poll(port, a, 100, 0).json();
  REQUIRE(second["events"].size() == 51);
  CHECK(second["events"][0]["seq"] == 101);
  CHECK(second["events"][50]["seq"] == 151);
  CHECK(second["events"][50]["id"] == "s149");
  CHECK(second["cursor"] == 151);
}

TEST_CASE("a newer poll supersedes the pending one") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  for (int i = 0; i < 2; ++i) REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "down", "{}"), 202);
  REQUIRE(poll(port, a, 0, 0).json()["cursor"] == 2);

  Connection older(port);
  send_poll(older, a, 2, 20000);
  wait_until_polls_pending(port, 1);
  Connection newer(port);
  send_poll(newer, a, 2, 20000);

  Response superseded = older.read_response();
  REQUIRE_STATUS(superseded, 200);
  CHECK(superseded.json() == Json{{"cursor", 2}, {"events", Json::array()}, {"superseded", true}});

  // The newer poll is the one now held, and it gets the next event.
  wait_until_polls_pending(port, 1);
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "down", "{}", "third"), 202);
  Response fresh = newer.read_response();
  REQUIRE_STATUS(fresh, 200);
  Json j = fresh.json();
  CHECK_FALSE(j.contains("superseded"));
  REQUIRE(j["events"].size() == 1);
  CHECK(j["events"][0]["id"] == "third");
  CHECK(j["events"][0]["seq"] == 3);
}

TEST_CASE("a poll with a bad after is invalid_cursor") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  const std::string base = "/v1/nodes/" + a.id + "/events?timeout_ms=0&after=";
  // Nothing issued yet: 0 is the only valid cursor.
  for (std::string after : {"-1", "abc", "1.5", "", "1e3", "0x10", "99999999999999999999999", "1"}) {
    INFO("after=" << after);
    check_error(poll_target(port, a, base + after), 400, "invalid_cursor");
  }
  for (int i = 0; i < 2; ++i) REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "up", "{}"), 202);
  CHECK_STATUS(poll_target(port, a, base + "2"), 200);
  check_error(poll_target(port, a, base + "3"), 400, "invalid_cursor");
  // Larger than the last seq *ever issued*: acknowledging does not lower it.
  CHECK_STATUS(poll_target(port, a, base + "2"), 200);
  CHECK_STATUS(poll_target(port, a, base + "1"), 200);
  check_error(poll_target(port, a, base + "3"), 400, "invalid_cursor");
}

TEST_CASE("a poll with a bad timeout_ms is invalid_timeout") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  const std::string base = "/v1/nodes/" + a.id + "/events?after=0&timeout_ms=";
  for (std::string timeout : {"-1", "abc", "1.5", "", "0x10"}) {
    INFO("timeout_ms=" << timeout);
    check_error(poll_target(relay.master_port(), a, base + timeout), 400, "invalid_timeout");
  }
}

TEST_CASE("a poll without a well-formed Authorization header is unauthorized") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  const std::string target = events_target(a.id, 0, 0);
  check_error(Connection(port).request("GET", target), 401, "unauthorized");
  for (const std::string& value :
       std::vector<std::string>{"Basic " + a.token, "Bearer", "Bearer ", "bearer-" + a.token, a.token}) {
    INFO("Authorization: " << value);
    check_error(Connection(port).request("GET", target, {{"Authorization", value}}), 401, "unauthorized");
  }
  // The header is checked before the node and the query.
  check_error(Connection(port).request("GET", events_target("nosuchnode", 0, 0)), 401, "unauthorized");
  check_error(Connection(port).request("GET", "/v1/nodes/" + a.id + "/events?after=-1"), 401, "unauthorized");
}

TEST_CASE("a poll for an unknown node is unknown_node whatever the token") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  for (const std::string& token : {a.token, std::string("garbage-token-garbage-token")}) {
    check_error(Connection(port).request("GET", events_target("nosuchnode", 0, 0), bearer(token)), 404,
                "unknown_node");
  }
  Node gone = join(port, "g", "gone");
  REQUIRE_STATUS(leave(port, gone), 204);
  check_error(poll(port, gone, 0, 0), 404, "unknown_node");
}

TEST_CASE("a poll with another node's token is unauthorized") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  check_error(Connection(port).request("GET", events_target(a.id, 0, 0), bearer(b.token)), 401, "unauthorized");
  check_error(Connection(port).request("GET", events_target(a.id, 0, 0), bearer(a.token + "x")), 401,
              "unauthorized");
  // The refused poll acknowledged nothing.
  CHECK(poll(port, a, 0, 0).json()["events"].size() == 1);
}

TEST_CASE("a held poll is answered unknown_node when its node leaves") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Connection held(port);
  send_poll(held, a, 0, 20000);
  wait_until_polls_pending(port, 1);
  REQUIRE_STATUS(leave(port, a), 204);
  check_error(held.read_response(), 404, "unknown_node");
  wait_until_polls_pending(port, 0);
}

TEST_CASE("a connection that held the polls of two nodes and closed leaves both nodes served") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "h", "b");
  {
    // Two polls pipelined on one connection: both are parked (the second's
    // answer would wait for the first's), then the client goes away.
    Connection both(port);
    send_poll(both, a, 0, 1500);
    send_poll(both, b, 0, 1500);
    wait_until_polls_pending(port, 2);
  }
  // Events for both: nothing may be written to the closed connection.
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "up", "{}", "to-a"), 202);
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), b, "up", "{}", "to-b"), 202);
  wait_until_polls_pending(port, 0);
  Inbox a_inbox(port, a);
  Inbox b_inbox(port, b);
  CHECK(of_type(a_inbox.drain(), "sprite").size() == 1);
  CHECK(of_type(b_inbox.drain(), "sprite").size() == 1);
}

}  // namespace
}  // namespace sprites::test

// GET and DELETE /v1/nodes/{id}, and the ttl that removes a node that stopped
// polling (docs/API.md "node info", "leave", "long-poll").
//
// Expiry is observed, never timed: a neighbour holds polls until its
// `neighbors` event arrives, and the expired node's info then answers 404.
#include <string>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

bool alone(const Json& event, const Node& node) {
  if (event.value("type", "") != "neighbors") return false;
  for (const char* d : {"left", "right", "up", "down"}) {
    if (event.at("neighbors").at(d).at("node") != node.id) return false;
  }
  return true;
}

TEST_CASE("node info shows the node's place, neighbours and unacknowledged events") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "office", "a");
  Node b = join(port, "office", "b");
  Response r = node_info(port, a);
  REQUIRE_STATUS(r, 200);
  CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
  Json j = r.json();
  CHECK(j["node"] == a.id);
  CHECK(j["group"] == "office");
  CHECK(j["name"] == "a");
  CHECK(j["position"] == Json{{"row", 0}, {"col", 0}});
  Json bee{{"node", b.id}, {"name", "b"}};
  Json me{{"node", a.id}, {"name", "a"}};
  CHECK(j["neighbors"] == Json{{"left", bee}, {"right", bee}, {"up", me}, {"down", me}});
  CHECK(j["pending"] == 1);  // b's arrival
  CHECK_FALSE(j.contains("token"));
  CHECK(r.body.find(a.token) == std::string::npos);

  REQUIRE_STATUS(throw_sprite(relay.worker_port(), b, "left", "{}"), 202);
  CHECK(node_info(port, a).json()["pending"] == 2);
  CHECK(node_info(port, b).json()["pending"] == 0);
}

TEST_CASE("node info and leave need the node's own token") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  const std::string target = "/v1/nodes/" + a.id;
  for (const char* method : {"GET", "DELETE"}) {
    INFO(method);
    check_error(Connection(port).request(method, target), 401, "unauthorized");
    check_error(Connection(port).request(method, target, {{"Authorization", "Basic " + a.token}}), 401,
                "unauthorized");
    check_error(Connection(port).request(method, target, bearer(b.token)), 401, "unauthorized");
    check_error(Connection(port).request(method, "/v1/nodes/nosuchnode", bearer(a.token)), 404, "unknown_node");
    check_error(Connection(port).request(method, "/v1/nodes/nosuchnode"), 401, "unauthorized");
  }
  CHECK_STATUS(node_info(port, a), 200);  // the refused DELETEs removed nothing
}

TEST_CASE("a leave answers 204 and the neighbours are told") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  Inbox b_inbox(port, b);
  REQUIRE(b_inbox.drain().empty());

  Response r = leave(port, a);
  REQUIRE_STATUS(r, 204);
  CHECK(r.body.empty());

  std::vector<Json> told = b_inbox.drain();
  REQUIRE(told.size() == 1);
  CHECK(alone(told[0], b));
  CHECK(told[0]["position"] == Json{{"row", 0}, {"col", 0}});

  check_error(node_info(port, a), 404, "unknown_node");
  check_error(leave(port, a), 404, "unknown_node");
  check_error(poll(port, a, 0, 0), 404, "unknown_node");
}

TEST_CASE("a node that stops polling leaves after node_ttl_ms") {
  // 1 s, not less: b must make its first poll within the ttl of its join.
  RelayProcess relay({"--node-ttl-ms", "1000", "--poll-timeout-ms", "5000"});
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");  // never polls
  Node b = join(port, "g", "b");  // keeps a poll pending, so it stays
  Inbox b_inbox(port, b);
  std::vector<Json> skipped;
  b_inbox.wait_for([&](const Json& e) { return alone(e, b); }, std::chrono::seconds(20), &skipped);
  CHECK(skipped.empty());  // b's own join told b nothing
  check_error(node_info(port, a), 404, "unknown_node");
  check_error(poll(port, a, 0, 0), 404, "unknown_node");
  CHECK_STATUS(node_info(port, b), 200);
  Json s = stats_when(port, [](Json& j) { return j["nodes"] == 1; });
  CHECK(s["nodes"] == 1);
}

TEST_CASE("a node's ttl runs from the end of its last poll, not while a poll is held") {
  // The poll is held longer than the ttl: were the ttl counted from the join
  // or from the poll's start, the node would be gone and the held poll
  // answered 404. Right after it, the node is still there.
  RelayProcess relay({"--node-ttl-ms", "1500", "--poll-timeout-ms", "10000"});
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Connection c(port);
  const auto sent = std::chrono::steady_clock::now();
  send_poll(c, a, 0, 2500);
  wait_until_polls_pending(port, 1);  // held
  Response held = c.read_response();
  REQUIRE_STATUS(held, 200);
  CHECK(held.json()["events"].empty());
  // It was held its whole timeout, longer than the ttl (a lower bound: a
  // slow machine only makes it longer; 10 ms of slack for whole milliseconds).
  CHECK(std::chrono::steady_clock::now() - sent >= std::chrono::milliseconds(2500 - 10));
  CHECK_STATUS(node_info(port, a), 200);
}

}  // namespace
}  // namespace sprites::test

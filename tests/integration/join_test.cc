// POST /v1/nodes: what a join answers, the default group, and every way a
// join body can be refused (docs/API.md "Master port", "Identifiers").
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

std::string repeat(std::string_view unit, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += unit;
  return out;
}

bool is_node_id(const std::string& id) {
  static const std::regex kNodeId("[A-Za-z0-9_-]{1,32}");
  return std::regex_match(id, kNodeId);
}

Json self_neighbours(const std::string& id, const std::string& name) {
  Json me{{"node", id}, {"name", name}};
  return Json{{"left", me}, {"right", me}, {"up", me}, {"down", me}};
}

TEST_CASE("a join answers 201 with the node's place, token and the server's timings") {
  RelayProcess relay({"--poll-timeout-ms", "4321", "--node-ttl-ms", "8765"});
  Response r = join_raw(relay.master_port(), R"({"group": "office-7", "name": "laptop"})");
  REQUIRE_STATUS(r, 201);
  CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
  Json j = r.json();
  INFO(r.body);

  REQUIRE(j["node"].is_string());
  std::string id = j["node"].get<std::string>();
  CHECK(is_node_id(id));
  REQUIRE(j["token"].is_string());
  CHECK(j["token"].get<std::string>().size() >= 22);  // 128 random bits need 22 base64 characters
  CHECK(j["group"] == "office-7");
  CHECK(j["name"] == "laptop");
  CHECK(j["position"] == Json{{"row", 0}, {"col", 0}});
  CHECK(j["neighbors"] == self_neighbours(id, "laptop"));
  CHECK(j["cursor"] == 0);
  CHECK(j["poll_timeout_ms"] == 4321);
  CHECK(j["node_ttl_ms"] == 8765);
}

TEST_CASE("a join reports the default poll timeout and ttl") {
  RelayProcess relay;
  Node a = join(relay.master_port());
  CHECK(a.joined["poll_timeout_ms"] == 60000);
  CHECK(a.joined["node_ttl_ms"] == 30000);
}

TEST_CASE("every join gets its own node id and token") {
  RelayProcess relay;
  std::set<std::string> ids;
  std::set<std::string> tokens;
  for (int i = 0; i < 20; ++i) {
    Node n = join(relay.master_port(), "", "n" + std::to_string(i));
    CHECK(is_node_id(n.id));
    CHECK(n.token.size() >= 22);
    CHECK(n.token != n.id);
    ids.insert(n.id);
    tokens.insert(n.token);
  }
  CHECK(ids.size() == 20);
  CHECK(tokens.size() == 20);
}

TEST_CASE("a join without a group lands in the shared default group") {
  RelayProcess relay;
  Response empty = join_raw(relay.master_port(), "");
  REQUIRE_STATUS(empty, 201);
  Json first = empty.json();
  CHECK(first["group"] == "");
  CHECK(first["name"] == "");

  Node second = join(relay.master_port(), Json{{"name", "second"}});
  CHECK(second.group.empty());
  CHECK(second.joined["position"] == Json{{"row", 0}, {"col", 1}});
  CHECK(second.joined["neighbors"]["left"]["node"] == first["node"]);

  Node third = join(relay.master_port(), Json::object());
  CHECK(third.group.empty());
  CHECK(third.joined["position"] == Json{{"row", 0}, {"col", 2}});

  // A named group is a grid of its own.
  Node other = join(relay.master_port(), "elsewhere", "other");
  CHECK(other.joined["position"] == Json{{"row", 0}, {"col", 0}});
  CHECK(other.joined["neighbors"] == self_neighbours(other.id, "other"));
}

TEST_CASE("a join body that is not a JSON object is invalid_json") {
  RelayProcess relay;
  for (const std::string& body : std::vector<std::string>{"not json", "[]", "[{\"group\":\"a\"}]", "null", "42", "\"office\"", "{", "{\"group\":}"}) {
    INFO("body: " << body);
    check_error(join_raw(relay.master_port(), body), 400, "invalid_json");
  }
}

TEST_CASE("a join with a group outside the grammar is invalid_group") {
  RelayProcess relay;
  const std::string sixty_five = repeat("g", 65);
  for (const std::string& body : std::vector<std::string>{R"({"group":"bad/char"})", R"({"group":"with space"})", R"({"group":"ümlaut"})",
                           R"({"group":null})", R"({"group":5})", R"({"group":["a"]})", R"({"group":{}})",
                           "{\"group\":\"" + sixty_five + "\"}"}) {
    INFO("body: " << body);
    check_error(join_raw(relay.master_port(), body), 400, "invalid_group");
  }
  // The edges of the grammar are accepted.
  const std::string sixty_four = repeat("g", 60) + "a.-_";
  Node edge = join(relay.master_port(), sixty_four, "x");
  CHECK(edge.group == sixty_four);
  Node mixed = join(relay.master_port(), "Office.7_b-C", "y");
  CHECK(mixed.group == "Office.7_b-C");
}

TEST_CASE("a join with a name outside the grammar is invalid_name") {
  RelayProcess relay;
  for (const std::string& body : std::vector<std::string>{std::string(R"({"name":null})"), std::string(R"({"name":5})"),
                           std::string(R"({"name":true})"), std::string(R"({"name":["a"]})"),
                           "{\"name\":\"" + repeat("n", 65) + "\"}",
                           "{\"name\":\"" + repeat("\xC3\xA9", 65) + "\"}"}) {
    INFO("body: " << body);
    check_error(join_raw(relay.master_port(), body), 400, "invalid_name");
  }
}

TEST_CASE("a name is measured in code points, not bytes") {
  RelayProcess relay;
  const std::string accents = repeat("\xC3\xA9", 64);      // 64 code points, 128 bytes
  const std::string emoji = repeat("\xF0\x9F\x98\x80", 64);  // 64 code points, 256 bytes
  CHECK(join(relay.master_port(), "", accents).name == accents);
  CHECK(join(relay.master_port(), "", emoji).name == emoji);
  CHECK(join(relay.master_port(), "", "").name.empty());
}

TEST_CASE("a name that is not valid UTF-8 is refused") {
  RelayProcess relay;
  // Raw invalid bytes make the JSON text itself invalid (RFC 8259 requires
  // UTF-8), so either refusal is faithful to the protocol.
  Response r = join_raw(relay.master_port(), "{\"name\":\"bad \xFF\xFE bytes\"}");
  CHECK_STATUS(r, 400);
  std::string code = r.json().value("error", "");
  CHECK((code == "invalid_name" || code == "invalid_json"));
}

TEST_CASE("a relay holding --max-nodes nodes refuses joins with node_limit until one leaves") {
  RelayProcess relay({"--max-nodes", "2"});
  Node a = join(relay.master_port(), "g", "a");
  Node b = join(relay.master_port(), "h", "b");
  check_error(join_raw(relay.master_port(), R"({"group":"g"})"), 503, "node_limit");
  check_error(join_raw(relay.master_port(), ""), 503, "node_limit");

  REQUIRE_STATUS(leave(relay.master_port(), a), 204);
  Node c = join(relay.master_port(), "g", "c");
  CHECK(c.id != a.id);
  check_error(join_raw(relay.master_port(), ""), 503, "node_limit");
}

}  // namespace
}  // namespace sprites::test

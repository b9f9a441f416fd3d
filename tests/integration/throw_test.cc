// POST /v1/nodes/{id}/sprites on the worker port, when it succeeds: the 202
// comes only once the sprite is in the receiver's mailbox, the receiver is the
// neighbour in the thrown direction, and the sprite arrives as thrown
// (docs/API.md "throw", "Events").
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

// Key order, 64-bit integers at both ends, doubles, escapes, raw UTF-8 and
// nesting: everything a re-serialising relay tends to lose.
constexpr std::string_view kTrickySprite =
    R"({"z":1,"a":18446744073709551615,"m":-9223372036854775808,"f":0.1,"e":1e300,"neg0":-0.0,)"
    R"("u":"h\u00e9llo \u2603","raw":"h)"
    "\xC3\xA9llo \xE2\x98\x83 \xF0\x9F\x98\x80"
    R"(","esc":"line\nbreak \"quoted\" back\\slash","nested":{"y":[1,2,{"b":null,"a":true}],"x":false},"empty":{}})";

TEST_CASE("a throw is answered 202 naming its receiver only once the sprite is in the mailbox") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");
  Inbox a_inbox(port, a);
  a_inbox.drain();

  Response r = throw_sprite(relay.worker_port(), b, "left", R"({"kind":"ball"})", "s-991");
  REQUIRE_STATUS(r, 202);
  CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
  CHECK(r.json() == Json{{"to", Json{{"node", a.id}, {"name", "a"}}}});

  // timeout_ms=0: the sprite must already be there.
  std::vector<Json> events = a_inbox.poll(0);
  REQUIRE(events.size() == 1);
  Json e = events[0];
  CHECK(e["type"] == "sprite");
  CHECK(e["from"] == Json{{"node", b.id}, {"name", "b"}});
  CHECK(e["direction"] == "left");
  CHECK(e["id"] == "s-991");
  CHECK(e["sprite"] == Json{{"kind", "ball"}});
  CHECK(e["seq"].is_number_unsigned());
}

TEST_CASE("a sprite reaches its receiver exactly as thrown") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "right", kTrickySprite, "tricky"), 202);

  Response r = poll(port, a, 0, 0);
  REQUIRE_STATUS(r, 200);
  OrderedJson answer = r.ordered_json();
  REQUIRE(answer["events"].size() == 1);
  OrderedJson sprite = answer["events"][0]["sprite"];
  // Same value, same key order (ordered_json compares in order).
  CHECK(sprite == OrderedJson::parse(kTrickySprite));
  CHECK(sprite.dump() == OrderedJson::parse(kTrickySprite).dump());
  CHECK(sprite["a"].is_number_unsigned());
  CHECK(sprite["a"].get<std::uint64_t>() == 18446744073709551615ULL);
  CHECK(sprite["m"].is_number_integer());
  CHECK(sprite["m"].get<std::int64_t>() == INT64_MIN);
  CHECK(sprite["f"].get<double>() == 0.1);
  CHECK(sprite["raw"] == "h\xC3\xA9llo \xE2\x98\x83 \xF0\x9F\x98\x80");
  CHECK(sprite["u"] == "h\xC3\xA9llo \xE2\x98\x83");
  // The 64-bit integer is written as an integer, not rounded through a double.
  CHECK(r.body.find("18446744073709551615") != std::string::npos);
}

TEST_CASE("a sprite event carries an id only when the thrower gave one") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  const std::string longest(64, 'i');
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "up", "{}"), 202);
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "up", "{}", "with-id"), 202);
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "up", "{}", longest), 202);
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "up", "{}", "\xC3\xA9t\xC3\xA9"), 202);
  Json events = poll(port, a, 0, 0).json()["events"];
  REQUIRE(events.size() == 4);
  CHECK_FALSE(events[0].contains("id"));
  CHECK(events[1]["id"] == "with-id");
  CHECK(events[2]["id"] == longest);
  CHECK(events[3]["id"] == "\xC3\xA9t\xC3\xA9");
}

TEST_CASE("a node alone receives its own throws in every direction") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  for (const char* d : {"left", "right", "up", "down"}) {
    Response r = throw_sprite(relay.worker_port(), a, d, "{}", std::string("to-") + d);
    REQUIRE_STATUS(r, 202);
    CHECK(r.json()["to"] == Json{{"node", a.id}, {"name", "a"}});
  }
  Json events = poll(port, a, 0, 0).json()["events"];
  REQUIRE(events.size() == 4);
  int i = 0;
  for (const char* d : {"left", "right", "up", "down"}) {
    CHECK(events[i]["direction"] == d);
    CHECK(events[i]["from"] == Json{{"node", a.id}, {"name", "a"}});
    CHECK(events[i]["id"] == std::string("to-") + d);
    ++i;
  }
}

TEST_CASE("a throw lands on the neighbour in its direction") {
  // Width 2, five nodes: rows [0 1] [2 3] [4], columns [0 2 4] [1 3].
  RelayProcess relay({"--grid-width", "2"});
  std::uint16_t port = relay.master_port();
  std::vector<Node> nodes;
  for (int i = 0; i < 5; ++i) nodes.push_back(join(port, "g", "n" + std::to_string(i)));
  const int neighbour[5][4] = {
      // left right up down
      {1, 1, 4, 2}, {0, 0, 3, 3}, {3, 3, 0, 4}, {2, 2, 1, 1}, {4, 4, 2, 0},
  };
  const char* directions[4] = {"left", "right", "up", "down"};
  std::vector<std::vector<std::string>> expected(5);  // ids each node must receive
  for (int from = 0; from < 5; ++from) {
    for (int d = 0; d < 4; ++d) {
      const std::string id = std::to_string(from) + "-" + directions[d];
      Response r = throw_sprite(relay.worker_port(), nodes[from], directions[d], "{}", id);
      REQUIRE_STATUS(r, 202);
      const Node& to = nodes[neighbour[from][d]];
      INFO("from n" << from << " " << directions[d]);
      CHECK(r.json()["to"] == Json{{"node", to.id}, {"name", to.name}});
      expected[neighbour[from][d]].push_back(id);
    }
  }
  for (int n = 0; n < 5; ++n) {
    Inbox inbox(port, nodes[n]);
    std::vector<std::string> got;
    for (const Json& e : of_type(inbox.drain(), "sprite")) got.push_back(e.at("id").get<std::string>());
    INFO("node n" << n);
    CHECK(got == expected[n]);
  }
}

}  // namespace
}  // namespace sprites::test

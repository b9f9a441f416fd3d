// What one node's mailbox may hold, whatever others do: at most
// --mailbox-limit sprite and returned events plus two neighbors events. A
// neighbour that joins and leaves again and again leaves one neighbors event
// (the latest set), and sprites that come back to a thrower whose mailbox is
// full are dropped and counted, not queued past the limit.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "master/relay.h"
#include "relay_fixture.h"

using namespace sprites;
using namespace sprites::master;

namespace {

std::vector<nlohmann::json> events_of(const Node& node) {
  std::string out;
  Mailbox copy = node.mailbox;  // looking is not sending
  copy.render(0, 1000, out);
  return nlohmann::json::parse(out).at("events").get<std::vector<nlohmann::json>>();
}

}  // namespace

TEST_CASE("a node next to a neighbour that joins and leaves many times holds one neighbors event, the latest") {
  test::RelayFixture f(4);
  Node* a = f.relay->join("g", "a");
  REQUIRE(a);
  for (int i = 0; i < 300; ++i) {
    Node* b = f.relay->join("g", "b" + std::to_string(i));
    REQUIRE(b);
    f.relay->leave(b);
  }
  std::vector<nlohmann::json> events = events_of(*a);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["type"] == "neighbors");
  CHECK(events[0]["seq"] == a->mailbox.last_seq());
  CHECK(a->mailbox.last_seq() == 1);  // each change took the place of the unsent one
  // The latest set: a is alone again, its own neighbour everywhere.
  for (const char* d : {"left", "right", "up", "down"}) CHECK(events[0]["neighbors"][d]["node"] == a->id);

  // A sprite thrown meanwhile stays, before the neighbors event that follows it.
  Node* c = f.relay->join("g", "c");
  REQUIRE(f.relay->throw_sprite(c->id, token_text(c->token), Direction::Right, true, "s", "{}").verdict == ThrowVerdict::Accepted);
  f.relay->leave(c);
  events = events_of(*a);
  REQUIRE(events.size() == 2);
  CHECK(events[0]["type"] == "sprite");
  CHECK(events[1]["type"] == "neighbors");
  CHECK(events[1]["neighbors"]["right"]["node"] == a->id);
}

TEST_CASE("sprites returned to a thrower whose mailbox is full are dropped and counted") {
  test::RelayFixture f(8);
  f.config.mailbox_limit = 4;
  f.rebuild();
  Node* t = f.relay->join("g", "thrower");
  REQUIRE(t);
  // Five receivers in turn sit at t's right (slot 1); each takes sprites
  // until its mailbox is full, then leaves without reading them: they all
  // head back to t.
  uint64_t accepted = 0;
  for (int r = 0; r < 5; ++r) {
    Node* receiver = f.relay->join("g", "r" + std::to_string(r));
    REQUIRE(receiver);
    while (f.relay->throw_sprite(t->id, token_text(t->token), Direction::Right, true,
                                 "s" + std::to_string(accepted), "{}").verdict == ThrowVerdict::Accepted) {
      ++accepted;
    }
    f.relay->leave(receiver);
  }
  REQUIRE(accepted == 5 * f.config.mailbox_limit);
  size_t returned = 0, neighbors = 0;
  for (const nlohmann::json& e : events_of(*t)) {
    if (e["type"] == "returned") ++returned;
    if (e["type"] == "neighbors") ++neighbors;
  }
  CHECK(t->mailbox.size() <= f.config.mailbox_limit + 2);
  CHECK(returned > 0);
  CHECK(returned <= f.config.mailbox_limit);
  CHECK(neighbors == 1);
  // Nothing disappears unaccounted: each accepted sprite came back or was
  // counted as dropped.
  CHECK(f.counters.accepted == accepted);
  CHECK(f.counters.returned == returned);
  CHECK(f.counters.returned + f.counters.dropped == accepted);
}

// The rules of the master's domain core (docs/API.md "Grid", "long-poll",
// "throw"), each on a fake clock with recorded answers: who gets neighbors
// events, when a poll is answered at once, parked, batched, timed out,
// superseded or told its node is gone, how the TTL runs, the order of a
// throw's checks and its rate limit, and where unread sprites go when their
// receiver leaves.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "master/relay.h"
#include "relay_fixture.h"

using namespace sprites;
using namespace sprites::master;
using nlohmann::json;

namespace {

constexpr ParkedPoll kA{1ull << 32 | 1, 7};
constexpr ParkedPoll kB{2ull << 32 | 2, 3};

ThrowVerdict throw_at(test::RelayFixture& f, Node* from, Direction d, const std::string& id = "s") {
  return f.relay->throw_sprite(from->id, token_text(from->token), d, true, id, R"({"k":1})").verdict;
}

std::vector<json> events_of(const Node& node) {
  Mailbox copy = node.mailbox;  // looking is not sending
  std::string out;
  copy.render(0, 1000, out);
  return json::parse(out).at("events").get<std::vector<json>>();
}

json body(const test::RecordingAnswerer::Answer& a) { return json::parse(a.body); }

}  // namespace

// ---- membership ---------------------------------------------------------------

TEST_CASE("a join tells exactly the nodes whose view changed, not the joiner") {
  test::RelayFixture f(3);
  Node* a = f.relay->join("g", "a");
  CHECK(events_of(*a).empty());  // alone: nobody else to tell
  Node* b = f.relay->join("g", "b");
  CHECK(events_of(*b).empty());  // the joiner's 201 carries its place
  std::vector<json> told = events_of(*a);
  REQUIRE(told.size() == 1);
  CHECK(told[0]["type"] == "neighbors");
  CHECK(told[0]["neighbors"]["right"]["node"] == b->id);
  CHECK(f.relay->group_count() == 1);
  CHECK(f.relay->node_count() == 2);
  Node* other = f.relay->join("h", "c");
  CHECK(events_of(*other).empty());
  CHECK(events_of(*a).size() == 1);  // another group changes nothing here
  CHECK(f.relay->group_count() == 2);
}

TEST_CASE("a join beyond max_nodes is refused") {
  test::RelayFixture f;
  f.config.max_nodes = 2;
  f.rebuild();
  CHECK(f.relay->join("g", "a"));
  CHECK(f.relay->join("h", "b"));
  CHECK_FALSE(f.relay->join("g", "c"));
  CHECK(f.relay->node_count() == 2);
}

TEST_CASE("a node that leaves is forgotten, its neighbours told, its empty group gone") {
  test::RelayFixture f(3);
  Node* a = f.relay->join("g", "a");
  Node* b = f.relay->join("g", "b");
  const std::string b_id = b->id;
  f.relay->leave(b);
  CHECK_FALSE(f.relay->find(b_id));
  std::vector<json> told = events_of(*a);
  REQUIRE_FALSE(told.empty());
  CHECK(told.back()["neighbors"]["right"]["node"] == a->id);
  f.relay->leave(a);
  CHECK(f.relay->group_count() == 0);
}

// ---- polls ---------------------------------------------------------------------

TEST_CASE("a poll with events waiting is answered at once and not parked") {
  test::RelayFixture f;
  Node* a = f.relay->join("g", "a");
  REQUIRE(throw_at(f, a, Direction::Left) == ThrowVerdict::Accepted);  // alone: to itself
  CHECK_FALSE(f.relay->poll(*a, kA, 0, 60000));
  REQUIRE(f.answerer.answers.size() == 1);
  CHECK(f.answerer.answers[0].poll == kA);
  CHECK(body(f.answerer.answers[0])["events"].size() == 1);
  CHECK(body(f.answerer.answers[0])["cursor"] == 1);
  CHECK(f.relay->polls_pending() == 0);
}

TEST_CASE("a poll with nothing to deliver is parked and answered by the next event, at the end of the turn") {
  test::RelayFixture f(3);
  Node* a = f.relay->join("g", "a");
  Node* b = f.relay->join("g", "b");
  f.relay->poll(*a, kA, 0, 0);  // takes a's neighbors event
  f.answerer.answers.clear();
  const uint64_t cursor = a->mailbox.last_seq();
  CHECK(f.relay->poll(*a, kA, cursor, 60000));
  CHECK(f.relay->polls_pending() == 1);
  REQUIRE(throw_at(f, b, Direction::Left, "one") == ThrowVerdict::Accepted);
  REQUIRE(throw_at(f, b, Direction::Left, "two") == ThrowVerdict::Accepted);
  CHECK(f.answerer.answers.empty());  // not before the turn ends
  f.clock.end_turn();
  REQUIRE(f.answerer.answers.size() == 1);  // both sprites in one answer
  json answer = body(f.answerer.answers[0]);
  REQUIRE(answer["events"].size() == 2);
  CHECK(answer["events"][0]["id"] == "one");
  CHECK(answer["events"][1]["id"] == "two");
  CHECK(f.relay->polls_pending() == 0);
}

TEST_CASE("a parked poll with nothing to deliver is answered empty when its timeout passes, not before") {
  test::RelayFixture f;
  Node* a = f.relay->join("g", "a");
  REQUIRE(f.relay->poll(*a, kA, 0, 500));
  f.clock.advance(499);
  CHECK(f.answerer.answers.empty());
  f.clock.advance(1);
  REQUIRE(f.answerer.answers.size() == 1);
  CHECK(body(f.answerer.answers[0]) == json::parse(R"({"cursor":0,"events":[]})"));
  CHECK(f.relay->polls_pending() == 0);
}

TEST_CASE("a newer poll answers the parked one as superseded and is parked itself") {
  test::RelayFixture f;
  Node* a = f.relay->join("g", "a");
  REQUIRE(f.relay->poll(*a, kA, 0, 60000));
  REQUIRE(f.relay->poll(*a, kB, 0, 60000));
  REQUIRE(f.answerer.answers.size() == 1);
  CHECK(f.answerer.answers[0].poll == kA);
  CHECK(body(f.answerer.answers[0]) == json::parse(R"({"cursor":0,"events":[],"superseded":true})"));
  CHECK(f.relay->polls_pending() == 1);
  REQUIRE(throw_at(f, a, Direction::Up) == ThrowVerdict::Accepted);
  f.clock.end_turn();
  REQUIRE(f.answerer.answers.size() == 2);
  CHECK(f.answerer.answers[1].poll == kB);
}

TEST_CASE("a held poll whose node leaves is told the node is gone") {
  test::RelayFixture f;
  Node* a = f.relay->join("g", "a");
  REQUIRE(f.relay->poll(*a, kA, 0, 60000));
  f.relay->leave(a);
  REQUIRE(f.answerer.answers.size() == 1);
  CHECK(f.answerer.answers[0].gone);
  CHECK(f.answerer.answers[0].poll == kA);
  CHECK(f.relay->polls_pending() == 0);
}

TEST_CASE("a dropped poll ends only if it is the one parked, and the node's TTL starts") {
  test::RelayFixture f;
  f.config.node_ttl_ms = 1000;
  f.rebuild();
  Node* a = f.relay->join("g", "a");
  const std::string id = a->id;
  REQUIRE(f.relay->poll(*a, kA, 0, 60000));
  f.relay->poll_dropped(*a, kB);  // not the holder
  CHECK(f.relay->polls_pending() == 1);
  f.relay->poll_dropped(*a, kA);
  CHECK(f.relay->polls_pending() == 0);
  CHECK(f.answerer.answers.empty());  // nobody to answer
  f.clock.advance(999);
  CHECK(f.relay->find(id));
  f.clock.advance(1);
  CHECK_FALSE(f.relay->find(id));
}

TEST_CASE("acknowledging delivers sprites once and counts them, other events are not counted") {
  test::RelayFixture f(3);
  Node* a = f.relay->join("g", "a");
  Node* b = f.relay->join("g", "b");
  REQUIRE(throw_at(f, b, Direction::Left) == ThrowVerdict::Accepted);
  CHECK(a->mailbox.size() == 2);  // neighbors + sprite
  f.relay->poll(*a, kA, 0, 0);
  CHECK(f.counters.delivered == 0);
  f.relay->poll(*a, kA, a->mailbox.last_seq(), 0);
  CHECK(f.counters.delivered == 1);
  CHECK(a->mailbox.size() == 0);
  f.relay->poll(*a, kA, a->mailbox.last_seq(), 0);
  CHECK(f.counters.delivered == 1);
}

TEST_CASE("every parked poll is answered when the relay stops") {
  test::RelayFixture f(3);
  Node* a = f.relay->join("g", "a");
  Node* b = f.relay->join("h", "b");
  REQUIRE(f.relay->poll(*a, kA, 0, 60000));
  REQUIRE(f.relay->poll(*b, kB, 0, 60000));
  f.relay->answer_all_polls();
  CHECK(f.answerer.answers.size() == 2);
  CHECK(f.relay->polls_pending() == 0);
}

// ---- TTL ------------------------------------------------------------------------

TEST_CASE("a node with no poll leaves node_ttl_ms after its join, and its neighbours are told") {
  test::RelayFixture f(3);
  f.config.node_ttl_ms = 1000;
  f.rebuild();
  Node* a = f.relay->join("g", "a");
  f.clock.advance(500);
  Node* b = f.relay->join("g", "b");
  const std::string a_id = a->id;
  REQUIRE(f.relay->poll(*b, kB, 0, 0) == false);
  f.clock.advance(499);
  CHECK(f.relay->find(a_id));
  f.clock.advance(1);
  CHECK_FALSE(f.relay->find(a_id));
  std::vector<json> told = events_of(*b);
  REQUIRE(told.size() >= 1);
  CHECK(told.back()["neighbors"]["left"]["node"] == b->id);
}

TEST_CASE("a node holding a poll stays past its TTL, and leaves node_ttl_ms after the poll ends") {
  test::RelayFixture f;
  f.config.node_ttl_ms = 1000;
  f.rebuild();
  Node* a = f.relay->join("g", "a");
  const std::string id = a->id;
  REQUIRE(f.relay->poll(*a, kA, 0, 5000));
  f.clock.advance(4999);
  CHECK(f.relay->find(id));  // well past the TTL, but polling
  CHECK(f.answerer.answers.empty());
  f.clock.advance(1);  // the poll times out, answered empty
  REQUIRE(f.answerer.answers.size() == 1);
  f.clock.advance(999);
  CHECK(f.relay->find(id));
  f.clock.advance(1);
  CHECK_FALSE(f.relay->find(id));
}

// ---- throws -----------------------------------------------------------------------

TEST_CASE("a throw is checked for node, token, rate and mailbox, in that order, and each refusal counted") {
  test::RelayFixture f(3);
  f.config.mailbox_limit = 1;
  f.config.rate_limit = 1;  // a burst of 2
  f.rebuild();
  Node* a = f.relay->join("g", "a");
  Node* b = f.relay->join("g", "b");  // a holds 1 event: its mailbox is full
  CHECK(f.relay->throw_sprite("nosuchnode", token_text(a->token), Direction::Left, false, "", "{}").verdict ==
        ThrowVerdict::UnknownNode);
  CHECK(f.relay->throw_sprite(b->id, token_text(a->token), Direction::Left, false, "", "{}").verdict ==
        ThrowVerdict::WrongToken);
  CHECK(f.relay->throw_sprite(b->id, "short", Direction::Left, false, "", "{}").verdict == ThrowVerdict::WrongToken);
  CHECK(throw_at(f, b, Direction::Left) == ThrowVerdict::MailboxFull);  // takes a token
  CHECK(throw_at(f, b, Direction::Left) == ThrowVerdict::MailboxFull);  // the second
  CHECK(throw_at(f, b, Direction::Left) == ThrowVerdict::RateLimited);  // rate before mailbox
  CHECK(f.counters.rejected == 6);
  CHECK(f.counters.accepted == 0);
}

TEST_CASE("the rate limit allows a burst of twice the rate, refills at the rate, and a refusal takes no token") {
  test::RelayFixture f(3);
  f.config.rate_limit = 2;
  f.config.mailbox_limit = 1000;
  f.config.node_ttl_ms = 86400000;  // the node stays while the clock moves
  f.rebuild();
  Node* a = f.relay->join("g", "a");
  for (int i = 0; i < 4; ++i) REQUIRE(throw_at(f, a, Direction::Up) == ThrowVerdict::Accepted);
  CHECK(throw_at(f, a, Direction::Up) == ThrowVerdict::RateLimited);
  CHECK(throw_at(f, a, Direction::Up) == ThrowVerdict::RateLimited);
  f.clock.advance(499);
  CHECK(throw_at(f, a, Direction::Up) == ThrowVerdict::RateLimited);
  f.clock.advance(1);  // 500 ms at 2/s: one token, the refusals took none
  CHECK(throw_at(f, a, Direction::Up) == ThrowVerdict::Accepted);
  CHECK(throw_at(f, a, Direction::Up) == ThrowVerdict::RateLimited);
  f.clock.advance(60000);  // refills up to the burst, no further
  for (int i = 0; i < 4; ++i) CHECK(throw_at(f, a, Direction::Up) == ThrowVerdict::Accepted);
  CHECK(throw_at(f, a, Direction::Up) == ThrowVerdict::RateLimited);
}

TEST_CASE("an accepted throw names its receiver, the neighbour in its direction") {
  test::RelayFixture f(3);
  Node* a = f.relay->join("g", "a");
  Node* b = f.relay->join("g", "b");
  Node* c = f.relay->join("g", "c");
  ThrowOutcome right = f.relay->throw_sprite(a->id, token_text(a->token), Direction::Right, false, "", "{}");
  CHECK(right.verdict == ThrowVerdict::Accepted);
  CHECK(right.receiver == b);
  ThrowOutcome left = f.relay->throw_sprite(a->id, token_text(a->token), Direction::Left, false, "", "{}");
  CHECK(left.receiver == c);
  std::vector<json> got = events_of(*b);
  CHECK(got.back()["type"] == "sprite");
  CHECK(got.back()["from"]["node"] == a->id);
  CHECK(got.back()["direction"] == "right");
  CHECK_FALSE(got.back().contains("id"));
  CHECK(f.counters.accepted == 2);
}

// ---- returned -----------------------------------------------------------------------

TEST_CASE("a receiver that leaves sends its unread sprites back, acknowledged ones stay delivered") {
  test::RelayFixture f(3);
  Node* a = f.relay->join("g", "a");
  Node* b = f.relay->join("g", "b");
  REQUIRE(throw_at(f, a, Direction::Right, "read") == ThrowVerdict::Accepted);
  f.relay->poll(*b, kB, 0, 0);
  f.relay->poll(*b, kB, b->mailbox.last_seq(), 0);  // acknowledges "read"
  REQUIRE(throw_at(f, a, Direction::Right, "unread") == ThrowVerdict::Accepted);
  f.relay->leave(b);
  std::vector<json> back;
  for (const json& e : events_of(*a)) {
    if (e["type"] == "returned") back.push_back(e);
  }
  REQUIRE(back.size() == 1);
  CHECK(back[0]["id"] == "unread");
  CHECK(back[0]["direction"] == "right");
  CHECK(back[0]["sprite"] == json::parse(R"({"k":1})"));
  CHECK(f.counters.returned == 1);
  CHECK(f.counters.delivered == 1);
  CHECK(f.counters.dropped == 0);
}

TEST_CASE("a sprite whose thrower has left too is dropped and counted, as is an unread returned event") {
  test::RelayFixture f(3);
  Node* a = f.relay->join("g", "a");
  Node* b = f.relay->join("g", "b");
  REQUIRE(throw_at(f, a, Direction::Right) == ThrowVerdict::Accepted);
  f.relay->leave(a);  // the thrower first
  f.relay->leave(b);  // then the receiver, its sprite unread
  CHECK(f.counters.dropped == 1);
  CHECK(f.counters.returned == 0);

  Node* c = f.relay->join("g", "c");
  Node* d = f.relay->join("g", "d");
  REQUIRE(throw_at(f, c, Direction::Right) == ThrowVerdict::Accepted);
  f.relay->leave(d);  // c gets it back as returned, unread
  CHECK(f.counters.returned == 1);
  f.relay->leave(c);  // and leaves without reading it
  CHECK(f.counters.dropped == 2);
}

TEST_CASE("a returned sprite wakes its thrower's parked poll") {
  test::RelayFixture f(3);
  Node* a = f.relay->join("g", "a");
  Node* b = f.relay->join("g", "b");
  f.relay->poll(*a, kA, 0, 0);
  f.answerer.answers.clear();
  REQUIRE(throw_at(f, a, Direction::Right) == ThrowVerdict::Accepted);
  REQUIRE(f.relay->poll(*a, kA, a->mailbox.last_seq(), 60000));
  f.relay->leave(b);
  f.clock.end_turn();
  REQUIRE(f.answerer.answers.size() == 1);
  const json answer = body(f.answerer.answers[0]);
  std::vector<std::string> types;
  for (const json& e : answer["events"]) types.push_back(e["type"].get<std::string>());
  CHECK(std::count(types.begin(), types.end(), "returned") == 1);
}

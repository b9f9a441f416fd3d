// client/node_session: the protocol logic of one node — cursor
// acknowledgement, dedup by seq, neighbour tracking, join, throw, leave —
// driven through the Transport seam: a fake transport records each request and
// the test answers it with a canned HTTP response. No socket, no loop.
#include <catch2/catch.hpp>

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "client/node_session.h"
#include "client/transport.h"

using namespace sprites;
using namespace sprites::client;

namespace {

// Records requests; the test answers the oldest one.
class FakeTransport final : public Transport {
 public:
  struct Sent {
    std::string method;
    std::string target;
    std::string token;
    std::string body;
    ResponseHandler handler;
  };

  void send(Request request, ResponseHandler on_response) override {
    sent_.push_back(Sent{std::string(request.method), request.target, request.token, request.body,
                         std::move(on_response)});
  }

  size_t outstanding() const { return sent_.size(); }
  const Sent& oldest() const {
    REQUIRE(!sent_.empty());
    return sent_.front();
  }
  // Answers the oldest request.
  void answer(int status, std::string body) {
    REQUIRE(!sent_.empty());
    Sent s = std::move(sent_.front());
    sent_.pop_front();
    Response r;
    r.status = status;
    r.body = std::move(body);
    s.handler(std::move(r));
  }
  void fail(std::string why) {
    REQUIRE(!sent_.empty());
    Sent s = std::move(sent_.front());
    sent_.pop_front();
    Response r;
    r.failure = std::move(why);
    s.handler(std::move(r));
  }

 private:
  std::deque<Sent> sent_;
};

struct Recorder final : SessionObserver {
  std::vector<std::pair<uint64_t, std::string>> events;  // (seq, type)
  std::vector<std::string> sprite_ids;
  std::vector<PollStop> stops;
  int joined = 0;
  std::vector<std::string> join_failures;
  std::function<void(NodeSession&, const Event&)> on_each;

  void on_joined(NodeSession&, std::string_view) override { ++joined; }
  void on_join_failed(NodeSession&, const Response& r) override { join_failures.push_back(describe(r)); }
  void on_event(NodeSession& s, const Event& e) override {
    events.emplace_back(e.seq, e.json().value("type", ""));
    if (e.type == EventType::Sprite) sprite_ids.push_back(e.json().value("id", ""));
    if (on_each) on_each(s, e);
  }
  void on_poll_stopped(NodeSession&, PollStop why, const Response&) override { stops.push_back(why); }
};

std::string ref(const char* node, const char* name) {
  return std::string("{\"node\":\"") + node + "\",\"name\":\"" + name + "\"}";
}

std::string neighbours_json(const char* l, const char* r, const char* u, const char* d) {
  return std::string("{\"left\":") + ref(l, l) + ",\"right\":" + ref(r, r) + ",\"up\":" + ref(u, u) +
         ",\"down\":" + ref(d, d) + "}";
}

std::string joined_answer() {
  return R"({"node":"me","token":"tok","group":"g","name":"me","position":{"row":0,"col":1},"neighbors":)" +
         neighbours_json("a", "b", "me", "me") + R"(,"cursor":0,"poll_timeout_ms":60000,"node_ttl_ms":30000})";
}

std::string sprite_event(uint64_t seq, const char* id) {
  return "{\"seq\":" + std::to_string(seq) + R"(,"type":"sprite","from":{"node":"a","name":"a"},"direction":"right","id":")" +
         id + R"(","sprite":{"k":1}})";
}

std::string neighbors_event(uint64_t seq, uint64_t row, uint64_t col, const std::string& set) {
  return "{\"seq\":" + std::to_string(seq) + R"(,"type":"neighbors","position":{"row":)" + std::to_string(row) +
         ",\"col\":" + std::to_string(col) + "},\"neighbors\":" + set + "}";
}

std::string poll_answer(uint64_t cursor, const std::vector<std::string>& events, bool superseded = false) {
  std::string out = "{\"cursor\":" + std::to_string(cursor) + ",\"events\":[";
  for (size_t i = 0; i < events.size(); ++i) out += (i ? "," : "") + events[i];
  out += "]";
  if (superseded) out += ",\"superseded\":true";
  return out + "}";
}

// A session that has joined and holds its first poll.
struct Joined {
  FakeTransport master;
  FakeTransport worker;
  Recorder observer;
  NodeSession session{master, worker, observer, 7};

  Joined() {
    session.join(std::string("g"), std::string("me"));
    master.answer(201, joined_answer());
    REQUIRE(session.joined());
    REQUIRE(master.outstanding() == 1);
  }
};

}  // namespace

TEST_CASE("a join sends the group and name and keeps the node's place", "[client][session]") {
  FakeTransport master, worker;
  Recorder observer;
  NodeSession session(master, worker, observer);
  session.join(std::string("office-7"), std::string("laptop \"1\""));
  REQUIRE(master.outstanding() == 1);
  CHECK(master.oldest().method == "POST");
  CHECK(master.oldest().target == "/v1/nodes");
  CHECK(master.oldest().token.empty());
  CHECK(nlohmann::json::parse(master.oldest().body) == nlohmann::json{{"group", "office-7"}, {"name", "laptop \"1\""}});
  master.answer(201, joined_answer());
  CHECK(observer.joined == 1);
  CHECK(session.node() == "me");
  CHECK(session.token() == "tok");
  CHECK(session.position().row == 0);
  CHECK(session.position().col == 1);
  CHECK(session.neighbours()[Direction::Left].node == "a");
  CHECK(session.neighbours()[Direction::Right].node == "b");
  CHECK(session.neighbours()[Direction::Up].node == "me");
  // Polling starts at once, acknowledging nothing, with the node's token.
  REQUIRE(master.outstanding() == 1);
  CHECK(master.oldest().method == "GET");
  CHECK(master.oldest().target == "/v1/nodes/me/events?after=0");
  CHECK(master.oldest().token == "tok");
}

TEST_CASE("a join with a ticket sends it as the join's bearer token", "[client][session]") {
  FakeTransport master, worker;
  Recorder observer;
  NodeSession session(master, worker, observer);
  session.join(std::string("g"), std::nullopt, /*then_poll=*/true, "header.claims.signature");
  REQUIRE(master.outstanding() == 1);
  CHECK(master.oldest().target == "/v1/nodes");
  CHECK(master.oldest().token == "header.claims.signature");
  master.answer(201, joined_answer());
  // The node's own token, not the ticket, from then on.
  REQUIRE(master.outstanding() == 1);
  CHECK(master.oldest().token == "tok");
}

TEST_CASE("a join without group or name sends an empty object", "[client][session]") {
  FakeTransport master, worker;
  Recorder observer;
  NodeSession session(master, worker, observer);
  session.join(std::nullopt, std::nullopt, /*then_poll=*/false);
  CHECK(master.oldest().body == "{}");
  master.answer(201, joined_answer());
  CHECK(session.joined());
  CHECK(master.outstanding() == 0);  // not asked to poll
}

TEST_CASE("a refused join is reported and leaves the session unjoined", "[client][session]") {
  FakeTransport master, worker;
  Recorder observer;
  NodeSession session(master, worker, observer);
  session.join(std::string("bad group!"), std::nullopt);
  master.answer(400, R"({"error":"invalid_group","message":"bad characters"})");
  REQUIRE(observer.join_failures.size() == 1);
  CHECK(observer.join_failures[0] == "400 invalid_group: bad characters");
  CHECK_FALSE(session.joined());
  CHECK(master.outstanding() == 0);

  SECTION("and a 201 without a token is not a join") {
    session.join(std::nullopt, std::nullopt);
    master.answer(201, R"({"node":"x"})");
    CHECK(observer.join_failures.size() == 2);
    CHECK_FALSE(session.joined());
  }
}

TEST_CASE("each poll acknowledges the cursor of the previous answer", "[client][session]") {
  Joined j;
  j.master.answer(200, poll_answer(2, {sprite_event(1, "s-1"), sprite_event(2, "s-2")}));
  REQUIRE(j.observer.events.size() == 2);
  CHECK(j.session.cursor() == 2);
  CHECK(j.master.oldest().target == "/v1/nodes/me/events?after=2");

  // An empty answer (the poll timed out) keeps the cursor.
  j.master.answer(200, poll_answer(2, {}));
  CHECK(j.master.oldest().target == "/v1/nodes/me/events?after=2");

  j.master.answer(200, poll_answer(3, {sprite_event(3, "s-3")}));
  CHECK(j.master.oldest().target == "/v1/nodes/me/events?after=3");
  CHECK(j.observer.sprite_ids == std::vector<std::string>{"s-1", "s-2", "s-3"});
}

TEST_CASE("events already seen are dropped by seq", "[client][session]") {
  Joined j;
  j.master.answer(200, poll_answer(2, {sprite_event(1, "s-1"), sprite_event(2, "s-2")}));
  // The relay delivers at least once: an answer may repeat events (an
  // acknowledgement that got lost). Only seq 3 is new.
  j.master.answer(200, poll_answer(3, {sprite_event(2, "s-2"), sprite_event(3, "s-3")}));
  CHECK(j.observer.sprite_ids == std::vector<std::string>{"s-1", "s-2", "s-3"});
  CHECK(j.session.duplicates_dropped() == 1);
  CHECK(j.session.last_seq() == 3);
  // A whole answer of old events changes nothing, and the cursor never goes back.
  j.master.answer(200, poll_answer(1, {sprite_event(1, "s-1")}));
  CHECK(j.observer.events.size() == 3);
  CHECK(j.session.duplicates_dropped() == 2);
  CHECK(j.session.cursor() == 3);
  CHECK(j.master.oldest().target == "/v1/nodes/me/events?after=3");
}

TEST_CASE("a sprite repeated by a thrower with the same id under a new seq is dropped", "[client][session]") {
  Joined j;
  // A retried throw whose first copy was delivered too (its answer was lost,
  // or was a 503 in a narrow race): a second sprite, new seq, same id.
  j.master.answer(200, poll_answer(3, {sprite_event(1, "s-1"), sprite_event(2, "s-2"), sprite_event(3, "s-1")}));
  CHECK(j.observer.sprite_ids == std::vector<std::string>{"s-1", "s-2"});
  CHECK(j.session.id_duplicates_dropped() == 1);
  CHECK(j.session.last_seq() == 3);
  CHECK(j.session.cursor() == 3);  // acknowledged all the same
  // The same id from another thrower, and sprites without an id, are kept.
  std::string other = R"({"seq":4,"type":"sprite","from":{"node":"b","name":"b"},"direction":"left","id":"s-1","sprite":{}})";
  std::string no_id_5 = R"({"seq":5,"type":"sprite","from":{"node":"a","name":"a"},"direction":"left","sprite":{}})";
  std::string no_id_6 = R"({"seq":6,"type":"sprite","from":{"node":"a","name":"a"},"direction":"left","sprite":{}})";
  j.master.answer(200, poll_answer(6, {other, no_id_5, no_id_6}));
  CHECK(j.observer.sprite_ids == std::vector<std::string>{"s-1", "s-2", "s-1", "", ""});
  CHECK(j.session.id_duplicates_dropped() == 1);
  // Only the recent ones are remembered: an id that comes back much later is
  // a new sprite.
  std::vector<std::string> many;
  for (uint64_t i = 0; i < NodeSession::kRecentSpriteIds; ++i) {
    many.push_back(sprite_event(7 + i, ("m-" + std::to_string(i)).c_str()));
  }
  j.master.answer(200, poll_answer(6 + NodeSession::kRecentSpriteIds, many));
  const uint64_t next = 7 + NodeSession::kRecentSpriteIds;
  j.master.answer(200, poll_answer(next, {sprite_event(next, "s-2")}));
  CHECK(j.observer.sprite_ids.back() == "s-2");
  CHECK(j.session.id_duplicates_dropped() == 1);
}

TEST_CASE("a neighbors event replaces the node's neighbours and position", "[client][session]") {
  Joined j;
  j.master.answer(200, poll_answer(2, {neighbors_event(1, 1, 0, neighbours_json("c", "d", "e", "f")),
                                       sprite_event(2, "s-1")}));
  CHECK(j.session.position().row == 1);
  CHECK(j.session.position().col == 0);
  CHECK(j.session.neighbours()[Direction::Left].node == "c");
  CHECK(j.session.neighbours()[Direction::Right].node == "d");
  CHECK(j.session.neighbours()[Direction::Up].node == "e");
  CHECK(j.session.neighbours()[Direction::Down].name == "f");
  REQUIRE(j.observer.events.size() == 2);
  CHECK(j.observer.events[0] == std::make_pair(uint64_t{1}, std::string("neighbors")));

  SECTION("the observer sees the new neighbours already applied") {
    j.observer.on_each = [](NodeSession& s, const Event& e) {
      if (e.type == EventType::Neighbors) CHECK(s.neighbours()[Direction::Left].node == "g");
    };
    j.master.answer(200, poll_answer(3, {neighbors_event(3, 0, 0, neighbours_json("g", "g", "me", "me"))}));
    CHECK(j.session.neighbours()[Direction::Right].node == "g");
  }
  SECTION("a repeated neighbors event does not roll the neighbours back") {
    j.master.answer(200, poll_answer(3, {neighbors_event(3, 0, 0, neighbours_json("g", "g", "me", "me"))}));
    j.master.answer(200, poll_answer(3, {neighbors_event(1, 1, 0, neighbours_json("c", "d", "e", "f"))}));
    CHECK(j.session.neighbours()[Direction::Left].node == "g");
  }
}

TEST_CASE("a superseded poll stops polling", "[client][session]") {
  Joined j;
  j.master.answer(200, poll_answer(0, {}, /*superseded=*/true));
  CHECK(j.master.outstanding() == 0);
  CHECK_FALSE(j.session.polling());
  REQUIRE(j.observer.stops.size() == 1);
  CHECK(j.observer.stops[0] == PollStop::Superseded);
}

TEST_CASE("a poll answered 404 means the node is gone", "[client][session]") {
  Joined j;
  j.master.answer(404, R"({"error":"unknown_node","message":"no node with this id"})");
  CHECK(j.master.outstanding() == 0);
  CHECK(j.session.state() == NodeSession::State::Gone);
  REQUIRE(j.observer.stops.size() == 1);
  CHECK(j.observer.stops[0] == PollStop::Gone);
  j.session.start_polling();  // a gone node does not poll again
  CHECK(j.master.outstanding() == 0);
}

TEST_CASE("a failed poll stops until the owner resumes it, with the same cursor", "[client][session]") {
  Joined j;
  j.master.answer(200, poll_answer(4, {sprite_event(4, "s-4")}));
  j.master.fail("connection reset");
  CHECK(j.master.outstanding() == 0);
  REQUIRE(j.observer.stops.size() == 1);
  CHECK(j.observer.stops[0] == PollStop::Failed);
  CHECK(j.session.joined());
  j.session.start_polling();
  REQUIRE(j.master.outstanding() == 1);
  CHECK(j.master.oldest().target == "/v1/nodes/me/events?after=4");
  j.session.start_polling();  // no second poll while one is out
  CHECK(j.master.outstanding() == 1);

  SECTION("an answer that is not the protocol's counts as a failure") {
    j.master.answer(200, "not json");
    CHECK(j.observer.stops.back() == PollStop::Failed);
  }
  SECTION("a 5xx may be retried, a 4xx is refused") {
    j.master.answer(503, "{}");
    CHECK(j.observer.stops.back() == PollStop::Failed);
    j.session.start_polling();
    j.master.answer(401, R"({"error":"unauthorized","message":"x"})");
    CHECK(j.observer.stops.back() == PollStop::Refused);
  }
}

TEST_CASE("a throw posts the sprite verbatim to the worker with the node's token", "[client][session]") {
  Joined j;
  int answered = 0;
  j.session.throw_sprite(Direction::Up, R"({"x": 1.10, "s":"\u0041"})", std::string_view("s-\"9"),
                         [&](Response&& r) {
                           CHECK(r.status == 202);
                           ++answered;
                         });
  REQUIRE(j.worker.outstanding() == 1);
  CHECK(j.worker.oldest().method == "POST");
  CHECK(j.worker.oldest().target == "/v1/nodes/me/sprites");
  CHECK(j.worker.oldest().token == "tok");
  CHECK(j.worker.oldest().body == R"({"direction":"up","sprite":{"x": 1.10, "s":"\u0041"},"id":"s-\"9"})");
  j.worker.answer(202, R"({"to":{"node":"a","name":"a"}})");
  CHECK(answered == 1);

  j.session.throw_sprite(Direction::Left, "{}", std::nullopt, nullptr);
  CHECK(j.worker.oldest().body == R"({"direction":"left","sprite":{}})");
}

TEST_CASE("a leave goes out behind the held poll, whose 404 is not a gone node", "[client][session]") {
  Joined j;
  int left = 0;
  j.session.leave([&](Response&& r) {
    CHECK(r.status == 204);
    ++left;
  });
  REQUIRE(j.master.outstanding() == 2);  // the held poll, then the DELETE
  j.master.answer(404, R"({"error":"unknown_node","message":"left"})");
  CHECK(j.observer.stops.empty());
  CHECK(j.master.oldest().method == "DELETE");
  CHECK(j.master.oldest().target == "/v1/nodes/me");
  CHECK(j.master.oldest().token == "tok");
  j.master.answer(204, "");
  CHECK(left == 1);
  CHECK(j.session.state() == NodeSession::State::Left);
  CHECK(j.master.outstanding() == 0);
}

TEST_CASE("an observer may stop polling from inside an event", "[client][session]") {
  Joined j;
  j.observer.on_each = [](NodeSession& s, const Event&) { s.stop_polling(); };
  j.master.answer(200, poll_answer(2, {sprite_event(1, "s-1"), sprite_event(2, "s-2")}));
  CHECK(j.observer.events.size() == 2);  // the answer is still handed over whole
  CHECK(j.master.outstanding() == 0);
  CHECK(j.session.cursor() == 2);
}

TEST_CASE("an adopted node polls from the cursor it was given", "[client][session]") {
  FakeTransport master, worker;
  Recorder observer;
  NodeSession session(master, worker, observer);
  session.adopt("n1", "t1", 41);
  session.set_poll_timeout_ms(250);
  session.start_polling();
  CHECK(master.oldest().target == "/v1/nodes/n1/events?after=41&timeout_ms=250");
  master.answer(200, poll_answer(42, {sprite_event(41, "old"), sprite_event(42, "new")}));
  CHECK(observer.sprite_ids == std::vector<std::string>{"new"});
}

TEST_CASE("the observer gets each event's bytes as the relay sent them", "[client][session]") {
  Joined j;
  std::vector<std::string> raw;
  j.observer.on_each = [&](NodeSession&, const Event& e) { raw.emplace_back(e.raw); };
  const std::string first = R"({"seq":1,"type":"sprite","id":"a,]}","sprite":{"x":1.10,"s":"\"}]","n":[1,{"y":[]}]}})";
  const std::string second = R"({ "seq" : 2 , "type":"neighbors","position":{"row":0,"col":0},"neighbors":)" +
                             neighbours_json("a", "a", "me", "me") + " }";
  j.master.answer(200, R"({"cursor":2, "events" : [ )" + first + " ,\n" + second + R"( ], "superseded":false})");
  REQUIRE(raw.size() == 2);
  CHECK(raw[0] == first);
  CHECK(raw[1] == second);
  CHECK(j.session.neighbours()[Direction::Left].node == "a");
  CHECK(j.master.oldest().target == "/v1/nodes/me/events?after=2");
}

TEST_CASE("a poll answer is read by its members, whatever their spelling or order", "[client][session]") {
  Joined j;
  std::vector<std::string> indexed_ids;  // through the session's index handed to the observer
  j.observer.on_each = [&](NodeSession&, const Event& e) {
    std::string id;
    e.members.read_string("id", id);
    indexed_ids.push_back(id);
  };
  // Escaped keys and type, members in another order, nested look-alikes.
  j.master.answer(200, R"({"events":[{"sprite":{"seq":99,"type":"neighbors"},"\u0074ype":"spr\u0069te","id":"e-1",)"
                       R"("se\u0071":1}],"cursor":1,"superseded":false})");
  CHECK(j.observer.events == std::vector<std::pair<uint64_t, std::string>>{{1, "sprite"}});
  CHECK(j.observer.sprite_ids == std::vector<std::string>{"e-1"});
  CHECK(indexed_ids == std::vector<std::string>{"e-1"});
  CHECK(j.session.cursor() == 1);
  CHECK(j.observer.stops.empty());
  CHECK(j.master.oldest().target == "/v1/nodes/me/events?after=1");
}

TEST_CASE("an event whose seq is not a non-negative integer is skipped", "[client][session]") {
  Joined j;
  j.master.answer(200, R"({"cursor":4,"events":[{"seq":"1","type":"sprite","id":"s"},{"seq":-2,"type":"sprite"},)"
                       R"({"seq":3.5,"type":"sprite"},{"seq":4,"type":"sprite","id":"ok"}]})");
  CHECK(j.observer.sprite_ids == std::vector<std::string>{"ok"});
  CHECK(j.session.last_seq() == 4);
}

TEST_CASE("a poll answer that is not JSON stops polling as failed, even when its members look right",
          "[client][session]") {
  Joined j;
  j.master.answer(200, R"({"cursor":1,"events":[{"seq":1,"type":"sprite","id":"x"}]} trailing)");
  CHECK(j.observer.events.empty());
  CHECK(j.observer.stops == std::vector<PollStop>{PollStop::Failed});
  CHECK_FALSE(j.session.polling());
}

TEST_CASE("a raw object finds top-level members only, the last of a repeated key", "[client][protocol]") {
  RawObject o(R"( { "a" : [1,2] , "events":[3, "x" ,{"events":[9]}], "n": 12 ,"s":"q\"}","t":true,"n":13} )");
  CHECK(o.array_elements("events") == std::vector<std::string_view>{"3", "\"x\"", R"({"events":[9]})"});
  CHECK(o.member("a") == "[1,2]");
  uint64_t n = 0;
  CHECK(o.read_uint("n", n));
  CHECK(n == 13);
  std::string text;
  CHECK(o.read_string("s", text));
  CHECK(text == "q\"}");
  bool flag = false;
  CHECK(o.read_bool("t", flag));
  CHECK(flag);
  CHECK_FALSE(o.member("x"));
  CHECK_FALSE(o.read_uint("s", n));
  CHECK_FALSE(o.read_string("n", text));
  CHECK_FALSE(o.read_bool("n", flag));
  CHECK(RawObject(R"({"cursor":0,"events":[]})").array_elements("events")->empty());
  CHECK_FALSE(RawObject(R"({"cursor":0})").array_elements("events"));
  CHECK_FALSE(RawObject(R"({"events":{}})").array_elements("events"));
  CHECK_FALSE(RawObject(R"([1,2])").member("events"));
  CHECK_FALSE(RawObject("{}").member(""));
  CHECK(RawObject(R"({"":1})").member("") == "1");
}

TEST_CASE("a checked raw object indexes only JSON, a byte order mark skipped as in a parse", "[client][protocol]") {
  CHECK(RawObject::checked("\xEF\xBB\xBF{\"a\":1}").member("a") == "1");
  CHECK(RawObject::checked(R"({"a":1})").member("a") == "1");
  CHECK_FALSE(RawObject::checked(R"({"a":1} x)").member("a"));
  CHECK_FALSE(RawObject::checked(R"({"a":1)").member("a"));
  CHECK_FALSE(RawObject::checked("").member("a"));
}

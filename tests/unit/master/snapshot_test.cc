// Snapshots: a relay written and loaded again is the same relay (nodes, tokens,
// slots, mailboxes, counters), and every damaged, stale, crafted or
// misplaced file is refused, leaving the relay empty: the loader checks every
// field as if it came from the network, opens nothing through a symlink and
// never blocks on a FIFO; the writer creates its file 0600 and never writes
// through a name someone else put in its way.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <unistd.h>

#include "master/relay.h"
#include "master/event_text.h"
#include "master/snapshot.h"
#include "relay_fixture.h"

using namespace sprites;
using namespace sprites::master;

namespace {

// A relay on its own loop (relay_fixture.h) and a snapshot path of its own.
struct Fixture : test::RelayFixture {
  std::string path;

  explicit Fixture(uint32_t width = 3) : RelayFixture(width) {
    char name[] = "/tmp/sprites-snapshot-test-XXXXXX";
    int fd = mkstemp(name);
    ::close(fd);
    path = name;
    ::unlink(path.c_str());
  }
  ~Fixture() {
    ::unlink(path.c_str());
    ::unlink((path + ".refused").c_str());
  }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string render(const Node& n) {
  std::string out;
  Mailbox copy = n.mailbox;  // looking is not sending
  copy.render(0, 100, out);
  return out;
}

// Two groups, sprites and a returned event in mailboxes, counters moved.
void populate(Fixture& f) {
  std::vector<Node*> g;
  for (const char* name : {"a", "b", "c", "d", "e"}) g.push_back(f.relay->join("g", name));
  Node* solo = f.relay->join("other", "solo");
  REQUIRE(solo);
  REQUIRE(f.relay->throw_sprite(g[0]->id, token_text(g[0]->token), Direction::Right, true, "s-1", R"({"big":18446744073709551615})").verdict == ThrowVerdict::Accepted);
  REQUIRE(f.relay->throw_sprite(g[1]->id, token_text(g[1]->token), Direction::Down, false, "", R"({"k":[1,2]})").verdict == ThrowVerdict::Accepted);
  f.relay->leave(g[2]);  // c leaves: e moves into its slot, neighbours are told
  f.counters.rejected = 7;
  f.counters.joins_invalid_ticket = 3;
  f.counters.joins_rate_limited = 9;
}

}  // namespace

TEST_CASE("a relay written to a snapshot and loaded again is the same relay") {
  Fixture before;
  populate(before);
  REQUIRE(write_snapshot(*before.relay, before.counters, 3, before.path));

  Fixture after;
  after.path = before.path;
  REQUIRE(load_snapshot(*after.relay, after.counters, after.path) == SnapshotLoad::Loaded);
  CHECK(after.relay->node_count() == before.relay->node_count());
  CHECK(after.relay->group_count() == 2);
  CHECK(after.counters.accepted == before.counters.accepted);
  CHECK(after.counters.rejected == 7);
  CHECK(after.counters.joins_invalid_ticket == 3);
  CHECK(after.counters.joins_rate_limited == 9);
  before.relay->for_each_group([&](const Group& g) {
    for (uint32_t slot = 0; slot < g.grid.size(); ++slot) {
      const Node& old = *static_cast<const Node*>(g.grid.at(slot));
      Node* now = after.relay->find(old.id);
      REQUIRE(now);
      CHECK(now->slot == old.slot);
      CHECK(now->group->name == g.name);
      CHECK(now->name == old.name);
      CHECK(token_text(now->token) == token_text(old.token));
      CHECK(now->mailbox.last_seq() == old.mailbox.last_seq());
      CHECK(render(*now) == render(old));
    }
  });
  CHECK(access(after.path.c_str(), F_OK) != 0);  // consumed
}

TEST_CASE("a truncated snapshot is refused and the relay starts empty") {
  Fixture before;
  populate(before);
  REQUIRE(write_snapshot(*before.relay, before.counters, 3, before.path));
  std::string text = slurp(before.path);
  spit(before.path, text.substr(0, text.size() - 10));
  Fixture after;
  after.path = before.path;
  CHECK(load_snapshot(*after.relay, after.counters, after.path) == SnapshotLoad::Refused);
  CHECK(after.relay->node_count() == 0);
  CHECK(after.counters.accepted == 0);
  CHECK(access((after.path + ".refused").c_str(), F_OK) == 0);
}

TEST_CASE("a snapshot with one flipped byte is refused") {
  Fixture before;
  populate(before);
  REQUIRE(write_snapshot(*before.relay, before.counters, 3, before.path));
  std::string text = slurp(before.path);
  text[text.size() / 2] ^= 0x01;
  spit(before.path, text);
  Fixture after;
  after.path = before.path;
  CHECK(load_snapshot(*after.relay, after.counters, after.path) == SnapshotLoad::Refused);
  CHECK(after.relay->node_count() == 0);
}

TEST_CASE("a snapshot whose checksum matches but whose content is wrong is refused whole") {
  Fixture f;
  std::string json = R"({"version":1,"written_at_ms":)" + std::to_string(time(nullptr) * 1000ull) +
                     R"(,"grid_width":3,"counters":{"accepted":1,"delivered":0,"returned":0,"dropped":0,"rejected":0},)"
                     R"("groups":[{"name":"g","nodes":[{"id":"AAAAAAAAAA","token":"tttttttttttttttttttttt","name":"a",)"
                     R"("rate_tokens":1,"last_seq":0,"events":[]},{"id":"AAAAAAAAAA","token":"tttttttttttttttttttttt",)"
                     R"("name":"dup","rate_tokens":1,"last_seq":0,"events":[]}]}]})";
  spit(f.path, snapshot_header(json) + json);
  CHECK(load_snapshot(*f.relay, f.counters, f.path) == SnapshotLoad::Refused);
  CHECK(f.relay->node_count() == 0);  // the first node, already restored, is forgotten again
  CHECK(f.counters.accepted == 0);
}

TEST_CASE("a snapshot written before join control loads with its join counters at 0") {
  Fixture f;
  f.counters.joins_rate_limited = 5;  // whatever was there is replaced by what was saved
  std::string json = R"({"version":1,"written_at_ms":)" + std::to_string(time(nullptr) * 1000ull) +
                     R"(,"grid_width":3,"counters":{"accepted":1,"delivered":0,"returned":0,"dropped":0,"rejected":2},)"
                     R"("groups":[]})";
  spit(f.path, snapshot_header(json) + json);
  REQUIRE(load_snapshot(*f.relay, f.counters, f.path) == SnapshotLoad::Loaded);
  CHECK(f.counters.accepted == 1);
  CHECK(f.counters.rejected == 2);
  CHECK(f.counters.joins_invalid_ticket == 0);
  CHECK(f.counters.joins_rate_limited == 0);
}

TEST_CASE("a snapshot older than the node TTL is refused as stale") {
  Fixture f;
  std::string json = R"({"version":1,"written_at_ms":1000,"grid_width":3,"counters":{"accepted":1,"delivered":0,)"
                     R"("returned":0,"dropped":0,"rejected":0},"groups":[]})";
  spit(f.path, snapshot_header(json) + json);
  CHECK(load_snapshot(*f.relay, f.counters, f.path) == SnapshotLoad::Refused);
  CHECK(f.counters.accepted == 0);
}

TEST_CASE("no snapshot file means a fresh start") {
  Fixture f;
  CHECK(load_snapshot(*f.relay, f.counters, f.path) == SnapshotLoad::Absent);
}

TEST_CASE("a snapshot taken with another grid width tells every node its new place") {
  Fixture before(3);
  for (const char* name : {"a", "b", "c", "d"}) before.relay->join("g", name);
  REQUIRE(write_snapshot(*before.relay, before.counters, 3, before.path));
  Fixture after(2);
  after.path = before.path;
  REQUIRE(load_snapshot(*after.relay, after.counters, after.path) == SnapshotLoad::Loaded);
  after.relay->for_each_group([&](const Group& g) {
    for (uint32_t slot = 0; slot < g.grid.size(); ++slot) {
      const Node& n = *static_cast<const Node*>(g.grid.at(slot));
      std::string events = render(n);
      CHECK(events.find("\"type\":\"neighbors\"") != std::string::npos);
      CHECK(n.mailbox.last_seq() > 0);
    }
  });
}

namespace {

using nlohmann::json;

// A real snapshot of populate()'s relay, changed by `change`, re-sealed with
// a correct header: only the content is wrong.
std::string crafted(const std::function<void(json&)>& change) {
  Fixture f;
  populate(f);
  REQUIRE(write_snapshot(*f.relay, f.counters, 3, f.path));
  std::string text = slurp(f.path);
  json doc = json::parse(text.substr(text.find('\n') + 1));
  change(doc);
  std::string body = doc.dump();
  return snapshot_header(body) + body;
}

// Loads `file` into a fresh relay: refused, nothing kept.
void check_refused(const std::string& file, const std::string& reason) {
  Fixture f;
  spit(f.path, file);
  INFO(reason);
  CHECK(load_snapshot(*f.relay, f.counters, f.path) == SnapshotLoad::Refused);
  CHECK(f.relay->node_count() == 0);
  CHECK(f.counters.accepted == 0);
}

json& first_node(json& doc) { return doc["groups"][0]["nodes"][0]; }

// The first sprite event of any node.
json& a_sprite_event(json& doc) {
  for (json& g : doc["groups"]) {
    for (json& n : g["nodes"]) {
      for (json& e : n["events"]) {
        if (e["kind"] == "sprite") return e;
      }
    }
  }
  FAIL("populate() left no sprite event");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("an unchanged crafted snapshot loads: the harness itself changes nothing") {
  Fixture f;
  spit(f.path, crafted([](json&) {}));
  CHECK(load_snapshot(*f.relay, f.counters, f.path) == SnapshotLoad::Loaded);
  CHECK(f.relay->node_count() == 5);
}

TEST_CASE("a snapshot with a valid checksum but a state the relay could not reach is refused") {
  check_refused(crafted([](json& d) { d["written_at_ms"] = 4102444800000ull; }), "dated in 2100");
  check_refused(crafted([](json& d) { first_node(d)["last_seq"] = 18446744073709551615ull; }), "last_seq 2^64-1");
  check_refused(crafted([](json& d) { d["counters"]["rejected"] = 4294967295ull * 4294967297ull; }),
                "a counter past 2^53");
  check_refused(crafted([](json& d) { first_node(d)["id"] = "has space"; }), "a node id outside the grammar");
  check_refused(crafted([](json& d) { first_node(d)["id"] = std::string(33, 'a'); }), "a node id of 33 characters");
  check_refused(crafted([](json& d) { d["groups"][0]["name"] = "bad/group"; }), "a group outside the grammar");
  check_refused(crafted([](json& d) { d["groups"][1]["name"] = d["groups"][0]["name"]; }), "a group twice");
  check_refused(crafted([](json& d) { first_node(d)["name"] = std::string(65, 'n'); }), "a name of 65 characters");
  check_refused(crafted([](json& d) { first_node(d)["token"] = "tttttttttttttttttttt!!"; }), "a token of bad characters");
  check_refused(crafted([](json& d) { first_node(d)["rate_tokens"] = -1; }), "negative rate tokens");
  check_refused(crafted([](json& d) { first_node(d)["rate_tokens"] = "lots"; }), "rate tokens not a number");
  check_refused(crafted([](json& d) { d["grid_width"] = 0; }), "grid width 0");
  check_refused(crafted([](json& d) { d["groups"][0]["nodes"] = json::array(); }), "a group without nodes");
}

TEST_CASE("a snapshot whose event texts are not the relay's own is refused") {
  check_refused(crafted([](json& d) { a_sprite_event(d)["text"] = "not json at all"; }), "text not JSON");
  check_refused(crafted([](json& d) {
                  json& e = a_sprite_event(d);
                  std::string t = e["text"];
                  e["text"] = t.substr(0, t.size() - 1) + ",\"extra\":1}";
                }),
                "an extra member after the sprite");
  check_refused(crafted([](json& d) {
                  json& e = a_sprite_event(d);
                  std::string t = e["text"];
                  e["text"] = t.replace(t.find("\"seq\":") + 6, 1, "9");
                }),
                "a text naming another seq");
  check_refused(crafted([](json& d) { a_sprite_event(d)["thrower"] = "someoneelse"; }), "another thrower");
  check_refused(crafted([](json& d) { a_sprite_event(d)["tail_at"] = 3; }), "a wrong tail offset");
  check_refused(crafted([](json& d) {
                  json& e = a_sprite_event(d);
                  std::string t = e["text"];
                  std::string deep = std::string(70, '[') + std::string(70, ']');
                  size_t at = t.find("\"sprite\":{") + 10;
                  e["text"] = t.substr(0, at) + "\"x\":" + deep + "," + t.substr(at);
                }),
                "a sprite nested past the protocol's limit");
  check_refused(crafted([](json& d) { a_sprite_event(d)["kind"] = "telegram"; }), "an unknown kind");
}

TEST_CASE("a snapshot with more nodes or events than this relay allows is refused") {
  std::string file = crafted([](json&) {});
  {
    test::RelayFixture f;
    f.config.max_nodes = 4;  // populate() made 5
    f.rebuild();
    char name[] = "/tmp/sprites-snapshot-test-XXXXXX";
    ::close(mkstemp(name));
    spit(name, file);
    CHECK(load_snapshot(*f.relay, f.counters, name) == SnapshotLoad::Refused);
    CHECK(f.relay->node_count() == 0);
    ::unlink((std::string(name) + ".refused").c_str());
  }
  check_refused(crafted([](json& d) {
                  json& node = first_node(d);
                  json events = json::array();
                  uint64_t seq = node["last_seq"];
                  for (int i = 0; i < 300; ++i) {
                    events.push_back({{"seq", seq + 1 + static_cast<uint64_t>(i)}, {"kind", "neighbors"},
                                      {"tail_at", 0}, {"text", ""}, {"thrower", ""}});
                  }
                  node["events"] = events;
                  node["last_seq"] = seq + 300;
                }),
                "300 events against a limit of 256");
}

TEST_CASE("a stored neighbors event is rebuilt from the restored grid, whatever its stored text") {
  Fixture f;
  spit(f.path, crafted([](json& d) {
         for (json& g : d["groups"]) {
           for (json& n : g["nodes"]) {
             for (json& e : n["events"]) {
               if (e["kind"] == "neighbors") e["text"] = R"({"seq":1,"type":"neighbors","lies":true})";
             }
           }
         }
       }));
  REQUIRE(load_snapshot(*f.relay, f.counters, f.path) == SnapshotLoad::Loaded);
  size_t rebuilt = 0;
  f.relay->for_each_group([&](const Group& g) {
    for (uint32_t slot = 0; slot < g.grid.size(); ++slot) {
      const Node& n = *static_cast<const Node*>(g.grid.at(slot));
      n.mailbox.for_each([&](const Event& e) {
        if (e.kind != EventKind::Neighbors) return;
        ++rebuilt;
        CHECK(e.text.find("lies") == std::string::npos);
        json parsed = json::parse(with_seq(e.seq, e.text));
        CHECK(parsed["seq"] == e.seq);
        CHECK(parsed["neighbors"]["left"]["node"].is_string());
      });
    }
  });
  CHECK(rebuilt > 0);
}

TEST_CASE("a FIFO at the snapshot path is refused at once and moved aside") {
  Fixture f;
  REQUIRE(::mkfifo(f.path.c_str(), 0600) == 0);
  CHECK(load_snapshot(*f.relay, f.counters, f.path) == SnapshotLoad::Refused);
  struct stat st {};
  CHECK(::lstat(f.path.c_str(), &st) != 0);  // gone from its name: the next start is clean
  REQUIRE(::lstat((f.path + ".refused").c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  CHECK(load_snapshot(*f.relay, f.counters, f.path) == SnapshotLoad::Absent);
}

TEST_CASE("a symlink at the snapshot path is not followed") {
  Fixture f;
  REQUIRE(::symlink("/dev/zero", f.path.c_str()) == 0);
  CHECK(load_snapshot(*f.relay, f.counters, f.path) == SnapshotLoad::Refused);
  struct stat st {};
  REQUIRE(::lstat((f.path + ".refused").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK(load_snapshot(*f.relay, f.counters, f.path) == SnapshotLoad::Absent);
}

TEST_CASE("a snapshot file of another user is refused") {
  Fixture before;
  populate(before);
  REQUIRE(write_snapshot(*before.relay, before.counters, 3, before.path));
  REQUIRE(::chown(before.path.c_str(), 65534, 65534) == 0);
  Fixture after;
  after.path = before.path;
  CHECK(load_snapshot(*after.relay, after.counters, after.path) == SnapshotLoad::Refused);
  CHECK(after.relay->node_count() == 0);
}

TEST_CASE("a snapshot larger than this relay could write is refused without reading it") {
  test::RelayFixture f;
  f.config.max_nodes = 2;
  f.config.mailbox_limit = 1;
  f.config.max_body_bytes = 64;
  f.rebuild();
  char name[] = "/tmp/sprites-snapshot-test-XXXXXX";
  const int fd = mkstemp(name);
  REQUIRE(::ftruncate(fd, 1 << 20) == 0);  // sparse: 1 MiB of zeros
  ::close(fd);
  CHECK(load_snapshot(*f.relay, f.counters, name) == SnapshotLoad::Refused);
  ::unlink((std::string(name) + ".refused").c_str());
}

TEST_CASE("a snapshot is written 0600, and never through a link or into a file put at its temporary name") {
  Fixture f;
  populate(f);
  char victim[] = "/tmp/sprites-snapshot-victim-XXXXXX";
  const int fd = mkstemp(victim);
  REQUIRE(::write(fd, "victim", 6) == 6);
  ::close(fd);
  REQUIRE(::symlink(victim, (f.path + ".tmp").c_str()) == 0);
  REQUIRE(write_snapshot(*f.relay, f.counters, 3, f.path));
  CHECK(slurp(victim) == "victim");
  struct stat st {};
  REQUIRE(::lstat(f.path.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(::lstat((f.path + ".tmp").c_str(), &st) != 0);
  // A refused file is kept closed to others too.
  REQUIRE(::chmod(f.path.c_str(), 0644) == 0);
  std::string text = slurp(f.path);
  spit(f.path, text.substr(0, text.size() - 1));
  Fixture after;
  after.path = f.path;
  CHECK(load_snapshot(*after.relay, after.counters, after.path) == SnapshotLoad::Refused);
  REQUIRE(::lstat((f.path + ".refused").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  ::unlink(victim);
}

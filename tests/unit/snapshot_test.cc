// Snapshots: a relay written and loaded again is the same relay (nodes, tokens,
// slots, mailboxes, counters), and every damaged or stale file is refused,
// leaving the relay empty.
#include <catch2/catch.hpp>
#include <uv.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "master/relay.h"
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
  n.mailbox.render(0, 100, out);
  return out;
}

// Two groups, sprites and a returned event in mailboxes, counters moved.
void populate(Fixture& f) {
  std::vector<Node*> g;
  for (const char* name : {"a", "b", "c", "d", "e"}) g.push_back(f.relay->join("g", name));
  Node* solo = f.relay->join("other", "solo");
  REQUIRE(solo);
  REQUIRE(f.relay->throw_sprite(g[0]->id, token_text(g[0]->token), Direction::Right, true, "s-1", R"({"big":18446744073709551615})").status == 202);
  REQUIRE(f.relay->throw_sprite(g[1]->id, token_text(g[1]->token), Direction::Down, false, "", R"({"k":[1,2]})").status == 202);
  f.relay->leave(g[2]);  // c leaves: e moves into its slot, neighbours are told
  f.counters.rejected = 7;
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

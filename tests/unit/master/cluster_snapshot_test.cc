// Snapshots of a relay in a cluster: its nodes come back with their places
// and their sprites' kept-copy keys; a snapshot of a clustered relay is
// refused by one without a cluster and the other way round; a place naming a
// node outside the protocol is refused; a kept copy's tail is checked like a
// stored event.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <string>

#include "master/snapshot.h"
#include "relay_fixture.h"

using namespace sprites;
using namespace sprites::master;

namespace {

// Hooks that only count: the snapshot needs a relay that is clustered.
struct QuietHooks final : ClusterHooks {
  void node_left(const Node&) override {}
  void sprite_read(std::string_view, uint64_t) override {}
  void sprite_unread(std::string_view, uint64_t) override {}
};

struct ClusteredFixture : test::RelayFixture {
  QuietHooks hooks;
  std::string path;
  ClusteredFixture() {
    config.node_id_prefix = "ra-";
    rebuild();
    relay->set_cluster_hooks(&hooks);
    char name[] = "/tmp/sprites-cluster-snapshot-XXXXXX";
    ::close(mkstemp(name));
    path = name;
    ::unlink(path.c_str());
  }
  ~ClusteredFixture() {
    ::unlink(path.c_str());
    ::unlink((path + ".refused").c_str());
  }
};

NodeView view_of(uint64_t version, uint32_t row, uint32_t col, const std::string& left) {
  NodeView v;
  v.version = version;
  v.row = row;
  v.col = col;
  v.placed = true;
  v.neighbours = {NodeView::Ref{left, "l"}, NodeView::Ref{"rb-right", "r"}, NodeView::Ref{"rb-up", "u"},
                  NodeView::Ref{"rb-down", "d\xc3\xa9"}};
  return v;
}

}  // namespace

TEST_CASE("a clustered relay's snapshot keeps places, copy keys and the cluster's part", "[cluster]") {
  ClusteredFixture before;
  Node* a = before.relay->admit("g", "a");
  Node* b = before.relay->admit("g", "b");
  before.relay->place(*a, view_of(7, 1, 2, "rb-left"), true);
  before.relay->place(*b, view_of(8, 0, 0, a->id), true);
  REQUIRE(before.relay->deliver(a->id, EventRef{"rb-thrower", "t"}, Direction::Left, true, "s-1", R"({"x":1})", 42) ==
          DeliverVerdict::Accepted);
  const nlohmann::json part = {{"relay", "ra"}, {"incarnation", 5}};
  REQUIRE(write_snapshot(*before.relay, before.counters, 3, before.path, part));

  ClusteredFixture after;
  SnapshotCluster saved;
  REQUIRE(load_snapshot(*after.relay, after.counters, before.path, &saved) == SnapshotLoad::Loaded);
  CHECK(saved.part == part);
  CHECK(saved.age_ms < 60000);
  Node* a2 = after.relay->find(a->id);
  Node* b2 = after.relay->find(b->id);
  REQUIRE(a2);
  REQUIRE(b2);
  REQUIRE(a2->view);
  CHECK(a2->view->version == 7);
  CHECK(a2->view->row == 1);
  CHECK(a2->view->col == 2);
  CHECK(a2->view->neighbours == a->view->neighbours);
  CHECK(b2->view->neighbours[0].id == a->id);
  bool found = false;
  a2->mailbox.for_each([&](const Event& e) {
    if (e.kind == EventKind::Sprite) {
      CHECK(e.copy == 42);
      CHECK(e.thrower == "rb-thrower");
      found = true;
    }
  });
  CHECK(found);
}

TEST_CASE("a snapshot crosses no cluster boundary, and a place outside the protocol is refused", "[cluster]") {
  ClusteredFixture clustered;
  Node* a = clustered.relay->admit("g", "a");
  clustered.relay->place(*a, view_of(1, 0, 0, "rb-left"), true);
  REQUIRE(write_snapshot(*clustered.relay, clustered.counters, 3, clustered.path, nlohmann::json::object()));
  const std::string file = [&] {
    FILE* f = std::fopen(clustered.path.c_str(), "rb");
    std::string s(1 << 16, '\0');
    s.resize(std::fread(s.data(), 1, s.size(), f));
    std::fclose(f);
    return s;
  }();

  test::RelayFixture plain;
  std::string why;
  CHECK_FALSE(restore_snapshot(*plain.relay, plain.counters, file, why));
  CHECK(why.find("in a cluster") != std::string::npos);
  CHECK(plain.relay->node_count() == 0);

  // The same document with a neighbour id outside the protocol, re-signed.
  const size_t newline = file.find('\n');
  std::string body = file.substr(newline + 1);
  const size_t at = body.find("rb-left");
  REQUIRE(at != std::string::npos);
  body.replace(at, 7, "rb left");
  ClusteredFixture other;
  CHECK_FALSE(restore_snapshot(*other.relay, other.counters, snapshot_header(body) + body, why));
  CHECK(why.find("outside the protocol") != std::string::npos);
  CHECK(other.relay->node_count() == 0);
}

TEST_CASE("a kept copy's tail must be what the relay builds for its thrower's throw", "[cluster]") {
  uint32_t tail_at = 0;
  const std::string text =
      sprite_event_text(EventRef{"ra-t", "t"}, Direction::Up, std::string_view("s-9"), R"({"a":[1,{"b":2}]})", tail_at);
  const std::string tail = text.substr(tail_at);
  CHECK(valid_sprite_tail("ra-t", tail, 16384));
  CHECK_FALSE(valid_sprite_tail("not an id", tail, 16384));
  CHECK_FALSE(valid_sprite_tail("ra-t", tail.substr(0, tail.size() - 1), 16384));
  CHECK_FALSE(valid_sprite_tail("ra-t", R"("direction":"sideways","sprite":{}})", 16384));
  CHECK_FALSE(valid_sprite_tail("ra-t", R"("direction":"up","sprite":[1]})", 16384));
  CHECK_FALSE(valid_sprite_tail("ra-t", R"("direction":"up","sprite":{},"extra":1})", 16384));
  CHECK_FALSE(valid_sprite_tail("ra-t", tail, 8));  // over the body limit
}

// Membership: who is alive, on times the test gives (cluster/membership.h).
#include "cluster/membership.h"

#include <catch2/catch.hpp>

using sprites::cluster::Heartbeat;
using sprites::cluster::Membership;
using Heard = Membership::Heard;

namespace {

Heartbeat hb(const char* id, uint64_t inc) {
  Heartbeat h;
  h.id = id;
  h.incarnation = inc;
  h.master = std::string("http://127.0.1.1:") + id;
  h.worker = "http://127.0.1.1:1";
  return h;
}

constexpr uint64_t kTimeout = 3000;

}  // namespace

TEST_CASE("a relay heard is alive until it is silent for the timeout, then gone once", "[cluster]") {
  Membership m("self", 10, kTimeout, 0);
  REQUIRE(m.heard(hb("self", 10), 0) == Heard::Self);
  REQUIRE(m.heard(hb("a", 5), 0) == Heard::New);
  REQUIRE(m.heard(hb("a", 5), 1000) == Heard::Refreshed);
  REQUIRE(m.find("a") != nullptr);
  m.heard(hb("self", 10), 3000);
  REQUIRE(m.expire(4000).empty());  // 3000 ms since its last word: not yet
  m.heard(hb("self", 10), 4000);
  auto lost = m.expire(4001);
  REQUIRE(lost.size() == 1);
  CHECK(lost[0].id == "a");
  CHECK(m.find("a") == nullptr);
  CHECK(m.expire(4002).empty());
}

TEST_CASE("a relay declared gone stays gone: its late heartbeats are ignored, a new incarnation is new", "[cluster]") {
  Membership m("self", 10, kTimeout, 0);
  m.heard(hb("a", 5), 0);
  m.heard(hb("self", 10), 3500);
  REQUIRE(m.expire(3500).size() == 1);
  CHECK(m.heard(hb("a", 5), 3600) == Heard::Ignored);  // it was frozen, and wakes up
  CHECK(m.find("a") == nullptr);
  CHECK(m.heard(hb("a", 4), 3600) == Heard::Ignored);  // an older one
  CHECK(m.heard(hb("a", 6), 3700) == Heard::New);      // it rejoined as a new relay
  CHECK(m.find("a")->last.incarnation == 6);
}

TEST_CASE("a restart with the same relay id replaces the old incarnation, which is gone", "[cluster]") {
  Membership m("self", 10, kTimeout, 0);
  m.heard(hb("a", 5), 0);
  std::vector<Heartbeat> replaced;
  REQUIRE(m.heard(hb("a", 7), 100, &replaced) == Heard::New);
  REQUIRE(replaced.size() == 1);
  CHECK(replaced[0].incarnation == 5);
  CHECK(m.heard(hb("a", 5), 200) == Heard::Ignored);
  CHECK(m.find("a")->last.incarnation == 7);
}

TEST_CASE("another relay announcing this relay's id is not taken for this relay", "[cluster]") {
  Membership m("self", 10, kTimeout, 0);
  CHECK(m.heard(hb("self", 11), 0) == Heard::Ignored);
  CHECK(m.others().empty());
  CHECK(m.heard(hb("self", 10), 0) == Heard::Self);
}

TEST_CASE("deaf to its own heartbeats, a relay judges no one, then knows it was cut off", "[cluster]") {
  Membership m("self", 10, kTimeout, 0);
  m.heard(hb("self", 10), 0);
  m.heard(hb("a", 5), 0);
  CHECK_FALSE(m.deaf(1000));
  CHECK(m.deaf(1001));
  CHECK(m.expire(5000).empty());  // it hears no one: a's silence may be its own
  CHECK(m.find("a") != nullptr);
  REQUIRE_FALSE(m.self_cut_off(3000, 99));
  REQUIRE(m.self_cut_off(3001, 99));
  CHECK(m.incarnation() == 99);
  CHECK(m.others().empty());       // it learns the cluster again
  CHECK_FALSE(m.self_cut_off(9000, 100));  // reported once: the new incarnation was never heard
  CHECK(m.heard(hb("a", 5), 9000) == Heard::New);  // no tombstone from the blind time
  CHECK(m.heard(hb("self", 10), 9000) == Heard::Ignored);  // its old self
  CHECK(m.heard(hb("self", 99), 9000) == Heard::Self);
}

TEST_CASE("a relay never heard in its incarnation was never known, so it is never cut off", "[cluster]") {
  Membership m("self", 10, kTimeout, 0);
  CHECK_FALSE(m.self_cut_off(100000, 11));
  CHECK(m.incarnation() == 10);
}

TEST_CASE("a new incarnation after a cut-off is larger than the last even if the clock went back", "[cluster]") {
  Membership m("self", 500, kTimeout, 0);
  m.heard(hb("self", 500), 0);
  REQUIRE(m.self_cut_off(5000, 400));
  CHECK(m.incarnation() == 501);
}

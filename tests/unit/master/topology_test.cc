// Topology (the grids an owner keeps) against a model of slots: every join,
// leave and lost relay gives the places of exactly the seats whose view
// changed, each with the model's view; a rebuild from claims keeps the
// claimed slots and fills the holes as leaves would.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "master/topology.h"

using sprites::cluster::Place;
using sprites::master::ClaimedSeat;
using sprites::master::Topology;

namespace {

constexpr uint32_t kWidth = 3;

// "(row,col) left right up down", by the rules of docs/API.md "The grid".
std::string model_view(const std::vector<std::string>& slots, int i) {
  const int n = static_cast<int>(slots.size()), w = static_cast<int>(kWidth);
  const int row = i / w, col = i % w, start = row * w, len = std::min(n - start, w);
  const int height = (n - col + w - 1) / w;
  return "(" + std::to_string(row) + "," + std::to_string(col) + ") " + slots[start + (col + len - 1) % len] + " " +
         slots[start + (col + 1) % len] + " " + slots[((row + height - 1) % height) * w + col] + " " +
         slots[((row + 1) % height) * w + col];
}

std::map<std::string, std::string> model(const std::vector<std::string>& slots) {
  std::map<std::string, std::string> out;
  for (int i = 0; i < static_cast<int>(slots.size()); ++i) out[slots[i]] = model_view(slots, i);
  return out;
}

std::string seen(const Place& p) {
  std::string out = "(" + std::to_string(p.row) + "," + std::to_string(p.col) + ")";
  for (const auto& n : p.neighbours) out += " " + n.id;
  return out;
}

// The places must be exactly the changed seats (other than `skip`), each
// with its new view, and carry a version above `after`.
void check_places(const std::vector<Place>& places, const std::map<std::string, std::string>& before,
                  const std::map<std::string, std::string>& after, const std::string& skip, uint64_t& version) {
  std::map<std::string, std::string> got;
  for (const Place& p : places) {
    CHECK(got.count(p.node) == 0);
    got[p.node] = seen(p);
    CHECK(p.version > version);
  }
  for (const Place& p : places) version = std::max(version, p.version);
  std::map<std::string, std::string> expected;
  for (const auto& [id, view] : after) {
    if (id == skip) continue;
    auto was = before.find(id);
    if (was == before.end() || was->second != view) expected[id] = view;
  }
  CHECK(got == expected);
}

}  // namespace

TEST_CASE("an owner's grid follows the model through random joins and leaves", "[cluster]") {
  Topology t(kWidth);
  std::vector<std::string> slots;
  std::mt19937 random(7);
  uint64_t version = 0;
  int next = 0;
  for (int step = 0; step < 400; ++step) {
    const auto before = model(slots);
    if (slots.empty() || (slots.size() < 30 && random() % 2 == 0)) {
      const std::string id = "r" + std::to_string(next % 3) + "-n" + std::to_string(next);
      ++next;
      Place joiner;
      auto places = t.join("g", id, "name", "r" + std::to_string(next % 3), joiner);
      slots.push_back(id);
      const auto after = model(slots);
      CHECK(seen(joiner) == after.at(id));
      check_places(places, before, after, id, version);
    } else {
      const size_t hole = random() % slots.size();
      const std::string id = slots[hole];
      auto places = t.leave("g", id);
      slots[hole] = slots.back();
      slots.pop_back();
      check_places(places, before, model(slots), id, version);
    }
    CHECK(t.seat_count("g") == slots.size());
  }
}

TEST_CASE("a retried join keeps its seat, an unknown leave changes nothing, an empty group is forgotten",
          "[cluster]") {
  Topology t(kWidth);
  Place a, again;
  t.join("g", "r1-a", "a", "r1", a);
  t.join("g", "r1-b", "b", "r1", a);
  CHECK(t.join("g", "r1-a", "a", "r1", again).empty());
  CHECK(again.row == 0);
  CHECK(again.col == 0);
  CHECK(t.leave("g", "r1-zz").empty());
  CHECK(t.leave("other", "r1-a").empty());
  t.leave("g", "r1-a");
  t.leave("g", "r1-b");
  CHECK_FALSE(t.owns("g"));
}

TEST_CASE("a lost relay's seats leave every group, and its seats get no places", "[cluster]") {
  Topology t(kWidth);
  std::vector<std::string> slots;
  for (int i = 0; i < 10; ++i) {
    Place p;
    const std::string home = i % 2 == 0 ? "ra" : "rb";
    const std::string id = home + "-" + std::to_string(i);
    t.join("g", id, "n", home, p);
    slots.push_back(id);
  }
  const auto before = model(slots);
  auto changed = t.remove_home("rb");
  CHECK(t.seat_count("g") == 5);
  // What is left is a grid of the ra seats, each place sent is its final view,
  // and every seat whose view changed got one.
  std::vector<std::string> now(5);
  for (const Place& p : t.places("g")) now[p.row * kWidth + p.col] = p.node;
  const auto after = model(now);
  std::map<std::string, std::string> got;
  for (const auto& [group, p] : changed) {
    CHECK(group == "g");
    CHECK(p.node.rfind("ra-", 0) == 0);
    got[p.node] = seen(p);
  }
  for (const auto& [id, view] : after) {
    if (before.at(id) != view) CHECK(got[id] == view);
  }
  for (const auto& [id, view] : got) CHECK(after.at(id) == view);
}

TEST_CASE("a rebuild keeps claimed slots, fills holes as leaves would, and places everyone above old versions",
          "[cluster]") {
  Topology t(kWidth);
  // Slots 0..6 were held; slots 2 and 5 belonged to a lost relay.
  std::vector<ClaimedSeat> claims;
  for (uint32_t slot : {0u, 1u, 3u, 4u, 6u}) {
    claims.push_back(ClaimedSeat{"ra-" + std::to_string(slot), "n", "ra", slot, 40 + slot, true});
  }
  claims.push_back(ClaimedSeat{"rc-new", "n", "rc", 0, 0, false});  // joined, not placed yet
  auto places = t.build("g", claims);
  REQUIRE(places.size() == 6);
  for (const Place& p : places) CHECK(p.version > 46);
  // As if slot 5 left (slot 6 moves into 5), then slot 2 (slot 5 moves into
  // 2): ra-6 ends at slot 2; the unplaced one joins at the end.
  std::vector<std::string> expected = {"ra-0", "ra-1", "ra-6", "ra-3", "ra-4", "rc-new"};
  const auto views = model(expected);
  for (const Place& p : places) CHECK(seen(p) == views.at(p.node));
}

TEST_CASE("a rebuild from conflicting or hostile claims still gives one valid grid", "[cluster]") {
  Topology t(kWidth);
  std::vector<ClaimedSeat> claims = {
      {"ra-x", "n", "ra", 0, 5, true},
      {"rb-y", "n", "rb", 0, 9, true},           // the same slot, newer: keeps it
      {"rb-z", "n", "rb", 4000000000u, 1, true},  // far past any real slot: joins at the end
      {"ra-x", "n", "ra", 1, 6, true},           // the same id twice: one seat
  };
  auto places = t.build("g", claims);
  REQUIRE(places.size() == 3);
  std::vector<std::string> slots(3);
  for (const Place& p : places) slots[p.row * kWidth + p.col] = p.node;
  CHECK(slots[0] == "rb-y");
  const auto views = model(slots);
  for (const Place& p : places) CHECK(seen(p) == views.at(p.node));
}

TEST_CASE("a lost incarnation takes only its own seats: a relay restarted with the same id keeps its new ones",
          "[cluster]") {
  Topology t(kWidth);
  Place p;
  t.join("g", "ra-old1", "o", "ra", p, /*incarnation=*/5);
  t.join("g", "rb-x", "x", "rb", p, 9);
  t.join("g", "ra-old2", "o", "ra", p, 5);
  t.join("g", "ra-new", "n", "ra", p, 7);  // ra restarted as incarnation 7 and seated a node at once
  auto changed = t.remove_home("ra", 5);   // then the cluster declares incarnation 5 gone
  CHECK(t.seat_count("g") == 2);
  CHECK(t.home_of("g", "ra-new") != nullptr);
  CHECK(t.home_of("g", "rb-x") != nullptr);
  CHECK(t.home_of("g", "ra-old1") == nullptr);
  for (const auto& [group, place] : changed) CHECK(place.node.rfind("ra-old", 0) != 0);
}

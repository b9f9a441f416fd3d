// client/swarm/pacer: the three workloads' schedules, driven by explicit
// times (no loop, no clock): what fires by when, and nothing outside the window.
#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <vector>

#include "client/swarm/pacer.h"

using sprites::swarm::LoadMode;
using sprites::swarm::Pacer;

namespace {

constexpr uint64_t kMs = 1000000;

struct Recorder {
  std::vector<std::optional<size_t>> fired;
  bool accept = true;
  Pacer::Fire fire() {
    return [this](std::optional<size_t> node, uint64_t) {
      fired.push_back(node);
      return accept;
    };
  }
};

}  // namespace

TEST_CASE("interval: every node throws once per interval", "[swarm][pacer]") {
  Pacer pacer(LoadMode::Interval, 1000, 0, 0, 50, 9);
  Recorder r;
  uint64_t start = 10 * kMs;
  pacer.start(start, start + 3000 * kMs);
  pacer.tick(start - 1, r.fire());
  CHECK(r.fired.empty());  // nothing before the start
  for (uint64_t t = start; t < start + 4000 * kMs; t += 5 * kMs) pacer.tick(t, r.fire());
  REQUIRE(r.fired.size() == 150);  // 3 intervals x 50 nodes, none after the end
  std::map<size_t, int> per_node;
  for (const auto& n : r.fired) {
    REQUIRE(n.has_value());
    ++per_node[*n];
  }
  CHECK(per_node.size() == 50);
  for (const auto& [node, count] : per_node) CHECK(count == 3);
  CHECK(pacer.over(start + 3000 * kMs));
  CHECK_FALSE(pacer.over(start + 2999 * kMs));
}

TEST_CASE("interval: phases are spread over the interval", "[swarm][pacer]") {
  Pacer pacer(LoadMode::Interval, 1000, 0, 0, 1000, 4);
  Recorder r;
  pacer.start(0, 1000 * kMs);
  pacer.tick(500 * kMs, r.fire());
  // Half the interval fires about half the nodes.
  CHECK(r.fired.size() > 400);
  CHECK(r.fired.size() < 600);
}

TEST_CASE("rate: throws at the total rate, from random nodes", "[swarm][pacer]") {
  Pacer pacer(LoadMode::Rate, 0, 200, 0, 10, 1);
  Recorder r;
  pacer.start(0, 2000 * kMs);
  pacer.tick(0, r.fire());
  CHECK(r.fired.size() == 1);  // the first at the start
  pacer.tick(1000 * kMs, r.fire());
  CHECK(r.fired.size() == 201);
  pacer.tick(5000 * kMs, r.fire());  // a late tick catches up to the end, not beyond
  CHECK(r.fired.size() == 400);
  CHECK_FALSE(r.fired.back().has_value());
}

TEST_CASE("closed: a fixed number in flight, one more per answer", "[swarm][pacer]") {
  Pacer pacer(LoadMode::Closed, 0, 0, 8, 10, 1);
  Recorder r;
  pacer.start(0, 1000 * kMs);
  pacer.tick(1 * kMs, r.fire());
  CHECK(r.fired.size() == 8);
  pacer.tick(2 * kMs, r.fire());
  CHECK(r.fired.size() == 8);  // ticks add nothing while all are in flight
  pacer.on_answer(3 * kMs, r.fire());
  CHECK(r.fired.size() == 9);

  SECTION("a slot that could not fire is retried on the next tick") {
    r.accept = false;
    pacer.on_answer(4 * kMs, r.fire());
    CHECK(r.fired.size() == 10);
    r.accept = true;
    pacer.tick(5 * kMs, r.fire());
    CHECK(r.fired.size() == 11);
  }
  SECTION("nothing is sent after the end") {
    pacer.on_answer(1000 * kMs, r.fire());
    pacer.tick(1001 * kMs, r.fire());
    CHECK(r.fired.size() == 9);
  }
}

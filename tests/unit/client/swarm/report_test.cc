// client/swarm/figures + report: a child's figures survive the pipe, and the
// parent's merge counts lost and duplicated throws exactly, whichever child
// the receivers were in.
#include <catch2/catch.hpp>

#include <vector>

#include "client/swarm/figures.h"
#include "client/swarm/report.h"
#include "client/swarm/swarm_options.h"

using namespace sprites::swarm;

namespace {

ChildFigures child(uint32_t index, uint32_t procs) {
  ChildFigures f;
  f.index = index;
  f.delivered_bits.resize(procs);
  f.asked = f.joined = f.held = 10;
  return f;
}

SwarmOptions two_procs() {
  SwarmOptions o;
  std::string error;
  o.master = *sprites::client::parse_endpoint("127.0.0.1:8000", &error);
  o.worker = *sprites::client::parse_endpoint("127.0.0.1:8001", &error);
  o.nodes = 20;
  o.procs = 2;
  o.duration_ms = 2000;
  return o;
}

}  // namespace

TEST_CASE("a child's figures survive their JSON form", "[swarm][report]") {
  ChildFigures f = child(1, 2);
  f.sent = 7;
  f.accepted = 6;
  f.rejected["429 rate_limited"] = 1;
  f.join_failures["503 node_limit"] = 2;
  f.latency_ns.record(1500000);
  f.accepted_bits.test_and_set(3);
  f.delivered_bits[0].test_and_set(9);
  f.cpu_user_s = 0.25;
  auto back = ChildFigures::from_json(nlohmann::json::parse(f.to_json().dump()));
  REQUIRE(back);
  CHECK(back->index == 1);
  CHECK(back->sent == 7);
  CHECK(back->rejected.at("429 rate_limited") == 1);
  CHECK(back->join_failures.at("503 node_limit") == 2);
  CHECK(back->latency_ns.count() == 1);
  CHECK(back->accepted_bits.test(3));
  REQUIRE(back->delivered_bits.size() == 2);
  CHECK(back->delivered_bits[0].test(9));
  CHECK(back->cpu_user_s == 0.25);
  CHECK_FALSE(ChildFigures::from_json(nlohmann::json{{"index", 0}}));
}

TEST_CASE("throws delivered in another child are not lost", "[swarm][report]") {
  ChildFigures a = child(0, 2), b = child(1, 2);
  for (uint64_t s = 0; s < 10; ++s) a.accepted_bits.test_and_set(s);  // child 0 threw 0..9
  for (uint64_t s = 0; s < 5; ++s) a.delivered_bits[0].test_and_set(s);  // 0..4 landed in child 0
  for (uint64_t s = 5; s < 9; ++s) b.delivered_bits[0].test_and_set(s);  // 5..8 in child 1
  RunFacts facts;
  SECTION("one missing") {
    auto r = build_report(two_procs(), {a, b}, facts);
    CHECK(r["deliveries"]["lost"] == 1);
    CHECK(r["deliveries"]["duplicated"] == 0);
    CHECK(r["ok"] == false);
  }
  SECTION("a returned throw is not lost") {
    a.returned_bits.test_and_set(9);
    auto r = build_report(two_procs(), {a, b}, facts);
    CHECK(r["deliveries"]["lost"] == 0);
    CHECK(r["ok"] == true);
    CHECK(r["nodes"]["held"] == 20);
  }
  SECTION("a throw delivered in two children is duplicated") {
    a.returned_bits.test_and_set(9);
    b.delivered_bits[0].test_and_set(2);
    auto r = build_report(two_procs(), {a, b}, facts);
    CHECK(r["deliveries"]["duplicated"] == 1);
    CHECK(r["ok"] == false);
  }
}

TEST_CASE("the report's text and JSON carry the same figures", "[swarm][report]") {
  ChildFigures a = child(0, 1);
  a.sent = a.accepted = a.delivered = 4;
  for (uint64_t ns : {1000000u, 2000000u, 3000000u, 4000000u}) a.latency_ns.record(ns);
  SwarmOptions o = two_procs();
  o.procs = 1;
  RunFacts facts;
  facts.window_s = 2.0;
  auto r = build_report(o, {a}, facts);
  CHECK(r["throws"]["accepted_per_s"] == 2.0);
  CHECK(r["latency_ms"]["max"] == 4.0);
  CHECK(r["server"]["master_pid"].is_null());
  std::string text = render_text(r);
  CHECK(text.find("accepted 4 (2.0/s)") != std::string::npos);
  CHECK(text.find("lost 0, duplicated 0") != std::string::npos);
  CHECK(text.find("result         ok") != std::string::npos);
}

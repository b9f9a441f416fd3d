// client/swarm/swarm_options: the command line's checks and the split of the
// work over the children.
#include <catch2/catch.hpp>

#include <map>

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "client/swarm/swarm_options.h"
#include "pki/test_pki.h"

using namespace sprites::swarm;

namespace {

int parse(const std::vector<std::string>& args, SwarmOptions& out) {
  std::string program = "sprites-swarm";
  std::vector<std::string> copy = args;
  std::vector<char*> argv{program.data()};
  for (auto& a : copy) argv.push_back(a.data());
  return parse_swarm_options(static_cast<int>(argv.size()), argv.data(), out);
}

}  // namespace

TEST_CASE("durations take a unit", "[swarm][options]") {
  CHECK(parse_duration_ms("5s") == 5000u);
  CHECK(parse_duration_ms("500ms") == 500u);
  CHECK(parse_duration_ms("1.5s") == 1500u);
  CHECK(parse_duration_ms("2m") == 120000u);
  CHECK(parse_duration_ms("10") == 10000u);
  CHECK(parse_duration_ms("0") == 0u);
  CHECK_FALSE(parse_duration_ms("5 s"));
  CHECK_FALSE(parse_duration_ms("-1s"));
  CHECK_FALSE(parse_duration_ms("fast"));
}

TEST_CASE("the swarm only targets loopback addresses", "[swarm][options]") {
  SwarmOptions o;
  CHECK(parse({"--master", "10.0.0.1:8000"}, o) == 2);
  CHECK(parse({"--worker", "192.168.1.2:8001"}, o) == 2);
  CHECK(parse({"--master", "127.0.0.1:8000", "--worker", "localhost:8001"}, o) == -1);
  CHECK(parse({"--source-base", "10.0.0.2"}, o) == 2);
}

TEST_CASE("an IPv6 loopback target needs --source-base none: the source addresses are IPv4", "[swarm][options]") {
  SwarmOptions with_sources;
  CHECK(parse({"--master", "[::1]:8000", "--worker", "[::1]:8001"}, with_sources) == 2);
  SwarmOptions without;
  REQUIRE(parse({"--master", "[::1]:8000", "--worker", "http://[::1]:8001", "--source-base", "none"}, without) == -1);
  CHECK(without.master.text == "[::1]:8000");
  CHECK(make_plans(without)[0].worker == "[::1]:8001");
}

TEST_CASE("names pass the parse and are checked once resolved: loopback only, IPv4 with source addresses",
          "[swarm][options]") {
  std::string error;
  auto address = [&](const std::string& text) { return sprites::client::parse_endpoint(text, &error)->addresses[0]; };

  SwarmOptions o;
  REQUIRE(parse({"--master", "localhost:8000", "--worker", "http://localhost:8001", "--procs", "2"}, o) == -1);
  CHECK_FALSE(o.master.resolved());
  // As main() leaves them after resolving: ::1 first, as glibc ranks it.
  o.masters[0].addresses = {address("[::1]:8000"), address("127.0.0.1:8000")};
  o.workers[0].addresses = {address("[::1]:8001"), address("127.0.0.1:8001")};
  REQUIRE(check_swarm_targets(o) == -1);
  REQUIRE(o.master.addresses.size() == 1);  // the source addresses cannot reach ::1
  CHECK(o.master.addresses[0].family() == AF_INET);
  auto plans = make_plans(o);
  CHECK(plans[1].master == "127.0.0.1:8000");
  CHECK(plans[1].master_host == "localhost:8000");
  CHECK(plans[1].worker == "127.0.0.1:8001");
  CHECK(plans[1].worker_host == "localhost:8001");
  auto back = plan_from_json(to_json(plans[1]));
  REQUIRE(back);
  CHECK(back->master_host == "localhost:8000");

  SwarmOptions elsewhere;
  REQUIRE(parse({"--master", "relay.example.com:8000"}, elsewhere) == -1);
  elsewhere.masters[0].addresses = {address("127.0.0.1:8000"), address("192.0.2.1:8000")};
  CHECK(check_swarm_targets(elsewhere) == 2);

  SwarmOptions only_six;
  REQUIRE(parse({"--master", "ip6-localhost:8000"}, only_six) == -1);
  only_six.masters[0].addresses = {address("[::1]:8000")};
  CHECK(check_swarm_targets(only_six) == 2);

  SwarmOptions six_no_sources;
  REQUIRE(parse({"--master", "ip6-localhost:8000", "--source-base", "none"}, six_no_sources) == -1);
  six_no_sources.masters[0].addresses = {address("[::1]:8000")};
  CHECK(check_swarm_targets(six_no_sources) == -1);
  CHECK(six_no_sources.master.addresses.size() == 1);
}

TEST_CASE("https targets: the plans keep the scheme, the name as written and the CA", "[swarm][options][tls]") {
  sprites::test::TestPki pki;
  std::string error;
  auto address = [&](const std::string& text) { return sprites::client::parse_endpoint(text, &error)->addresses[0]; };
  SwarmOptions o;
  REQUIRE(parse({"--master", "https://localhost:8443", "--worker", "https://127.0.0.1:8444", "--ca", pki.ca_file(),
                 "--procs", "1"},
                o) == -1);
  CHECK(o.tls);
  o.masters[0].addresses = {address("127.0.0.1:8443")};
  REQUIRE(check_swarm_targets(o) == -1);
  auto plans = make_plans(o);
  CHECK(plans[0].master == "https://127.0.0.1:8443");
  CHECK(plans[0].master_host == "localhost:8443");
  CHECK(plans[0].worker == "https://127.0.0.1:8444");
  CHECK(plans[0].ca_file == pki.ca_file());

  auto back = plan_from_json(to_json(plans[0]));
  REQUIRE(back);
  CHECK(back->ca_file == pki.ca_file());
  auto master = planned_endpoint(back->master, back->master_host, error);
  REQUIRE(master);
  CHECK(master->tls);
  CHECK(master->host == "localhost");  // what the certificate is checked against
  CHECK(master->text == "localhost:8443");
  REQUIRE(master->resolved());
  CHECK(sprites::client::address_text(master->addresses[0]) == "127.0.0.1:8443");
  auto worker = planned_endpoint(back->worker, back->worker_host, error);
  REQUIRE(worker);
  CHECK(worker->tls);
  CHECK(worker->host == "127.0.0.1");

  auto plain = planned_endpoint("127.0.0.1:8000", "localhost:8000", error);
  REQUIRE(plain);
  CHECK_FALSE(plain->tls);
}

TEST_CASE("a --ca that does not load is a usage error, with https targets or without", "[swarm][options][tls]") {
  SwarmOptions plain;
  CHECK(parse({"--ca", "/nonexistent/ca.pem"}, plain) == 2);
  SwarmOptions https;
  CHECK(parse({"--master", "https://127.0.0.1:8443", "--ca", "/nonexistent/ca.pem"}, https) == 2);
  SwarmOptions no_tls;
  REQUIRE(parse({"--master", "127.0.0.1:8000"}, no_tls) == -1);
  CHECK_FALSE(no_tls.tls);  // nothing loaded when nothing needs it
  SwarmOptions system_store;
  REQUIRE(parse({"--master", "https://127.0.0.1:8443"}, system_store) == -1);
  CHECK(system_store.tls);
}

TEST_CASE("load modes exclude each other", "[swarm][options]") {
  SwarmOptions o;
  CHECK(parse({"--rate", "100", "--closed", "4"}, o) == 2);
  SwarmOptions closed;
  REQUIRE(parse({"--closed", "64"}, closed) == -1);
  CHECK(closed.mode == LoadMode::Closed);
  SwarmOptions interval;
  REQUIRE(parse({"--interval", "250ms"}, interval) == -1);
  CHECK(interval.mode == LoadMode::Interval);
  CHECK(interval.interval_ms == 250);
}

TEST_CASE("nodes are split over processes with their own source addresses", "[swarm][options]") {
  SwarmOptions o;
  CHECK(parse({"--no-such-flag"}, o) == 2);
  REQUIRE(parse({"--nodes", "20001", "--closed", "10"}, o) == -1);
  const auto cpus = static_cast<uint32_t>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  CHECK(o.procs == std::max(3u, cpus));  // auto: ceil(20001 / 8000), at least one per CPU
  std::vector<ChildPlan> plans = make_plans(o);
  REQUIRE(plans.size() == o.procs);
  uint64_t nodes = 0, closed = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    CHECK(plans[i].first_node == nodes);
    nodes += plans[i].nodes;
    closed += plans[i].closed;
    CHECK(plans[i].source == "127.0.0." + std::to_string(2 + i));
    auto back = plan_from_json(to_json(plans[i]));
    REQUIRE(back);
    CHECK(back->nodes == plans[i].nodes);
    CHECK(back->source == plans[i].source);
  }
  CHECK(nodes == 20001);
  CHECK(closed == 10);
  CHECK(plans[0].nodes - plans[2].nodes <= 1);

  SwarmOptions small;
  REQUIRE(parse({"--nodes", "100", "--closed", "10"}, small) == -1);
  CHECK(small.procs == std::min(100u, cpus));  // one child per CPU even when one would hold them all

  SwarmOptions few;
  REQUIRE(parse({"--nodes", "200", "--procs", "2", "--source-base", "none"}, few) == -1);
  CHECK(make_plans(few)[1].source.empty());
  SwarmOptions crowded;
  CHECK(parse({"--nodes", "30000", "--procs", "1"}, crowded) == 2);  // 60000 sockets in one process
}

TEST_CASE("a cluster's relays each get the same number of children and their own master and worker",
          "[swarm][options]") {
  SwarmOptions o;
  REQUIRE(parse({"--master", "127.0.1.1:8000,127.0.1.2:8000,127.0.1.3:8000", "--worker",
                 "127.0.1.1:8001,127.0.1.2:8001,127.0.1.3:8001", "--nodes", "30000", "--procs", "4"},
                o) == -1);
  CHECK(o.procs == 6);  // 4 rounded up to a multiple of 3 relays
  auto plans = make_plans(o);
  REQUIRE(plans.size() == 6);
  std::map<std::string, uint64_t> nodes_at;
  for (const auto& p : plans) {
    CHECK(p.master.substr(0, 9) == p.worker.substr(0, 9));  // the same relay's pair
    nodes_at[p.master] += p.nodes;
  }
  CHECK(nodes_at == std::map<std::string, uint64_t>{
                        {"127.0.1.1:8000", 10000}, {"127.0.1.2:8000", 10000}, {"127.0.1.3:8000", 10000}});
  CHECK(o.master.text == "127.0.1.1:8000");

  SwarmOptions bad;
  CHECK(parse({"--master", "127.0.1.1:8000,127.0.1.2:8000", "--worker", "127.0.1.1:8001"}, bad) == 2);
  CHECK(parse({"--master", "127.0.1.1:8000,10.0.0.1:8000", "--worker", "127.0.1.1:8001,127.0.1.2:8001"}, bad) == 2);
  CHECK(parse({"--master", "127.0.1.1:8000,", "--worker", "127.0.1.1:8001,127.0.1.2:8001"}, bad) == 2);
}

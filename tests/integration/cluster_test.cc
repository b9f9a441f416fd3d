// Clusters (docs/API.md "Clusters"): relays on one real nats-server, started
// by the test on a port the system chose. What a client sees: the relays know
// each other, a node's home answers for it (others redirect), throws are
// accepted at any relay, a relay killed or cut off is gone, and work goes on
// locally while NATS is away.
#include <signal.h>

#include <catch2/catch.hpp>

#include <memory>
#include <set>

#include "support/cluster_tools.h"
#include "support/http_client.h"
#include "support/nats_server.h"
#include "support/process_tools.h"
#include "support/program.h"
#include "support/relay_process.h"

using namespace sprites::test;

namespace {

constexpr int kRelayTimeoutMs = 1500;

std::unique_ptr<RelayProcess> clustered_relay(const NatsServer& nats, const std::string& id,
                                              std::vector<std::string> more = {}) {
  RelayOptions options;
  options.workers = 1;
  options.args = {"--nats", nats.url(), "--cluster", "test", "--relay-id", id, "--relay-timeout-ms",
                  std::to_string(kRelayTimeoutMs)};
  options.args.insert(options.args.end(), more.begin(), more.end());
  return std::make_unique<RelayProcess>(options);
}

std::string url_of(std::uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

}  // namespace

TEST_CASE("relays on one NATS know each other: ready line, /v1/cluster, stats", "[cluster]") {
  NatsServer nats;
  auto a = clustered_relay(nats, "ra");
  auto b = clustered_relay(nats, "rb");
  auto c = clustered_relay(nats, "rc");
  CHECK(a->relay_id() == "ra");
  CHECK(c->relay_id() == "rc");
  wait_for_cluster({a.get(), b.get(), c.get()}, {"ra", "rb", "rc"});

  join(b->master_port());
  Json cluster = cluster_of(a->master_port());
  CHECK(cluster["name"] == "test");
  CHECK(cluster["relay"] == "ra");
  for (const auto& r : cluster["relays"]) {
    RelayProcess* relay = r["id"] == "ra" ? a.get() : r["id"] == "rb" ? b.get() : c.get();
    CHECK(r["master"] == url_of(relay->master_port()));
    CHECK(r["worker"] == url_of(relay->worker_port()));
    CHECK(r["last_seen_ms"].get<int64_t>() >= 0);
    CHECK(r["last_seen_ms"].get<int64_t>() < kRelayTimeoutMs);
  }
  // rb's node count reaches ra with rb's next heartbeat.
  REQUIRE(retry_until(
      [&] {
        const Json seen = cluster_of(a->master_port());
        for (const auto& r : seen["relays"]) {
          if (r["id"] == "rb") return r["nodes"] == 1;
        }
        return false;
      },
      std::chrono::seconds(10)));

  Json s = stats(c->master_port());
  CHECK(s["cluster"]["name"] == "test");
  CHECK(s["cluster"]["relay"] == "rc");
  CHECK(s["cluster"]["relays"] == 3);
  CHECK(s["cluster"]["nats_connected"] == true);
  CHECK(stats_when(c->master_port(), [](Json& j) { return j["cluster"]["settled"] == true; })["cluster"]["settled"] ==
        true);

  // /metrics carries the cluster's figures and this relay's NATS traffic.
  Response m = Connection(c->master_port()).request("GET", "/metrics");
  REQUIRE_STATUS(m, 200);
  auto value = [&](const std::string& name) {
    const size_t at = m.body.find("\n" + name + " ");
    REQUIRE(at != std::string::npos);
    return std::stod(m.body.substr(at + name.size() + 2));
  };
  CHECK(value("sprites_cluster_relays") == 3);
  CHECK(value("sprites_nats_connected") == 1);
  CHECK(value("sprites_nats_out_messages_total") > 0);
  CHECK(value("sprites_nats_in_bytes_total") > 0);
  CHECK(value("sprites_nats_rtt_seconds") > 0);
  CHECK(value("sprites_nats_rtt_seconds") < 1);
  CHECK(m.body.find("# TYPE sprites_nats_reconnects_total counter") != std::string::npos);
}

TEST_CASE("the join answer names the relay, and ids name their home", "[cluster]") {
  NatsServer nats;
  auto a = clustered_relay(nats, "ra");
  Node n = join(a->master_port());
  CHECK(n.joined["relay"] == Json({{"id", "ra"}, {"master", url_of(a->master_port())},
                                   {"worker", url_of(a->worker_port())}}));
  CHECK(n.id.rfind("ra-", 0) == 0);
  CHECK(n.id.size() <= 32);
}

TEST_CASE("a relay without a cluster names itself in the join answer and alone in /v1/cluster", "[cluster]") {
  RelayProcess relay(RelayOptions{{"--relay-id", "solo"}, {}, SPRITES_BIN_DIR, 1, std::nullopt});
  CHECK(relay.relay_id().empty());  // no ` relay=` without --nats
  Node n = join(relay.master_port());
  CHECK(n.joined["relay"] == Json({{"id", "solo"}, {"master", url_of(relay.master_port())},
                                   {"worker", url_of(relay.worker_port())}}));
  Json cluster = cluster_of(relay.master_port());
  CHECK(cluster["relay"] == "solo");
  REQUIRE(cluster["relays"].size() == 1);
  CHECK(cluster["relays"][0]["id"] == "solo");
  CHECK(cluster["relays"][0]["nodes"] == 1);
  CHECK_FALSE(stats(relay.master_port()).contains("cluster"));
}

TEST_CASE("polls, node info and leave at another relay are 307 to the home, 401 first, dead homes 404",
          "[cluster]") {
  NatsServer nats;
  auto a = clustered_relay(nats, "ra");
  auto b = clustered_relay(nats, "rb");
  wait_for_cluster({a.get(), b.get()}, {"ra", "rb"});
  Node n = join(b->master_port());
  const std::string events = events_target(n.id, 0, 0);
  Connection at_a(a->master_port());

  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", events}, {"GET", "/v1/nodes/" + n.id}, {"DELETE", "/v1/nodes/" + n.id}}) {
    INFO(method << " " << target);
    // The token is not checked at a relay that does not hold the node.
    Response r = at_a.request(method, target, bearer("not-the-token"));
    REQUIRE_STATUS(r, 307);
    CHECK(r.header("Location") == url_of(b->master_port()) + target);
    CHECK(r.header("Content-Type") == "application/json");
    check_error(at_a.request(method, target), 401, "unauthorized");
  }
  // Followed, the redirect works: the home answers with the node's events.
  Response home = poll(b->master_port(), n, 0, 0);
  REQUIRE_STATUS(home, 200);

  // An id whose home is no live relay, and a plain id, are unknown.
  check_error(at_a.request("GET", events_target("rz-AbCdEfGhIj", 0, 0), bearer(n.token)), 404, "unknown_node");
  check_error(at_a.request("GET", events_target("AbCdEfGhIj", 0, 0), bearer(n.token)), 404, "unknown_node");
  // The home answers 404 for an id of its own it does not hold.
  check_error(Connection(b->master_port()).request("GET", "/v1/nodes/rb-AbCdEfGh", bearer(n.token)), 404,
              "unknown_node");
}

TEST_CASE("a throw is accepted at any relay's worker port and decided by the thrower's home", "[cluster]") {
  NatsServer nats;
  auto a = clustered_relay(nats, "ra");
  auto b = clustered_relay(nats, "rb");
  auto c = clustered_relay(nats, "rc");
  wait_for_cluster({a.get(), b.get(), c.get()}, {"ra", "rb", "rc"});
  Node thrower = join(b->master_port(), "g", "thrower");
  Node other = join(b->master_port(), "g", "other");

  std::set<std::string> ids;
  int n = 0;
  for (RelayProcess* at : {a.get(), b.get(), c.get(), a.get(), c.get()}) {
    const std::string id = "s-" + std::to_string(n++);
    Response r = throw_sprite(at->worker_port(), thrower, "right", R"({"n":)" + std::to_string(n) + "}", id);
    REQUIRE_STATUS(r, 202);
    CHECK(r.json()["to"]["node"] == other.id);
    ids.insert(id);
  }
  Inbox inbox(b->master_port(), other);
  std::vector<Json> sprites = of_type(inbox.drain(), "sprite");
  std::multiset<std::string> got;
  for (const Json& e : sprites) got.insert(e["id"].get<std::string>());
  CHECK(got == std::multiset<std::string>(ids.begin(), ids.end()));  // each once

  // The home checks the token and the node, wherever the throw came in.
  check_error(throw_sprite(a->worker_port(), thrower.id, "wrong-token", "right", "{}"), 401, "unauthorized");
  check_error(throw_sprite(c->worker_port(), "rb-NoSuchNod", thrower.token, "right", "{}"), 404, "unknown_node");
  check_error(throw_sprite(c->worker_port(), "rq-NoSuchNod", thrower.token, "right", "{}"), 404, "unknown_node");

  // Accepted throws are counted once, by the thrower's home.
  Json sb = stats_when(b->master_port(), [](Json& s) { return s["sprites"]["accepted"] == 5; });
  CHECK(sb["sprites"]["accepted"] == 5);
  CHECK(stats(a->master_port())["sprites"]["accepted"] == 0);
  CHECK(stats(c->master_port())["sprites"]["accepted"] == 0);
}

TEST_CASE("a relay killed with SIGKILL is gone within the relay timeout plus a second, its ids then 404",
          "[cluster]") {
  NatsServer nats;
  auto a = clustered_relay(nats, "ra");
  auto b = clustered_relay(nats, "rb");
  wait_for_cluster({a.get(), b.get()}, {"ra", "rb"});
  Node lost = join(b->master_port());
  kill_relay(*b);
  const auto killed_at = std::chrono::steady_clock::now();
  wait_for_cluster({a.get()}, {"ra"});
  CHECK(std::chrono::steady_clock::now() - killed_at < std::chrono::milliseconds(kRelayTimeoutMs + 1000 + 500));
  check_error(throw_sprite(a->worker_port(), lost, "left", "{}"), 404, "unknown_node");
  check_error(Connection(a->master_port()).request("GET", "/v1/nodes/" + lost.id, bearer(lost.token)), 404,
              "unknown_node");
}

TEST_CASE("with NATS away, cross-relay work is 503 cluster_unavailable, local work goes on, then it recovers",
          "[cluster]") {
  NatsServer nats;
  // Node TTLs far beyond the test: the only way to lose a node is the cluster.
  auto a = clustered_relay(nats, "ra", {"--node-ttl-ms", "600000"});
  auto b = clustered_relay(nats, "rb", {"--node-ttl-ms", "600000"});
  wait_for_cluster({a.get(), b.get()}, {"ra", "rb"});
  Node at_b = join(b->master_port(), "g", "b1");
  Node local = join(a->master_port(), "g", "a1");

  nats.stop();
  // Within 3 s a cross-relay throw is refused with the cluster's code.
  Response refused;
  REQUIRE(retry_until(
      [&] {
        refused = throw_sprite(a->worker_port(), at_b, "left", "{}");
        return refused.status == 503;
      },
      std::chrono::seconds(3)));
  check_error(refused, 503, "cluster_unavailable");
  CHECK(refused.header("Retry-After") == "1");
  // Local work goes on: a relay's own nodes join, throw and poll.
  Node local2 = join(a->master_port(), "g", "a2");
  REQUIRE_STATUS(throw_sprite(a->worker_port(), local, "right", R"({"k":1})"), 202);
  Inbox inbox(a->master_port(), local2);
  CHECK(of_type(inbox.drain(), "sprite").size() == 1);

  // Cut off past the relay timeout, each relay knows the others declared it
  // gone: it forgets the cluster (and drops the nodes the others knew).
  wait_for_cluster({a.get()}, {"ra"});
  wait_for_cluster({b.get()}, {"rb"});
  check_error(poll(b->master_port(), at_b, 0, 0), 404, "unknown_node");

  nats.start();
  wait_for_cluster({a.get(), b.get()}, {"ra", "rb"});
  check_error(throw_sprite(a->worker_port(), at_b, "left", "{}"), 404, "unknown_node");
  Node fresh = join(b->master_port(), "g", "b2");
  REQUIRE_STATUS(throw_sprite(a->worker_port(), fresh, "left", "{}"), 202);
}

TEST_CASE("sprites-swarm spreads its nodes over a cluster's relays, every accepted throw delivered once",
          "[cluster]") {
  NatsServer nats;
  auto a = clustered_relay(nats, "ra");
  auto b = clustered_relay(nats, "rb");
  wait_for_cluster({a.get(), b.get()}, {"ra", "rb"});
  const std::string masters =
      "127.0.0.1:" + std::to_string(a->master_port()) + ",127.0.0.1:" + std::to_string(b->master_port());
  const std::string workers =
      "127.0.0.1:" + std::to_string(a->worker_port()) + ",127.0.0.1:" + std::to_string(b->worker_port());
  Program::Finished run =
      run_program({SPRITES_SWARM, "--master", masters, "--worker", workers, "--json", "--nodes", "120", "--procs", "2",
                   "--groups", "1", "--interval", "1s", "--warmup", "1s", "--duration", "3s", "--quiet"},
                  {}, std::chrono::seconds(120));
  INFO("stderr:\n" << run.err << "\nstdout:\n" << run.out);
  REQUIRE(run.exited);
  REQUIRE(run.code == 0);
  Json r = Json::parse(run.out);
  CHECK(r["nodes"]["held"] == 120);
  CHECK(r["throws"]["sent"].get<uint64_t>() > 0);
  CHECK(r["throws"]["accepted"] == r["throws"]["sent"]);
  CHECK(r["deliveries"]["lost"] == 0);
  CHECK(r["deliveries"]["duplicated"] == 0);
  CHECK(r["deliveries"]["count"] == r["throws"]["accepted"]);
  // Half the nodes joined at each relay, and sprites crossed between them.
  Json sa = stats(a->master_port()), sb = stats(b->master_port());
  CHECK(sa["sprites"]["accepted"].get<uint64_t>() > 0);
  CHECK(sb["sprites"]["accepted"].get<uint64_t>() > 0);
  // (The relays also count the warm-up's throws, which the report leaves out.)
  CHECK(sa["sprites"]["accepted"].get<uint64_t>() + sb["sprites"]["accepted"].get<uint64_t>() >=
        r["throws"]["accepted"].get<uint64_t>());
  CHECK(sa["cluster"]["kept_copies"].get<uint64_t>() + sb["cluster"]["kept_copies"].get<uint64_t>() <
        r["throws"]["accepted"].get<uint64_t>());
}

TEST_CASE("sprites-cli follows a 307 to the node's home to listen and to leave", "[cluster]") {
  NatsServer nats;
  auto a = clustered_relay(nats, "ra");
  auto b = clustered_relay(nats, "rb");
  wait_for_cluster({a.get(), b.get()}, {"ra", "rb"});
  auto cli_at = [](RelayProcess& relay, std::vector<std::string> args) {
    std::vector<std::string> argv = {SPRITES_CLI, "--master", "127.0.0.1:" + std::to_string(relay.master_port()),
                                     "--worker", "127.0.0.1:" + std::to_string(relay.worker_port())};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };
  Node thrower = join(b->master_port(), "g", "thrower");
  Node listener_node = join(b->master_port(), "g", "listener");
  // Pointed at relay a, the listener is sent to b and prints what arrives there.
  Program listener(cli_at(*a, {"listen", "--node", listener_node.id, "--count", "1"}),
                   {{"SPRITES_TOKEN", listener_node.token}});
  REQUIRE_STATUS(throw_sprite(a->worker_port(), thrower, "right", R"({"via":"a"})", "s-1"), 202);
  Program::Finished heard = listener.finish();
  INFO("stderr: " << heard.err);
  REQUIRE(heard.exited);
  CHECK(heard.code == 0);
  Json event = Json::parse(heard.out);
  CHECK(event["id"] == "s-1");
  CHECK(event["sprite"] == Json({{"via", "a"}}));
  // Leave, also through relay a.
  Program::Finished left = run_program(cli_at(*a, {"leave", "--node", listener_node.id}),
                                       {{"SPRITES_TOKEN", listener_node.token}});
  INFO("stderr: " << left.err);
  CHECK(left.code == 0);
  check_error(poll(b->master_port(), listener_node, 0, 0), 404, "unknown_node");
}

TEST_CASE("sprites-cli follows a 307 to a home on ::1, whose public URL is http://[::1]:port", "[cluster]") {
  NatsServer nats;
  auto a = clustered_relay(nats, "ra");
  auto b = clustered_relay(nats, "rb", {"--host", "::1"});
  REQUIRE(b->host() == "[::1]");
  wait_for_cluster({a.get()}, {"ra", "rb"});  // b is not on 127.0.0.1, where the test's client looks
  const std::string at_a = "127.0.0.1:" + std::to_string(a->master_port());
  const std::string at_b = "[::1]:" + std::to_string(b->master_port());
  auto cli = [](const std::string& master, std::vector<std::string> args) {
    std::vector<std::string> argv = {SPRITES_CLI, "--master", master};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };
  auto joined = [](const Program::Finished& run) {
    INFO("stderr: " << run.err);
    REQUIRE(run.code == 0);
    return Json::parse(run.out);
  };
  Json thrower = joined(run_program(cli(at_b, {"join", "--group", "g6", "--name", "thrower"})));
  Json listener_node = joined(run_program(cli(at_b, {"join", "--group", "g6", "--name", "listener"})));
  Node from{thrower["node"].get<std::string>(), thrower["token"].get<std::string>(), "thrower", "g6", thrower};
  // Pointed at relay a, the listener is sent to b's IPv6 URL.
  Program listener(cli(at_a, {"listen", "--node", listener_node["node"].get<std::string>(), "--count", "1"}),
                   {{"SPRITES_TOKEN", listener_node["token"].get<std::string>()}});
  REQUIRE_STATUS(throw_sprite(a->worker_port(), from, "right", R"({"via":"a"})", "s-6"), 202);
  Program::Finished heard = listener.finish();
  INFO("stderr: " << heard.err);
  REQUIRE(heard.exited);
  CHECK(heard.code == 0);
  CHECK(Json::parse(heard.out)["id"] == "s-6");
  Program::Finished left = run_program(cli(at_a, {"leave", "--node", listener_node["node"].get<std::string>()}),
                                       {{"SPRITES_TOKEN", listener_node["token"].get<std::string>()}});
  INFO("stderr: " << left.err);
  CHECK(left.code == 0);
  Program::Finished gone = run_program(cli(at_b, {"leave", "--node", listener_node["node"].get<std::string>()}),
                                       {{"SPRITES_TOKEN", listener_node["token"].get<std::string>()}});
  CHECK(gone.code == 1);
  CHECK(gone.err.find("404 unknown_node") != std::string::npos);
}

TEST_CASE("a throw whose thrower's home does not answer is 503 relay_unavailable, before the home is declared gone",
          "[cluster]") {
  NatsServer nats;
  // The worker waits 3 s for its master, the home is declared gone after 5 s:
  // the forwarding relay answers in between (300 ms before the worker would).
  const std::vector<std::string> slow = {"--master-timeout-ms", "3000", "--relay-timeout-ms", "5000"};
  auto a = clustered_relay(nats, "ra", slow);
  auto b = clustered_relay(nats, "rb", slow);
  wait_for_cluster({a.get(), b.get()}, {"ra", "rb"});
  Node n = join(b->master_port(), "g", "n");
  Response r;
  {
    Frozen home(b->master_pid());
    r = throw_sprite(a->worker_port(), n, "left", "{}");
  }
  check_error(r, 503, "relay_unavailable");
  CHECK(r.header("Retry-After") == "1");
  // Thawed in time, the home answers again.
  REQUIRE(retry_until([&] { return throw_sprite(a->worker_port(), n, "left", "{}").status == 202; },
                      std::chrono::seconds(10)));
}

// What the relay says about itself: /v1/stats, /metrics, /healthz on both
// ports, and the promise that tokens never show in stats, events or logs
// (docs/API.md "GET /v1/stats", "GET /metrics", "GET /healthz", "Authentication").
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <stdlib.h>
#include <unistd.h>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

const std::vector<std::string> kMetrics{
    "sprites_nodes",           "sprites_groups",          "sprites_connections",     "sprites_polls_pending",
    "sprites_workers_connected", "sprites_accepted_total", "sprites_delivered_total", "sprites_returned_total",
    "sprites_dropped_total",   "sprites_rejected_total",  "sprites_uptime_seconds",  "sprites_rss_bytes",
};

// name -> value of every sample line without labels.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name;
    std::string value;
    fields >> name >> value;
    if (name.find('{') != std::string::npos) continue;
    out[name] = std::stod(value);
  }
  return out;
}

TEST_CASE("stats report nodes, groups, connections, polls, workers, sprites, uptime and rss") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "one", "a");
  join(port, "one", "b");
  join(port, "", "c");
  Inbox a_inbox(port, a);
  REQUIRE(a_inbox.drain().size() == 1);  // b's arrival
  Connection held(port);
  send_poll(held, a, a_inbox.cursor(), 20000);

  Json s = stats_when(port, [](Json& j) { return j["polls_pending"] == 1 && j["workers"]["connected"] == 2; });
  INFO(s.dump());
  REQUIRE(s.is_object());
  CHECK(s["nodes"] == 3);
  CHECK(s["groups"] == 2);
  CHECK(s["polls_pending"] == 1);
  REQUIRE(s["connections"].is_number_unsigned());
  CHECK(s["connections"].get<std::uint64_t>() >= 2);  // the held poll's and this one's
  REQUIRE(s["workers"].is_object());
  CHECK(s["workers"]["connected"] == 2);
  REQUIRE(s["sprites"].is_object());
  for (const char* counter : {"accepted", "delivered", "returned", "dropped", "rejected"}) {
    INFO(counter);
    CHECK(s["sprites"][counter].is_number_unsigned());
  }
  CHECK(s["uptime_s"].is_number());
  CHECK(s["uptime_s"].get<double>() >= 0);
  REQUIRE(s["rss_bytes"].is_number_unsigned());
  CHECK(s["rss_bytes"].get<std::uint64_t>() > 1024 * 1024);
  CHECK(s.dump().find(a.token) == std::string::npos);

  REQUIRE_STATUS(leave(port, a), 204);
  check_error(held.read_response(), 404, "unknown_node");
  Json after = stats_when(port, [](Json& j) { return j["polls_pending"] == 0; });
  CHECK(after["nodes"] == 2);
  CHECK(after["polls_pending"] == 0);
}

TEST_CASE("stats count open master-port connections") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  std::vector<Connection> extra;
  for (int i = 0; i < 3; ++i) {
    extra.emplace_back(port);
    REQUIRE_STATUS(extra.back().request("GET", "/healthz"), 200);
  }
  // Ours (3) plus the one asking; more only while someone else is connected.
  Json with = stats_when(port, [](Json& j) { return j["connections"] >= 4; });
  std::uint64_t open = with["connections"].get<std::uint64_t>();
  CHECK(open >= 4);
  extra.clear();
  Json without = stats_when(port, [&](Json& j) { return j["connections"].get<std::uint64_t>() + 3 <= open; });
  CHECK(without["connections"].get<std::uint64_t>() + 3 <= open);
}

TEST_CASE("metrics expose every sprites_ figure with HELP and TYPE") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "up", "{}"), 202);
  Response r = Connection(port).request("GET", "/metrics");
  REQUIRE_STATUS(r, 200);
  CHECK(r.header("Content-Type").rfind("text/plain", 0) == 0);
  INFO(r.body);
  for (const std::string& name : kMetrics) {
    INFO(name);
    CHECK(r.body.find("# HELP " + name + " ") != std::string::npos);
    const bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    const bool counter = r.body.find("# TYPE " + name + " counter\n") != std::string::npos;
    const bool gauge = r.body.find("# TYPE " + name + " gauge\n") != std::string::npos;
    if (total) {
      CHECK(counter);
    } else if (name == "sprites_uptime_seconds") {
      CHECK((gauge || counter));
    } else {
      CHECK(gauge);
    }
  }
  std::map<std::string, double> values = samples(r.body);
  for (const std::string& name : kMetrics) {
    INFO(name);
    CHECK(values.count(name) == 1);
  }
  CHECK(values["sprites_nodes"] == 1);
  CHECK(values["sprites_groups"] == 1);
  CHECK(values["sprites_accepted_total"] == 1);
  CHECK(values["sprites_workers_connected"] == 2);
  CHECK(values["sprites_rss_bytes"] > 1024 * 1024);
  CHECK(r.body.find(a.token) == std::string::npos);
}

TEST_CASE("metrics have a histogram of acceptance to delivery and the build's version") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  REQUIRE(poll(port, a, 0, 0).status == 200);  // the join's neighbors event, out of the way
  for (int i = 0; i < 3; ++i) REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "up", "{}"), 202);
  Response got = poll(port, a, 0, 0);
  REQUIRE(got.json()["events"].size() == 3);
  const uint64_t cursor = got.json()["cursor"].get<uint64_t>();
  Response before = Connection(port).request("GET", "/metrics");
  CHECK(samples(before.body)["sprites_delivery_seconds_count"] == 0);  // read, not yet acknowledged
  REQUIRE(poll(port, a, cursor, 0).status == 200);  // acknowledges the three

  Response r = Connection(port).request("GET", "/metrics");
  INFO(r.body);
  CHECK(r.body.find("# TYPE sprites_delivery_seconds histogram\n") != std::string::npos);
  std::map<std::string, double> values = samples(r.body);
  CHECK(values["sprites_delivery_seconds_count"] == 3);
  CHECK(values["sprites_delivery_seconds_sum"] >= 0);
  // Buckets are cumulative and end with +Inf holding them all.
  double last = 0;
  size_t buckets = 0;
  std::istringstream lines(r.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("sprites_delivery_seconds_bucket{le=", 0) != 0) continue;
    const double value = std::stod(line.substr(line.rfind(' ') + 1));
    CHECK(value >= last);
    last = value;
    ++buckets;
    if (line.find("le=\"+Inf\"") != std::string::npos) CHECK(value == 3);
  }
  CHECK(buckets == 16);
  CHECK(r.body.find("# TYPE sprites_build_info gauge\nsprites_build_info{version=\"0.") != std::string::npos);
}

TEST_CASE("metrics count rejected throws by code, from workers and master, and show each worker's figures") {
  RelayProcess relay;  // two workers
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  const std::string path = "/v1/nodes/" + a.id + "/sprites";
  // A connection each: an error answered before the body closes its connection.
  check_error(Connection(relay.worker_port()).request("POST", path, {{"Authorization", "Bearer " + a.token}}, "not json"),
              400, "invalid_json");
  check_error(Connection(relay.worker_port()).request("POST", path, {}, R"({"direction":"up","sprite":{}})"), 401,
              "unauthorized");
  check_error(Connection(relay.worker_port())
                  .request("POST", "/v1/nodes/nobody/sprites", {{"Authorization", "Bearer " + a.token}},
                           R"({"direction":"up","sprite":{}})"),
              404, "unknown_node");
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "up", "{}"), 202);

  // The workers' counts reach the master by IPC, the figures every second.
  std::map<std::string, double> by_code;
  std::map<std::string, double> throws_by_worker;
  std::string body;
  const bool seen = retry_until(
      [&] {
        body = Connection(port).request("GET", "/metrics").body;
        by_code.clear();
        throws_by_worker.clear();
        std::istringstream lines(body);
        for (std::string line; std::getline(lines, line);) {
          const std::string code_prefix = "sprites_throws_rejected_total{code=\"";
          if (line.rfind(code_prefix, 0) == 0) {
            by_code[line.substr(code_prefix.size(), line.find('"', code_prefix.size()) - code_prefix.size())] =
                std::stod(line.substr(line.rfind(' ') + 1));
          }
          const std::string worker_prefix = "sprites_worker_throws_total{worker=\"";
          if (line.rfind(worker_prefix, 0) == 0) {
            throws_by_worker[line.substr(worker_prefix.size(), line.find('"', worker_prefix.size()) -
                                                                   worker_prefix.size())] =
                std::stod(line.substr(line.rfind(' ') + 1));
          }
        }
        double total = 0;
        for (const auto& [worker, n] : throws_by_worker) total += n;
        return by_code["invalid_json"] == 1 && by_code["unauthorized"] == 1 && by_code["unknown_node"] == 1 &&
               throws_by_worker.size() == 2 && total == 4;
      },
      std::chrono::seconds(20));
  INFO(body);
  CHECK(seen);
  CHECK(by_code.size() == 9);
  CHECK(by_code["mailbox_full"] == 0);
  CHECK(samples(body)["sprites_rejected_total"] == 3);  // the v1 name, the sum
  std::vector<pid_t> workers = relay.processes_named("sprites-worker");
  for (pid_t pid : workers) CHECK(throws_by_worker.count(std::to_string(pid)) == 1);
  CHECK(body.find("# TYPE sprites_worker_connections gauge\n") != std::string::npos);
  CHECK(body.find("# TYPE sprites_worker_ipc_queued_bytes gauge\n") != std::string::npos);
}

TEST_CASE("healthz answers ok on the master and the worker port") {
  RelayProcess relay;
  for (std::uint16_t port : {relay.master_port(), relay.worker_port()}) {
    Response r = Connection(port).request("GET", "/healthz");
    REQUIRE_STATUS(r, 200);
    std::string body = r.body;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    CHECK(body == "ok");
  }
}

TEST_CASE("tokens never appear in logs, stats or events") {
  char dir_template[] = "/tmp/sprites-log-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string log_path = std::string(dir_template) + "/relay.log";
  std::vector<std::string> tokens;
  std::string seen;  // every answer body the clients got
  {
    RelayOptions options;
    // a and b must get through the requests below within the ttl of their join.
    options.args = {"--node-ttl-ms", "1500", "--poll-timeout-ms", "2000"};
    options.stderr_path = log_path;
    RelayProcess relay(options);
    std::uint16_t port = relay.master_port();
    Node a = join(port, "g", "a");
    Node b = join(port, "g", "b");
    Node c = join(port, "g", "c");  // will expire
    tokens = {a.token, b.token, c.token};
    // Successes, refusals with right and wrong tokens, a return, an expiry.
    seen += throw_sprite(relay.worker_port(), a, "right", "{}", "x").body;
    seen += throw_sprite(relay.worker_port(), a.id, b.token, "right", "{}").body;
    seen += throw_sprite(relay.worker_port(), "nosuchnode", a.token, "right", "{}").body;
    seen += Connection(port).request("GET", events_target(a.id, 0, 0), bearer(c.token)).body;
    seen += Connection(port).request("GET", events_target(a.id, 0, 0), {{"Authorization", "Basic " + a.token}}).body;
    seen += node_info(port, b).body;
    seen += leave(port, b).body;
    Inbox a_inbox(port, a);
    a_inbox.wait_for([&](const Json& e) {
      seen += e.dump();
      // a alone again: c expired after b left.
      return e.value("type", "") == "neighbors" && e.at("neighbors").at("left").at("node") == a.id;
    });
    seen += stats(port).dump();
    seen += Connection(port).request("GET", "/metrics").body;
    CHECK(relay.stop().clean());
  }
  std::string logs;
  if (FILE* log = std::fopen(log_path.c_str(), "rb")) {
    char chunk[4096];
    for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, log)) > 0;) logs.append(chunk, n);
    std::fclose(log);
  }
  CHECK_FALSE(logs.empty());  // the capture worked: the relay does log
  ::unlink(log_path.c_str());
  ::rmdir(dir_template);
  for (const std::string& token : tokens) {
    CHECK(seen.find(token) == std::string::npos);
    CHECK(logs.find(token) == std::string::npos);
  }
}

}  // namespace
}  // namespace sprites::test

// Many nodes polling while many throwers throw: every sprite answered 202 is
// delivered exactly once (after dropping repeated seqs) to exactly the node its
// 202 named, and the counters agree (docs/API.md "long-poll", "throw").
//
// Catch2's assertions are not thread-safe, so the threads only record what
// they saw (and any error as text); the test thread asserts after joining them.
#include <atomic>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

constexpr int kNodes = 40;
constexpr int kThrowers = 8;
constexpr int kThrowsPerThrower = 250;
constexpr std::chrono::seconds kGuard{120};

struct Accepted {
  std::string id;
  std::string from;
  std::string to;
  std::string direction;
};

struct Received {
  std::string id;
  std::string from;
  std::string direction;
};

struct PollerResult {
  std::vector<Received> sprites;  // one per distinct seq
  std::string error;
};

struct ThrowerResult {
  std::vector<Accepted> accepted;
  int retries = 0;
  std::string error;
};

void run_poller(std::uint16_t port, const Node& node, const std::atomic<bool>& throwing_done,
                const std::vector<int>& expected, std::size_t index, PollerResult& out) {
  try {
    Connection c(port);
    std::uint64_t cursor = 0;
    std::uint64_t highest = 0;
    auto deadline = std::chrono::steady_clock::now() + kGuard;
    for (;;) {
      if (std::chrono::steady_clock::now() > deadline) {
        out.error = "node " + node.id + ": guard expired with " + std::to_string(out.sprites.size()) + " sprites";
        return;
      }
      bool done = throwing_done.load(std::memory_order_acquire);
      if (done && static_cast<int>(out.sprites.size()) >= expected[index]) {
        // One last poll acknowledges everything returned so far.
        Response ack = c.request("GET", events_target(node.id, cursor, 0), bearer(node.token));
        if (ack.status != 200) out.error = "final ack: " + ack.summary();
        return;
      }
      Response r = c.request("GET", events_target(node.id, cursor, 500), bearer(node.token));
      if (r.status != 200) {
        out.error = "poll: " + r.summary();
        return;
      }
      Json j = r.json();
      std::uint64_t previous = 0;
      for (const Json& e : j.at("events")) {
        std::uint64_t seq = e.at("seq").get<std::uint64_t>();
        if (seq <= previous) {
          out.error = "events out of order in " + r.summary();
          return;
        }
        previous = seq;
        if (seq <= highest) continue;  // seen before: at-least-once
        highest = seq;
        if (e.at("type") != "sprite") continue;
        out.sprites.push_back(Received{e.at("id").get<std::string>(), e.at("from").at("node").get<std::string>(),
                                       e.at("direction").get<std::string>()});
      }
      cursor = j.at("cursor").get<std::uint64_t>();
    }
  } catch (const std::exception& e) {
    out.error = "node " + node.id + ": " + e.what();
  }
}

void run_thrower(std::uint16_t worker_port, const std::vector<Node>& nodes, int thrower, ThrowerResult& out) {
  static const char* kDirections[4] = {"left", "right", "up", "down"};
  try {
    std::mt19937 random(static_cast<unsigned>(1000 + thrower));
    std::uniform_int_distribution<std::size_t> pick_node(0, nodes.size() - 1);
    std::uniform_int_distribution<int> pick_direction(0, 3);
    Connection c(worker_port);
    auto deadline = std::chrono::steady_clock::now() + kGuard;
    for (int i = 0; i < kThrowsPerThrower; ++i) {
      const Node& from = nodes[pick_node(random)];
      const char* direction = kDirections[pick_direction(random)];
      const std::string id = "t" + std::to_string(thrower) + "-" + std::to_string(i);
      const std::string body = throw_body(direction, R"({"n":)" + std::to_string(i) + "}", id);
      for (;;) {
        if (std::chrono::steady_clock::now() > deadline) {
          out.error = "thrower " + std::to_string(thrower) + ": guard expired";
          return;
        }
        Response r = c.request("POST", "/v1/nodes/" + from.id + "/sprites", bearer(from.token), body);
        if (r.status == 202) {
          out.accepted.push_back(Accepted{id, from.id, r.json().at("to").at("node").get<std::string>(), direction});
          break;
        }
        if (r.status == 429 || r.status == 503) {
          ++out.retries;
          if (r.header("Connection") == "close") c = Connection(worker_port);
          continue;
        }
        out.error = "throw " + id + ": " + r.summary();
        return;
      }
    }
  } catch (const std::exception& e) {
    out.error = "thrower " + std::to_string(thrower) + ": " + e.what();
  }
}

TEST_CASE("every accepted sprite is delivered exactly once to the node its 202 named, under load") {
  RelayProcess relay({"--rate-limit", "0"});
  std::uint16_t port = relay.master_port();
  std::vector<Node> nodes;
  std::map<std::string, std::size_t> index_of;
  for (int i = 0; i < kNodes; ++i) {
    nodes.push_back(join(port, "load", "n" + std::to_string(i)));
    index_of[nodes.back().id] = nodes.size() - 1;
  }

  std::atomic<bool> throwing_done{false};
  std::vector<int> expected(kNodes, 0);
  std::vector<PollerResult> polled(kNodes);
  std::vector<ThrowerResult> thrown(kThrowers);
  std::vector<std::thread> pollers;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    pollers.emplace_back(run_poller, port, std::cref(nodes[i]), std::cref(throwing_done), std::cref(expected), i,
                         std::ref(polled[i]));
  }
  std::vector<std::thread> throwers;
  for (int t = 0; t < kThrowers; ++t) {
    throwers.emplace_back(run_thrower, relay.worker_port(), std::cref(nodes), t, std::ref(thrown[static_cast<std::size_t>(t)]));
  }
  for (std::thread& t : throwers) t.join();

  std::map<std::string, Accepted> accepted;
  for (const ThrowerResult& t : thrown) {
    CHECK(t.error.empty());
    INFO(t.error);
    for (const Accepted& a : t.accepted) {
      auto to = index_of.find(a.to);
      if (to == index_of.end()) {
        FAIL_CHECK("202 named a node that never joined: " << a.to);
        continue;
      }
      ++expected[to->second];
      accepted.emplace(a.id, a);
    }
  }
  throwing_done.store(true, std::memory_order_release);
  for (std::thread& t : pollers) t.join();

  for (const PollerResult& p : polled) {
    INFO(p.error);
    CHECK(p.error.empty());
  }
  CHECK(accepted.size() == static_cast<std::size_t>(kThrowers * kThrowsPerThrower));

  std::map<std::string, int> deliveries;
  std::size_t misdelivered = 0;
  std::size_t unknown = 0;
  for (std::size_t n = 0; n < polled.size(); ++n) {
    for (const Received& r : polled[n].sprites) {
      ++deliveries[r.id];
      auto it = accepted.find(r.id);
      if (it == accepted.end()) {
        ++unknown;
        continue;
      }
      if (it->second.to != nodes[n].id || it->second.from != r.from || it->second.direction != r.direction) {
        ++misdelivered;
      }
    }
  }
  std::size_t duplicated = 0;
  std::size_t lost = 0;
  for (const auto& [id, a] : accepted) {
    auto it = deliveries.find(id);
    if (it == deliveries.end()) ++lost;
    else if (it->second > 1) ++duplicated;
  }
  CHECK(lost == 0);
  CHECK(duplicated == 0);
  CHECK(misdelivered == 0);
  CHECK(unknown == 0);

  const std::size_t total = accepted.size();
  Json s = stats_when(port, [&](Json& j) {
    return j["sprites"]["accepted"] == total && j["sprites"]["delivered"] == total;
  });
  CHECK(s["sprites"]["accepted"] == total);
  CHECK(s["sprites"]["delivered"] == total);
  CHECK(s["sprites"]["returned"] == 0);
  CHECK(s["sprites"]["dropped"] == 0);
  CHECK(s["nodes"] == kNodes);
}

}  // namespace
}  // namespace sprites::test

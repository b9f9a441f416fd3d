// A worker killed (SIGKILL) while throws are in flight: the
// supervisor restarts it, clients that lose their connection reconnect and
// retry, and every throw answered 202 reaches its receiver; after dedup by seq
// nothing is delivered twice except a retry of a throw whose first answer was
// lost with the dead worker (the client cannot know whether that one counted).
//
// Threads only record; the test thread asserts after joining them.
#include <signal.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

constexpr int kNodes = 8;
constexpr int kThrowers = 4;
constexpr int kThrowsEach = 300;

struct ThrowerLog {
  std::map<std::string, std::string> accepted;  // id -> receiver
  std::set<std::string> ambiguous;              // ids retried after a lost connection
  std::string error;
};

void throw_all(std::uint16_t port, const std::vector<Node>& nodes, int thrower, std::atomic<int>& accepted_total,
               ThrowerLog& log) {
  static const char* kDirections[4] = {"left", "right", "up", "down"};
  std::mt19937 random(static_cast<unsigned>(77 + thrower));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::optional<Connection> c;
  for (int i = 0; i < kThrowsEach; ++i) {
    const Node& from = nodes[random() % nodes.size()];
    const std::string id = "k" + std::to_string(thrower) + "-" + std::to_string(i);
    const std::string body = throw_body(kDirections[random() % 4], "{}", id);
    while (true) {
      if (std::chrono::steady_clock::now() > deadline) {
        log.error = "guard expired at " + id;
        return;
      }
      try {
        if (!c) c.emplace(port);
        Response r = c->request("POST", "/v1/nodes/" + from.id + "/sprites", bearer(from.token), body);
        if (r.status == 202) {
          log.accepted[id] = r.json().at("to").at("node").get<std::string>();
          accepted_total.fetch_add(1);
          break;
        }
        if (r.status != 503) {
          log.error = "throw " + id + ": " + r.summary();
          return;
        }
        if (r.header("Connection") == "close") c.reset();
      } catch (const std::exception&) {
        // The worker died under this connection: reconnect and retry.
        log.ambiguous.insert(id);
        c.reset();
      }
    }
  }
}

TEST_CASE("a worker killed while throws are in flight loses no accepted sprite") {
  RelayProcess relay({"--rate-limit", "0", "--mailbox-limit", "100000"});
  std::uint16_t port = relay.master_port();
  std::vector<Node> nodes;
  for (int i = 0; i < kNodes; ++i) nodes.push_back(join(port, "g", "n" + std::to_string(i)));
  std::vector<pid_t> workers = relay.processes_named("sprites-worker");
  REQUIRE(workers.size() == 2);

  std::atomic<int> accepted_total{0};
  std::vector<ThrowerLog> logs(kThrowers);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThrowers; ++t) {
    threads.emplace_back(throw_all, relay.worker_port(), std::cref(nodes), t, std::ref(accepted_total),
                         std::ref(logs[t]));
  }
  // Kill a worker once throws are flowing (the throwers finish whatever happens).
  retry_until([&] { return accepted_total.load() >= kThrowers * kThrowsEach / 4; }, std::chrono::seconds(60));
  REQUIRE(::kill(workers[0], SIGKILL) == 0);
  for (std::thread& t : threads) t.join();

  std::map<std::string, std::string> accepted;
  std::set<std::string> ambiguous;
  for (const ThrowerLog& log : logs) {
    INFO(log.error);
    CHECK(log.error.empty());
    accepted.insert(log.accepted.begin(), log.accepted.end());
    ambiguous.insert(log.ambiguous.begin(), log.ambiguous.end());
  }
  CHECK(accepted.size() == static_cast<size_t>(kThrowers * kThrowsEach));

  // Every mailbox holds what was accepted for it (a 202 comes only after that).
  std::map<std::string, int> deliveries;
  std::map<std::string, std::string> delivered_to;
  for (const Node& n : nodes) {
    Inbox inbox(port, n);
    for (const Json& e : of_type(inbox.drain(), "sprite")) {
      std::string id = e.at("id").get<std::string>();
      ++deliveries[id];
      delivered_to[id] = n.id;
    }
  }
  int missing = 0, wrong_node = 0, unexplained_twice = 0;
  for (const auto& [id, to] : accepted) {
    if (deliveries[id] == 0) ++missing;
    if (deliveries[id] > 0 && delivered_to[id] != to && !ambiguous.count(id)) ++wrong_node;
    if (deliveries[id] > 1 && !ambiguous.count(id)) ++unexplained_twice;
  }
  CHECK(missing == 0);
  CHECK(wrong_node == 0);
  CHECK(unexplained_twice == 0);
  Json s = stats_when(port, [](Json& j) { return j["workers"]["connected"] == 2; }, std::chrono::seconds(30));
  CHECK(s["workers"]["connected"] == 2);
  std::vector<pid_t> now = relay.processes_named("sprites-worker");
  CHECK(std::find(now.begin(), now.end(), workers[0]) == now.end());
}

}  // namespace
}  // namespace sprites::test

// A master that stops answering (SIGSTOP here; a stuck loop alike) must not
// hang the throws or fill the workers' memory: a throw it has not
// acknowledged within --master-timeout-ms gets 503 master_unavailable, the
// worker's /healthz turns 503 until the master answers again, what a worker
// holds for it is bounded, and a throw answered 503 is not delivered when the
// master wakes up.
#include <signal.h>

#include <set>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/process_tools.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

std::set<std::string> sprite_ids(const std::vector<Json>& events) {
  std::set<std::string> ids;
  for (const Json& e : of_type(events, "sprite")) ids.insert(e.value("id", ""));
  return ids;
}

TEST_CASE("a throw to a stopped master gets 503 and is not delivered when the master wakes up") {
  RelayOptions options;
  options.workers = 1;
  options.args = {"--master-timeout-ms", "300"};
  RelayProcess relay(options);
  Node a = join(relay.master_port(), "g", "a");
  Node b = join(relay.master_port(), "g", "b");
  Inbox inbox(relay.master_port(), b);
  {
    Frozen frozen(relay.master_pid());
    Response r = throw_sprite(relay.worker_port(), a, "right", "{}", "while-stopped");
    check_error(r, 503, "master_unavailable");
    CHECK(r.header("Retry-After") == "1");
    Response health;
    CHECK(retry_until(
        [&] {
          health = Connection(relay.worker_port()).request("GET", "/healthz");
          return health.status == 503;
        },
        std::chrono::seconds(20)));
    // Unhealthy: throws are refused at once, without waiting.
    check_error(throw_sprite(relay.worker_port(), a, "right", "{}", "refused-at-once"), 503, "master_unavailable");
  }
  // Awake: the worker hears from the master again and throws go through.
  Response after;
  REQUIRE(retry_until(
      [&] {
        after = throw_sprite(relay.worker_port(), a, "right", "{}", "after");
        return after.status == 202;
      },
      std::chrono::seconds(20)));
  CHECK_STATUS(Connection(relay.worker_port()).request("GET", "/healthz"), 200);
  // Throws are handled in order, so "after" comes after the stale one.
  Json got = inbox.wait_for([](const Json& e) { return e.value("id", "") == "after"; });
  std::vector<Json> rest = inbox.drain();
  rest.push_back(got);
  CHECK(sprite_ids(rest) == std::set<std::string>{"after"});
}

TEST_CASE("a worker holds a bounded amount for a stopped master and answers every throw") {
  RelayOptions options;
  options.workers = 1;
  options.args = {"--master-timeout-ms", "60000", "--max-body-bytes", "65536", "--rate-limit", "0",
                  "--mailbox-limit", "100000"};
  options.env.push_back(measurable_memory_env());
  RelayProcess relay(options);
  Node a = join(relay.master_port(), "g", "a");
  Node b = join(relay.master_port(), "g", "b");
  std::vector<pid_t> workers = relay.processes_named("sprites-worker");
  REQUIRE(workers.size() == 1);
  const std::uint64_t rss_before = rss_bytes(workers[0]);
  const std::uint64_t read_before = bytes_read(workers[0]);
  std::uint64_t sent = 0;
  const std::string sprite = R"({"pad":")" + std::string(60000, 'x') + R"("})";
  constexpr int kConnections = 40;
  constexpr int kPerConnection = 25;  // 1,000 throws of 60 KB: 60 MB if all were held
  std::vector<Connection> connections;
  std::vector<int> answers(2, 0);  // [0]: 202, [1]: 503
  std::set<std::string> accepted_ids;
  {
    Frozen frozen(relay.master_pid());
    for (int c = 0; c < kConnections; ++c) {
      connections.emplace_back(relay.worker_port());
      std::string batch;
      for (int i = 0; i < kPerConnection; ++i) {
        const std::string body = throw_body("right", sprite, "t" + std::to_string(c) + "-" + std::to_string(i));
        batch += "POST /v1/nodes/" + a.id + "/sprites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a.token +
                 "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      }
      connections.back().send_raw(batch);
      sent += batch.size();
    }
    // Every throw has reached the worker once it has read all those bytes.
    REQUIRE(retry_until([&] { return bytes_read(workers[0]) - read_before >= sent; }, std::chrono::seconds(30)));
    const std::uint64_t rss_held = rss_bytes(workers[0]);
    INFO("worker RSS before " << rss_before << ", while the master is stopped " << rss_held);
    CHECK(rss_held < rss_before + 32u * 1024 * 1024);
  }
  for (int c = 0; c < kConnections; ++c) {
    for (int i = 0; i < kPerConnection; ++i) {
      Response r = connections[static_cast<size_t>(c)].read_response();
      REQUIRE((r.status == 202 || r.status == 503));
      ++answers[r.status == 202 ? 0 : 1];
      if (r.status == 202) accepted_ids.insert("t" + std::to_string(c) + "-" + std::to_string(i));
    }
  }
  CHECK(answers[0] + answers[1] == kConnections * kPerConnection);
  CHECK(answers[1] > 0);  // some were refused at once instead of being held
  CHECK(answers[0] > 0);  // and what was held went through once the master woke
  Inbox inbox(relay.master_port(), b);
  CHECK(sprite_ids(inbox.drain()) == accepted_ids);
}

}  // namespace
}  // namespace sprites::test

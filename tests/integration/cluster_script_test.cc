// deploy/sprites-cluster: NATS and relays on one machine with one command.
// It prints NATS's URL and each relay's ready line, the relays form one
// cluster, and SIGTERM stops every process of it with status 0.
#include <signal.h>

#include <catch2/catch.hpp>

#include <regex>
#include <set>

#include "support/child_process.h"
#include "support/http_client.h"

using namespace sprites::test;

TEST_CASE("deploy/sprites-cluster starts NATS and the relays as one cluster, and stops them all", "[cluster]") {
  ChildProcess::Spec spec;
  spec.argv = {SPRITES_CLUSTER_SCRIPT, "--relays", "2", "--nats-port", "0", "--bin-dir", SPRITES_BIN_DIR, "--",
               "--host", "127.0.0.1", "--master-port", "0", "--worker-port", "0", "--workers", "1"};
  ChildProcess cluster(spec);
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  bool timed_out = false;
  auto nats = cluster.read_line(deadline, &timed_out);
  REQUIRE(nats);
  CHECK(std::regex_match(*nats, std::regex(R"(nats nats://127\.0\.0\.1:[0-9]+)")));
  std::vector<std::uint16_t> masters;
  std::set<std::string> ids;
  static const std::regex kReady(R"(ready master=127\.0\.0\.1:([0-9]+) worker=127\.0\.0\.1:[0-9]+ workers=1 relay=(r[12]))");
  for (int i = 0; i < 2; ++i) {
    auto line = cluster.read_line(deadline, &timed_out);
    REQUIRE(line);
    std::smatch m;
    INFO(*line);
    REQUIRE(std::regex_match(*line, m, kReady));
    masters.push_back(static_cast<std::uint16_t>(std::stoi(m[1])));
    ids.insert(m[2]);
  }
  CHECK(ids == std::set<std::string>{"r1", "r2"});
  for (std::uint16_t port : masters) {
    REQUIRE(retry_until(
        [&] {
          const Json c = Connection(port).request("GET", "/v1/cluster").json();
          return c["relays"].size() == 2;
        },
        std::chrono::seconds(10)));
  }
  ::kill(cluster.pid(), SIGTERM);
  auto status = cluster.wait_until(Clock::now() + std::chrono::seconds(60));
  REQUIRE(status);
  CHECK(status->clean());
  for (std::uint16_t port : masters) CHECK(connection_refused(port));
}

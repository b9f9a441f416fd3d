// See cluster_tools.h.
#include "support/cluster_tools.h"

#include <signal.h>

#include <catch2/catch.hpp>

namespace sprites::test {

Json cluster_of(std::uint16_t master_port) {
  Connection c(master_port);
  Response r = c.request("GET", "/v1/cluster");
  REQUIRE_STATUS(r, 200);
  return r.json();
}

std::set<std::string> relay_ids(const Json& cluster) {
  std::set<std::string> ids;
  for (const auto& r : cluster["relays"]) ids.insert(r["id"].get<std::string>());
  return ids;
}

void wait_for_cluster(const std::vector<RelayProcess*>& relays, const std::set<std::string>& ids,
                      std::chrono::milliseconds guard) {
  for (RelayProcess* relay : relays) {
    Json last;
    bool agreed = retry_until(
        [&] {
          last = cluster_of(relay->master_port());
          return relay_ids(last) == ids;
        },
        guard);
    INFO("relay " << relay->relay_id() << " sees " << last.dump());
    REQUIRE(agreed);
  }
}

void kill_relay(RelayProcess& relay) {
  std::vector<pid_t> pids = relay.processes_named("sprites-master");
  for (pid_t p : relay.processes_named("sprites-worker")) pids.push_back(p);
  pids.push_back(relay.pid());
  for (pid_t p : pids) ::kill(p, SIGKILL);
  relay.stop();  // reaps
}

}  // namespace sprites::test

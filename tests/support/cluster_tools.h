// What the cluster tests do to whole relays: read who a relay sees in its
// cluster, wait until relays agree on it, and kill a relay at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {

// GET /v1/cluster; requires 200.
Json cluster_of(std::uint16_t master_port);
// The ids of the relays a /v1/cluster answer lists.
std::set<std::string> relay_ids(const Json& cluster);
// Until every relay lists exactly `ids` (heartbeats travel every 250 ms); a
// failed check, naming what the relay saw, after `guard`.
void wait_for_cluster(const std::vector<RelayProcess*>& relays, const std::set<std::string>& ids,
                      std::chrono::milliseconds guard = std::chrono::seconds(20));
// SIGKILL of the supervisor, its master and its workers at once: the relay
// vanishes without a word, as with a host that dies. Then reaps it.
void kill_relay(RelayProcess& relay);

}  // namespace sprites::test

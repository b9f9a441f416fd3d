// RelayIdentity: who this relay is to clients and to the other relays of its
// cluster (docs/API.md "Clusters"): its id, the public URLs of its two ports,
// and the cluster it belongs to (none without --nats). The join answer hands
// it out as `relay`, so a client knows its home and where to throw, with or
// without a cluster.
#pragma once

#include <string>

namespace sprites::master {

struct RelayIdentity {
  std::string id;
  std::string master_url;  // http://host:port
  std::string worker_url;
  std::string cluster;     // empty: not clustered
  bool clustered() const { return !cluster.empty(); }
};

}  // namespace sprites::master

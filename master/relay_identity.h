// RelayIdentity: who this relay is to clients and to the other relays of its
// cluster (docs/API.md "Clusters"): its id, the public URLs of its two ports,
// and the cluster it belongs to (none without --nats). The join answer hands
// it out as `relay`, so a client knows its home and where to throw, with or
// without a cluster.
#pragma once

#include <string>
#include <string_view>

#include "common/http_response.h"

namespace sprites::master {

struct RelayIdentity {
  std::string id;
  std::string master_url;  // http://host:port
  std::string worker_url;
  std::string cluster;     // empty: not clustered
  bool clustered() const { return !cluster.empty(); }
};

// `{"id":..,"master":..,"worker":..` of a relay (the caller closes the
// object): the join answer's `relay` and each entry of /v1/cluster.
inline void append_relay_object(std::string& out, std::string_view id, std::string_view master,
                                std::string_view worker) {
  out.append("{\"id\":");
  http::append_json_string(out, id);
  out.append(",\"master\":");
  http::append_json_string(out, master);
  out.append(",\"worker\":");
  http::append_json_string(out, worker);
}

}  // namespace sprites::master

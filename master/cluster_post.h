// ClusterPost: what the two halves of a relay's cluster work (GroupOwner,
// the grids it keeps; ClusterHome, the nodes it holds) need from the link
// between relays (ClusterLink): who this relay is, who is alive, who owns a
// group, and a way to send a frame to a relay, this one included (a frame
// to itself never leaves the process, so a group this relay owns works
// without NATS). Frames sent in one loop turn leave together, one NATS
// message per relay. So both halves are unit-testable with a fake post.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/wire.h"

namespace sprites::master {

// A throw waiting on another relay is answered 503 relay_unavailable this
// long before its worker would give up on it (--master-timeout-ms), so the
// client hears the cluster's code, not the worker's master_unavailable.
inline constexpr uint64_t kAnswerMarginMs = 300;

class ClusterPost {
 public:
  virtual ~ClusterPost() = default;
  virtual const std::string& self() const = 0;
  // This relay's incarnation (cluster/membership.h), sent with joins and
  // claims so that owners remove a lost incarnation's seats only.
  virtual uint64_t incarnation() const = 0;
  // False when the frame cannot leave (NATS is away): the caller answers 503.
  virtual bool post(const std::string& relay, cluster::WireType type, uint32_t id, std::string_view body) = 0;
  // The live relay whose rendezvous weight for the group is highest.
  virtual std::string owner_of(std::string_view group) const = 0;
  // The live relays, this one included.
  virtual std::vector<std::string> live_relays() const = 0;
  virtual bool reachable() const = 0;
  // False until this relay has heard itself and had time to hear every live
  // relay (a few heartbeats): before that, owner_of() may name itself for
  // groups another relay keeps. Owners and homes hold their cluster work
  // until then (GroupOwner::settle, ClusterHome::settle).
  virtual bool settled() const = 0;
  virtual uint64_t now_ms() const = 0;
};

}  // namespace sprites::master

// GroupOwner: this relay as the keeper of some groups' grids (docs/cluster.md
// "Owners"). The owner of a group is the live relay of highest rendezvous
// weight for its name (ClusterPost::owner_of), so every relay finds it
// without asking; when the live relays change, some groups change owner.
//
//  - A join or leave from a node's home is applied to the group's Topology,
//    and the new places of the seats whose view changed go to their homes
//    (one Place message per home). A join or leave is answered once every
//    home has acknowledged its places, so that a 201 or 204 means, as on one
//    relay, that every neighbour's `neighbors` event is in its mailbox.
//  - A group this relay owns but does not hold (it just became the owner,
//    or the group is new) is built first: a Census asks every live relay to
//    claim its nodes of the group, and the grid is rebuilt from the claims
//    (Topology::build) once all have answered or a second has passed. Joins
//    and leaves that arrive meanwhile wait for it.
//  - A lost relay's seats leave every grid this relay owns.
//  - A group whose owner is now another relay is forgotten here.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/wire.h"
#include "master/cluster_post.h"
#include "master/topology.h"

namespace sprites::master {

class GroupOwner {
 public:
  static constexpr uint64_t kCensusMs = 1000;
  static constexpr uint64_t kPlaceAckMs = 1000;

  GroupOwner(ClusterPost& post, uint32_t grid_width);

  // Before ClusterPost::settled(), joins, leaves and claims wait here;
  // settle() takes them in arrival order.
  void settle();
  void on_join(const std::string& from, uint32_t id, const cluster::JoinMessage& m);
  void on_leave(const std::string& from, uint32_t id, const cluster::LeaveMessage& m);
  void on_claim(const std::string& from, const cluster::ClaimMessage& m);
  void on_place_ack(const std::string& from, uint32_t id);
  // A relay's incarnation is gone: the seats it (or an older one) made leave.
  void relay_lost(const std::string& relay, uint64_t incarnation);
  // The live relays changed: groups now owned by another relay are dropped.
  void membership_changed();
  void tick();
  // Cut off: everything this relay kept is void.
  void clear();

  size_t groups_held() const { return topology_.groups().size(); }
  const Topology& topology() const { return topology_; }

 private:
  struct PendingJoin {
    std::string requester;
    uint32_t request_id = 0;
    std::string group;
    std::string node;
    bool leave = false;           // a leave: answered LeaveResult
    std::function<void()> then;   // a rebuild's barrier: run this instead of answering
    std::set<uint32_t> awaiting;  // Place message ids not yet acknowledged
    uint64_t deadline_ms = 0;
  };
  // A group being built: claims come in, then (built) its places go out,
  // and the joins and leaves queued meanwhile run once every home has
  // acknowledged them.
  struct Census {
    std::set<std::string> awaiting;
    std::vector<ClaimedSeat> claims;
    std::vector<std::function<void()>> queued;
    uint64_t deadline_ms = 0;
    bool built = false;
  };

  bool mine(const std::string& group) const { return post_.owner_of(group) == post_.self(); }
  // Runs `op` now if the group is built, else once its census ends.
  void when_built(const std::string& group, std::function<void()> op);
  void start_census(const std::string& group);
  void finish_census(const std::string& group);
  void release(const std::string& group);
  void join_now(const std::string& from, uint32_t id, const cluster::JoinMessage& m);
  // Sends places (grouped by home); their message ids join `pending`, if any.
  void send_places(const std::string& group, const std::vector<cluster::Place>& places, PendingJoin* pending);
  void answer_join(PendingJoin& p);
  void wait_for_acks(std::shared_ptr<PendingJoin> p);

  ClusterPost& post_;
  Topology topology_;
  std::map<std::string, Census> census_;
  std::unordered_map<uint32_t, std::shared_ptr<PendingJoin>> by_place_id_;
  std::vector<std::shared_ptr<PendingJoin>> pending_;
  uint32_t next_place_id_ = 1;
  std::vector<std::function<void()>> unsettled_;
};

}  // namespace sprites::master

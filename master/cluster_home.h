// ClusterHome: this relay as the home of its nodes in a cluster
// (docs/cluster.md "Homes"). The Relay holds the nodes; ClusterHome is what
// they need from the rest of the cluster.
//
//  - Joins: the node is admitted here, its group's owner seats it and
//    answers its place; the 201 waits for that answer (503
//    cluster_unavailable after 3 s, the node then forgotten).
//  - Leaves: the owner hears of every node that leaves; a leave is repeated
//    every tick until an owner has taken it.
//  - Places from owners are applied to the nodes (Relay::place) and
//    acknowledged; a Census is answered with a Claim of this relay's nodes of
//    the group, and so is every change of a group's owner.
//  - Throws whose receiver lives elsewhere: the sprite is delivered to the
//    receiver's home; the 202 waits for its answer. A copy stays here until
//    that home reports the sprite read (Acked) or unread when its receiver
//    left (Returned: the copy goes back to the thrower), or the home is lost
//    (every copy it held goes back). So nothing accepted vanishes while its
//    thrower lives. The copies are bounded by the receivers' mailboxes.
//  - As a receiver's home: Deliver puts the sprite into a mailbox, and
//    reads and leaves are reported to the throwers' homes, batched per tick
//    (250 ms).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/wire.h"
#include "ipc/messages.h"
#include "master/cluster_post.h"
#include "master/relay.h"

namespace sprites::master {

class ClusterHome final : public ClusterHooks {
 public:
  static constexpr uint64_t kJoinTimeoutMs = 3000;

  ClusterHome(ClusterPost& post, Relay& relay);

  // A join: `done` gets the placed node, or nullptr with a status and code.
  using JoinDone = std::function<void(Node* node, uint16_t status, std::string_view code)>;
  void join(std::string_view group, std::string_view name, JoinDone done);
  // A DELETE: the node leaves now; `done` runs once its group's owner has
  // moved the grid and every neighbour's home has its event (or after
  // kJoinTimeoutMs: the leave is repeated until an owner takes it).
  void leave(Node* node, std::function<void()> done);
  // A throw whose thrower lives here; `done` gets the worker's answer.
  using ThrowDone = std::function<void(uint16_t status, std::string_view body)>;
  void throw_here(const ipc::ThrowMessage& t, ThrowDone done);

  void on_join_result(const std::string& from, uint32_t id, const cluster::JoinResultMessage& m);
  void on_leave_result(const std::string& from, uint32_t id, const cluster::LeaveResultMessage& m);
  void on_place(const std::string& from, uint32_t id, const cluster::PlaceMessage& m);
  void on_census(const std::string& from, const cluster::CensusMessage& m);
  void on_deliver(const std::string& from, uint32_t id, const cluster::DeliverMessage& m);
  void on_deliver_result(const std::string& from, uint32_t id, const cluster::DeliverResultMessage& m);
  void on_acked(const std::string& from, const cluster::CopiesMessage& m);
  void on_returned(const std::string& from, const cluster::CopiesMessage& m);

  // The live relays changed: a group whose owner changed hears our claim.
  void owners_changed();
  // ClusterPost::settled() became true: joins held until now go to their
  // owners, and every group's owner hears our claim.
  void settle();
  // After NATS was away: every group's owner hears our claim again (and
  // sends back the places we may have missed).
  void claim_all();
  void relay_lost(const std::string& relay);
  void tick();
  // Sends the reads and leaves of sprites gathered since the last tick (a
  // report every 250 ms: one message per relay instead of one per loop turn
  // at high rates; docs/cluster.md promises them within a second).
  void flush();
  // Planned restarts: the kept copies and the next copy key, and taking them
  // back (checked like network input; false says why).
  nlohmann::json save() const;
  bool restore(const nlohmann::json& part, std::string& why);
  // Stopping: every join, leave and throw waiting on the cluster is answered
  // (503, or 204 for a leave); the kept copies stay for a snapshot.
  void stop();
  // Cut off: the relay dropped its nodes; everything pending is void.
  void clear();

  size_t kept_copies() const { return copies_.size(); }
  // Sprites its nodes threw that went to a node of another relay (accepted).
  uint64_t thrown_across() const { return thrown_across_; }

  // ClusterHooks.
  void node_left(const Node& node) override;
  void sprite_read(std::string_view thrower, uint64_t copy) override;
  void sprite_unread(std::string_view thrower, uint64_t copy) override;

 private:
  struct PendingJoin {
    std::string node;
    JoinDone done;
    uint64_t deadline_ms;
  };
  struct KeptCopy {
    std::string thrower;
    std::string receiver, receiver_name, receiver_home;
    std::string tail;  // the "direction"... part of its event
  };
  struct PendingDeliver {
    KeptCopy copy;
    uint64_t key;
    ThrowDone done;
    uint64_t deadline_ms;
  };
  void claim(const std::string& group, const std::string& owner);
  void send_join(Node* node, JoinDone done);
  void send_leave(const std::string& node, const std::string& group);
  void give_back(const KeptCopy& c);

  ClusterPost& post_;
  Relay& relay_;
  uint32_t next_id_ = 1;
  uint64_t next_copy_ = 1;
  uint64_t thrown_across_ = 0;
  std::unordered_map<uint32_t, PendingJoin> joins_;
  std::map<std::string, std::string> leaves_;  // node -> group, until an owner took it
  std::unordered_map<uint32_t, std::string> leave_ids_;  // request id -> node
  std::map<std::string, std::string> owner_seen_;  // group -> the owner last claimed to
  struct LeaveWaiter {
    std::function<void()> done;
    uint64_t deadline_ms;
  };
  std::map<std::string, LeaveWaiter> leave_waiters_;  // node -> its DELETE's answer
  struct HeldJoin {
    std::string node;  // admitted, waiting for the relay to settle
    JoinDone done;
    uint64_t deadline_ms;
  };
  std::vector<HeldJoin> held_joins_;
  std::unordered_map<uint32_t, PendingDeliver> delivers_;
  std::unordered_map<uint64_t, KeptCopy> copies_;
  std::map<std::string, cluster::CopiesMessage> acked_out_, returned_out_;
};

}  // namespace sprites::master

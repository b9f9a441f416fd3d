// ClusterLink: the master's end of the cluster (docs/API.md "Clusters",
// docs/cluster.md). It announces this relay on NATS, keeps the Membership of
// live relays, carries frames between relays (ClusterPost: batched per loop
// turn, one NATS message per relay; frames to itself never leave the
// process), and hands them to the relay's two cluster roles: GroupOwner (the
// grids it keeps) and ClusterHome (the nodes it holds).
//
//  - Home routing: a node id names its home relay (cluster/messages.h); a
//    poll, node info or leave for a node of another live relay is a 307 to
//    its public master URL, an id of a relay not alive is 404.
//  - Throws: a worker's throw for a thrower homed elsewhere is forwarded to
//    that home as the IPC Throw body (expiry as milliseconds left); its
//    ThrowResult goes back to the worker unchanged. A throw at home goes to
//    ClusterHome. With NATS away it is 503 cluster_unavailable.
//  - Cut off: heard by the cluster, then deaf to its own heartbeats for
//    --relay-timeout-ms, this relay has been declared gone by the others. It
//    drops its nodes (their requests get 404 from then on) and announces
//    itself as a new incarnation when NATS carries its heartbeats again.
//
// Without --nats it is inert: every node is at home, /v1/cluster lists this
// relay alone, and no throw is forwarded.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cluster/membership.h"
#include "cluster/nats_bus.h"
#include "common/uv_handle.h"
#include "ipc/messages.h"
#include "master/cluster_home.h"
#include "master/cluster_post.h"
#include "master/group_owner.h"
#include "master/relay.h"
#include "master/relay_identity.h"
#include "master/snapshot.h"

namespace sprites::master {

class ClusterLink final : public cluster::NatsBus::Listener, public ClusterPost {
 public:
  ClusterLink(uv_loop_t* loop, Relay& relay, const RelayIdentity& identity, const std::string& nats_urls,
              uint32_t relay_timeout_ms);
  ~ClusterLink() override;
  ClusterLink(const ClusterLink&) = delete;
  ClusterLink& operator=(const ClusterLink&) = delete;

  // Connects (in the background) and starts announcing. False, with `why`,
  // for NATS options that cannot work (a malformed URL).
  bool start(std::string& why);
  void close();

  // Planned restarts (snapshot.h): what the next master needs to be the
  // same relay (its incarnation, its kept copies), and taking it back
  // before start(): the nodes restored from the snapshot stay only if the
  // snapshot is fresh enough that the others cannot have declared this
  // relay gone (else they are dropped and the relay starts anew).
  nlohmann::json snapshot_part() const;
  void restore_part(const SnapshotCluster& saved);

  // Nowhere: no live relay is its home (404). Unreachable: its home may be
  // alive, but this relay cannot hear the cluster now (503
  // cluster_unavailable).
  enum class Where : uint8_t { Here, There, Nowhere, Unreachable };
  struct Home {
    Where where;
    std::string_view master_url;  // There: the home's public master URL
  };
  Home home_of(std::string_view node_id) const;

  // A join in a cluster (ClusterHome::join).
  void join(std::string_view group, std::string_view name, ClusterHome::JoinDone done);
  void leave(Node* node, std::function<void()> done) { home_->leave(node, std::move(done)); }
  // A worker's throw. False: no cluster, the relay decides alone. True: the
  // cluster took it, and `done` gets the worker's answer, now or later,
  // exactly once.
  using ThrowDone = std::function<void(uint16_t status, std::string_view body)>;
  bool take_throw(const ipc::ThrowMessage& t, ThrowDone done);

  // GET /v1/cluster, and the `cluster` member of /v1/stats (empty without
  // a cluster).
  std::string render_cluster() const;
  std::string render_stats_member() const;
  // Per-relay NATS figures for /metrics (empty without a cluster).
  std::string render_metrics() const;
  size_t live_relay_count() const;

  // ClusterPost.
  const std::string& self() const override { return identity_.id; }
  uint64_t incarnation() const override { return membership_->incarnation(); }
  bool post(const std::string& relay, cluster::WireType type, uint32_t id, std::string_view body) override;
  std::string owner_of(std::string_view group) const override;
  std::vector<std::string> live_relays() const override;
  bool reachable() const override;
  bool settled() const override { return settled_; }
  uint64_t now_ms() const override { return uv_now(loop_); }

 private:
  struct PendingThrow {
    ThrowDone done;
    uint64_t answer_by_ms;  // monotonic: 503 relay_unavailable then
    std::string home;       // the relay asked: only its answer counts
  };

  // NatsBus::Listener.
  void on_message(const cluster::NatsBus::Message& m) override;
  void on_connection(bool connected) override;

  static void on_tick(uv_timer_t* timer);
  static void on_idle(uv_idle_t* idle);
  void tick();
  void announce();
  void membership_changed();
  void lost(const std::string& relay, uint64_t incarnation);
  void dispatch(const std::string& from, std::string_view data);
  void on_frame(const std::string& from, const cluster::WireFrame& f);
  void forward_throw(const ipc::ThrowMessage& t, std::string_view home, ThrowDone done);
  void serve_throw(const std::string& from, uint32_t id, std::string_view body);
  void on_throw_result(const std::string& from, uint32_t id, std::string_view body);
  void flush();
  // Sends what is queued at the end of this loop turn.
  void soon();

  uv_loop_t* loop_;
  Relay& relay_;
  const RelayIdentity& identity_;  // the master's: complete once its ports listen
  std::string nats_urls_;
  std::unique_ptr<cluster::NatsBus> bus_;
  std::unique_ptr<cluster::Membership> membership_;
  std::unique_ptr<GroupOwner> owner_;
  std::unique_ptr<ClusterHome> home_;
  std::string heartbeat_subject_;
  std::string own_subject_;
  UvHandle<uv_timer_t> tick_;
  UvHandle<uv_idle_t> idle_;
  std::map<std::string, std::string> outbox_;  // relay -> frames to send this turn
  std::string local_;                          // frames to this relay
  std::unordered_map<uint32_t, PendingThrow> pending_;
  uint32_t next_request_id_ = 1;
  bool was_reachable_ = false;
  // Settling (ClusterPost::settled): since when this incarnation hears itself.
  static constexpr uint64_t kSettleMs = 3 * cluster::kHeartbeatIntervalMs;
  uint64_t first_echo_ms_ = 0;
  bool settled_ = false;
  uint64_t announced_ns_ = 0;  // uv_hrtime() of the last heartbeat sent
  uint64_t rtt_ns_ = 0;        // from it to its echo: the round trip through NATS
};

}  // namespace sprites::master

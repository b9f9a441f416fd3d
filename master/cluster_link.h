// ClusterLink: the master's end of the cluster (docs/API.md "Clusters",
// docs/cluster.md). It announces this relay on NATS, keeps the Membership of
// live relays, routes requests for nodes whose home is another relay, and
// carries throws between relays:
//
//  - home routing: a node id names its home relay (cluster/messages.h); a
//    poll, node info or leave for a node of another live relay is a 307 to
//    its public master URL, an id of a relay not alive is 404;
//  - throws: a worker's throw for a thrower homed elsewhere is forwarded to
//    that home as the same IPC Throw frame (expiry as milliseconds left);
//    the home's ThrowResult comes back and goes to the worker unchanged. With
//    NATS down it is 503 cluster_unavailable; a home that does not answer
//    before the worker's deadline is 503 relay_unavailable;
//  - cut off: heard by the cluster, then deaf to its own heartbeats for
//    --relay-timeout-ms, this relay has been declared gone by the others. It
//    drops its nodes (their requests get 404 from then on) and announces
//    itself as a new incarnation when NATS carries its heartbeats again.
//
// Without --nats it is inert: every node is at home, /v1/cluster lists this
// relay alone, and no throw is forwarded.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cluster/membership.h"
#include "cluster/nats_bus.h"
#include "common/uv_handle.h"
#include "ipc/messages.h"
#include "master/relay.h"
#include "master/relay_identity.h"

namespace sprites::master {

class ClusterLink final : public cluster::NatsBus::Listener {
 public:
  ClusterLink(uv_loop_t* loop, Relay& relay, const RelayIdentity& identity, const std::string& nats_urls,
              uint32_t relay_timeout_ms, uint32_t max_body_bytes);
  ~ClusterLink() override;
  ClusterLink(const ClusterLink&) = delete;
  ClusterLink& operator=(const ClusterLink&) = delete;

  // Connects (in the background) and starts announcing. False, with `why`,
  // for NATS options that cannot work (a malformed URL).
  bool start(std::string& why);
  void close();

  // Nowhere: no live relay is its home (404). Unreachable: its home may be
  // alive, but this relay cannot hear the cluster now (503
  // cluster_unavailable).
  enum class Where : uint8_t { Here, There, Nowhere, Unreachable };
  struct Home {
    Where where;
    std::string_view master_url;  // There: the home's public master URL
  };
  Home home_of(std::string_view node_id) const;

  // A worker's throw. False: the thrower is at home here, the relay decides.
  // True: it went to the thrower's home (or was refused), and `done` gets
  // the answer for the worker, now or later, exactly once.
  using ThrowDone = std::function<void(uint16_t status, std::string_view body)>;
  bool forward_throw(const ipc::ThrowMessage& t, ThrowDone done);

  // GET /v1/cluster, and the `cluster` member of /v1/stats (empty without
  // a cluster).
  std::string render_cluster() const;
  std::string render_stats_member() const;
  size_t live_relays() const;
  // NATS connected and this relay hears its own heartbeats.
  bool reachable() const;

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
  void tick();
  void announce();
  void on_frames(std::string_view from, std::string_view data);
  void serve_throw(std::string_view from, uint32_t id, std::string_view body);
  void on_throw_result(std::string_view from, uint32_t id, std::string_view body);

  uv_loop_t* loop_;
  Relay& relay_;
  const RelayIdentity& identity_;  // the master's: complete once its ports listen
  std::string nats_urls_;
  uint32_t max_frame_length_;
  std::unique_ptr<cluster::NatsBus> bus_;
  std::unique_ptr<cluster::Membership> membership_;
  std::string heartbeat_subject_;
  std::string own_subject_;
  UvHandle<uv_timer_t> tick_;
  std::unordered_map<uint32_t, PendingThrow> pending_;
  uint32_t next_request_id_ = 1;
  uint64_t started_ms_ = 0;
};

}  // namespace sprites::master

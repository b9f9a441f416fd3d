// Fleet: the nodes of one swarm child — their sessions and connections —
// joined at the pace the child asks for, held in long-poll, throwing when the
// pacer says, and leaving at the end.
//
// Per node: a NodeSession and two keep-alive HttpClients (the master
// connection carries join, poll and leave, the worker connection the throws),
// all bound to the child's source address. No timer per node: failed polls
// and transient join failures wait in retry lists the child's one tick drains.
// Events go to the Ledger (sprites and returns); neighbour changes are kept by
// the sessions themselves.
//
// Throws are refused (counted as skipped, not queued without bound) when the
// chosen node is not held or its throw connection already has
// kMaxThrowBacklog requests waiting: an open-loop swarm faster than the relay
// must not grow its memory without bound.
//
// Dropped alternative: one shared pool of worker connections. Fewer sockets,
// but real clients each hold their own, and that per-connection cost on the
// relay is part of what the swarm is there to measure.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "client/endpoint.h"
#include "client/http_client.h"
#include "client/node_session.h"
#include "client/swarm/figures.h"
#include "client/swarm/ledger.h"
#include "common/tls.h"

namespace sprites::swarm {

struct FleetConfig {
  client::Endpoint master;
  client::Endpoint worker;
  std::optional<sockaddr_in> source;
  uint64_t first_node = 0;  // global index of the first node (names, groups)
  uint64_t nodes = 0;
  uint32_t groups = 1;
  std::string group_prefix;
  uint64_t poll_timeout_ms = 0;  // 0: the server's default
  // For an https:// master or worker: one context for all the fleet's
  // connections.
  std::shared_ptr<const tls::TlsContext> tls;
};

class Fleet final : public client::SessionObserver {
 public:
  static constexpr size_t kMaxJoinsInFlight = 256;
  static constexpr size_t kMaxThrowBacklog = 64;
  static constexpr int kJoinAttempts = 3;
  static constexpr uint64_t kRetryDelayMs = 1000;

  Fleet(uv_loop_t* loop, FleetConfig config, Ledger& ledger, uint64_t seed);
  ~Fleet() override;
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Starts at most `budget` joins (fewer when kMaxJoinsInFlight are out);
  // returns how many it started.
  size_t join_some(size_t budget);
  // Every node joined or failed for good.
  bool joining_done() const;
  // Restarts polls that failed and transient joins whose delay has passed.
  void retry(uint64_t now_ms);

  // A throw from `node` (or from a random held node), in a random direction.
  // `done` runs when it is answered. False when it was not sent (skipped).
  bool throw_from(std::optional<size_t> node, uint64_t now_ns, std::function<void()> done);

  // Every joined node leaves (DELETE); `done` runs once all have an answer.
  void leave_all(std::function<void()> done);

  size_t size() const { return nodes_.size(); }
  size_t held() const;
  size_t joined() const { return joined_; }
  size_t join_failed() const { return join_failed_; }
  // Node counts, join window and failures into `figures`.
  void fill(ChildFigures& figures) const;

  // SessionObserver.
  void on_joined(client::NodeSession& session, std::string_view answer) override;
  void on_join_failed(client::NodeSession& session, const client::Response& response) override;
  void on_event(client::NodeSession& session, const client::Event& event) override;
  void on_poll_stopped(client::NodeSession& session, client::PollStop why, const client::Response& response) override;

 private:
  struct Node {
    Node(Fleet& fleet, uint32_t index);
    client::HttpClient::Ptr master;
    client::HttpClient::Ptr worker;
    client::NodeSession session;
    uint8_t join_attempts = 0;
  };
  struct Retry {
    uint64_t at_ms;
    uint32_t node;
    bool join;  // a join to retry, else a poll
  };

  void start_join(uint32_t index);
  bool is_held(const Node& node) const { return node.session.joined() && node.session.polling(); }

  uv_loop_t* loop_;
  FleetConfig config_;
  Ledger& ledger_;
  std::mt19937_64 rng_;
  std::deque<Node> nodes_;  // a deque: sessions and clients must not move
  std::deque<Retry> retries_;
  size_t next_join_ = 0;
  size_t joins_in_flight_ = 0;
  size_t joined_ = 0;
  size_t join_failed_ = 0;
  size_t gone_ = 0;
  size_t leaves_pending_ = 0;
  uint64_t join_started_ns_ = 0;
  uint64_t join_finished_ns_ = 0;
  CountByCode join_failures_;
  CountByCode poll_failures_;
  std::function<void()> all_left_;
};

}  // namespace sprites::swarm

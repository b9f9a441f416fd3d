// Relay: the master's domain core. It owns the nodes, the groups (each a
// Grid), every mailbox, the deadline heap and the parked polls, and it turns
// joins, polls, throws and leaves into events. It speaks in domain results; the
// HTTP mapping lives in api.cc and the IPC mapping in worker_link.cc.
//
// What a node's mailbox holds at most: mailbox_limit sprite and returned
// events plus two neighbors events. A throw to a full mailbox is refused, a
// sprite that comes back to a thrower whose mailbox is full is dropped (and
// counted), and a newer neighbors event replaces one not yet sent (one sent
// but not acknowledged stays: mailbox.h).
//
// Parked polls are answered in batches: an event for a node with a parked poll
// queues the node on a wake list, and one uv_idle callback at the next loop turn
// answers them all, so a burst of throws to one node leaves in one response.
//
// What it leaves out: sockets (it is handed HttpConnection pointers for parked
// polls and answers them through respond()), parsing, and option handling.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/direction.h"
#include "common/kept_buffer.h"
#include "master/deadlines.h"
#include "master/node.h"
#include "master/stats.h"

namespace sprites::http {
class HttpConnection;
}

namespace sprites::master {

struct RelayConfig {
  uint32_t grid_width = 8;
  uint32_t poll_timeout_ms = 60000;
  uint32_t node_ttl_ms = 30000;
  uint32_t mailbox_limit = 256;
  double rate_limit = 50;
  uint64_t max_nodes = 0;  // resolved: never 0
  uint32_t max_body_bytes = 16384;  // the largest throw body, so the largest sprite
  size_t max_events_per_response = 100;
};

// The outcome of a throw, as the worker will send it to the client.
struct ThrowOutcome {
  uint16_t status;
  std::string body;  // JSON
};

class Relay {
 public:
  Relay(uv_loop_t* loop, const RelayConfig& config, Counters& counters);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  const RelayConfig& config() const { return config_; }

  // nullptr when the relay already holds max_nodes nodes. `name` is valid UTF-8.
  Node* join(std::string_view group, std::string_view name);
  Node* find(std::string_view id) const;
  // The node leaves the grid (DELETE or TTL): neighbours are told, unread
  // sprites go back to their throwers, a parked poll gets 404.
  void leave(Node* node);

  // A validated poll. Acknowledges `after`, supersedes an older parked poll,
  // then answers at once or parks the poll on `conn` (conn->user = node).
  void poll(Node* node, http::HttpConnection* conn, uint32_t slot, uint64_t after, uint64_t timeout_ms);
  // The connection of a parked poll closed.
  void poll_connection_closed(http::HttpConnection* conn);

  ThrowOutcome throw_sprite(std::string_view node_id, std::string_view token, Direction direction,
                            bool has_id, std::string_view sprite_id, std::string_view sprite);

  // `"position":{...},"neighbors":{...}` for join responses and node info.
  void append_place(const Node& node, std::string& out) const;

  size_t node_count() const { return nodes_.size(); }
  size_t group_count() const { return groups_.size(); }
  size_t polls_pending() const { return polls_pending_; }

  // Snapshots (snapshot.cc): a read-only walk over every group and a way to
  // put a node back exactly as it was (same id, token, slot order, mailbox).
  template <typename F>
  void for_each_group(F&& f) const {
    for (const auto& [name, group] : groups_) f(*group);
  }
  Node* restore_node(std::string_view group, std::string id, const Token& token, std::string name, double rate_tokens);
  // After a restore: every stored neighbors event gets the text of its
  // node's place in the restored grid (the snapshot keeps only its seq).
  void restore_places();
  // After a restore with another grid width: every node hears its new place.
  void announce_all_places();
  // Forgets every node without telling anyone (a refused, half-read snapshot).
  void clear();

  // Graceful stop: answers every parked poll with its events (or none) now.
  void answer_all_polls();
  // Closes the timer and idle handles; run the loop afterwards.
  void close();

 private:
  static void on_timer(uv_timer_t* timer);
  static void on_wake(uv_idle_t* idle);

  uint64_t now() const { return uv_now(loop_); }
  void arm_timer();
  // Stores an event (event_text.h; tail_at: offset of the shared
  // "direction"... part, Sprite/Returned); the mailbox gives it its seq.
  void push_event(Node& node, EventKind kind, std::string&& text, uint32_t tail_at, std::string thrower);

  void push_neighbors_event(Node& node);
  void wake(Node& node);
  void answer_poll(Node& node, bool superseded);
  void end_poll(Node& node);
  void acknowledge(Node& node, uint64_t after);
  void remove_node(Node* node);

  uv_loop_t* loop_;
  RelayConfig config_;
  Counters& counters_;
  std::unordered_map<std::string_view, std::unique_ptr<Node>> nodes_;  // key views node->id
  std::unordered_map<std::string, std::unique_ptr<Group>> groups_;
  DeadlineHeap deadlines_;
  uv_timer_t* timer_;
  uv_idle_t* wake_idle_;
  std::vector<Node*> wake_list_;
  // Poll answers are rendered here before the connection copies them behind
  // the headers.
  KeptBuffer render_buffer_{64 * 1024};
  std::string place_buffer_;  // a neighbors event's body, before it is sized
  uint64_t timer_armed_for_ = UINT64_MAX;
  size_t polls_pending_ = 0;
  std::vector<GridMember*> changed_;  // scratch for grid changes
};

}  // namespace sprites::master

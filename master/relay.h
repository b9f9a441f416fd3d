// Relay: the master's domain core. It owns the nodes, the groups (each a
// Grid), every mailbox, the deadline heap and the parked polls, and it turns
// joins, polls, throws and leaves into events and domain outcomes. It knows
// no HTTP, no IPC and no event loop: the time and its wake-ups come from a
// RelayClock, parked polls are answered through a PollAnswerer, and a throw
// ends in a ThrowOutcome that api.cc / worker_link.cc turn into their wire
// answers. So every rule here is unit-tested on a fake clock with recorded
// answers (tests/unit/master/relay_test.cc).
//
// What a node's mailbox holds at most: mailbox_limit sprite and returned
// events plus two neighbors events. A throw to a full mailbox is refused, a
// sprite that comes back to a thrower whose mailbox is full is dropped (and
// counted), and a newer neighbors event replaces one not yet sent (one sent
// but not acknowledged stays: mailbox.h).
//
// Parked polls are answered in batches: an event for a node with a parked poll
// queues the node on a wake list, and at the end of the loop turn the list is
// answered at once, so a burst of throws to one node leaves in one response.
//
// Dropped alternative: the relay answering HTTP connections itself (as it
// did). It tied every rule to sockets, so parking, supersede, TTLs, the rate
// limit and returned sprites could only be tested through whole processes.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/direction.h"
#include "common/kept_buffer.h"
#include "master/deadlines.h"
#include "master/event_text.h"
#include "master/node.h"
#include "master/parked_poll.h"
#include "master/relay_clock.h"
#include "master/stats.h"

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
  // In a cluster, node ids begin with the home relay's id and '-'
  // (cluster/messages.h home_of); empty without one.
  std::string node_id_prefix;
};

// How a throw ended (docs/API.md "throw": node, token, rate, mailbox, in
// that order).
// In a cluster two more: Elsewhere (the receiver lives at another relay: the
// cluster delivers it, master/cluster_link.h) and ReceiverGone (the receiver
// the thrower was told of has just left here, and the thrower has not heard
// yet: 503, retry).
enum class ThrowVerdict : uint8_t { Accepted, UnknownNode, WrongToken, RateLimited, MailboxFull, Elsewhere, ReceiverGone };

struct ThrowOutcome {
  ThrowVerdict verdict;
  const Node* receiver = nullptr;  // Accepted: who holds the sprite now
  const Node* thrower = nullptr;   // Elsewhere
  const NodeView::Ref* remote = nullptr;  // Elsewhere: the receiver, as the thrower's view names it
};

// What the relay tells its cluster (master/cluster_link.h). Set only in a
// cluster; without one the grid is the relay's own.
class ClusterHooks {
 public:
  virtual ~ClusterHooks() = default;
  // A node left (DELETE, TTL, or dropped): its group's owner must hear.
  virtual void node_left(const Node& node) = 0;
  // A sprite from another relay was acknowledged by its receiver, or its
  // receiver left without reading it: the thrower's home forgets its copy,
  // or returns it to the thrower.
  virtual void sprite_read(std::string_view thrower, uint64_t copy) = 0;
  virtual void sprite_unread(std::string_view thrower, uint64_t copy) = 0;
};

enum class DeliverVerdict : uint8_t { Accepted, MailboxFull, UnknownNode };

// Why a node leaves, as its `leave` log line says (docs/API.md "Logs").
enum class LeaveReason : uint8_t { Delete, Ttl };

class Relay final : private RelayClock::Sleeper {
 public:
  Relay(RelayClock& clock, PollAnswerer& answerer, const RelayConfig& config, Counters& counters);
  ~Relay() override;
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  const RelayConfig& config() const { return config_; }

  // nullptr when the relay already holds max_nodes nodes. `name` is valid UTF-8.
  Node* join(std::string_view group, std::string_view name);
  Node* find(std::string_view id) const;
  // The node leaves the grid (DELETE or TTL): neighbours are told, unread
  // sprites go back to their throwers, a parked poll is answered gone.
  void leave(Node* node, LeaveReason why = LeaveReason::Delete);

  // A validated poll by `holder`. Acknowledges `after` and supersedes an older
  // parked poll; then answers at once (through the answerer; returns false) or
  // parks the poll until an event or `timeout_ms` (returns true).
  bool poll(Node& node, const ParkedPoll& holder, uint64_t after, uint64_t timeout_ms);
  // The holder of a node's parked poll went away (its connection closed).
  void poll_dropped(Node& node, const ParkedPoll& holder);

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
  // In a cluster: the place the node had (its owner may send a newer one).
  void restore_view(Node& node, const NodeView& view);
  // After a restore: every stored neighbors event gets the text of its
  // node's place in the restored grid (the snapshot keeps only its seq).
  void restore_places();
  // After a restore with another grid width: every node hears its new place.
  void announce_all_places();
  // Forgets every node without telling anyone (a refused, half-read snapshot).
  void clear();

  // This relay was declared gone by its cluster: every node is forgotten, a
  // parked poll answered 404, unread sprites counted as dropped (their
  // throwers' homes return them: docs/cluster.md).
  void drop_all();
  // A throw refused before any node was looked up here (a forwarding
  // relay's 404 for an id of no live relay).
  void count_rejected(RejectCode code) { counters_.reject(code); }

  // ---- in a cluster (docs/cluster.md) ----
  void set_cluster_hooks(ClusterHooks* hooks) { hooks_ = hooks; }
  bool clustered() const { return hooks_ != nullptr; }
  // A join: the node exists (its id is known, sprites may arrive) but has no
  // place until its group's owner answers: then place() it, or discard() it
  // (forgotten without a word: no one was told of it).
  Node* admit(std::string_view group, std::string_view name);
  void discard(Node* node);
  // A place from the owner, applied if newer than the node's. A placed node
  // whose view changed gets a neighbors event; `first` places it silently
  // (the join answer carries it).
  void place(Node& node, const NodeView& view, bool first);
  // A sprite thrown at another relay by `thrower` for `receiver` here.
  DeliverVerdict deliver(std::string_view receiver, EventRef thrower, Direction direction, bool has_id,
                         std::string_view sprite_id, std::string_view sprite, uint64_t copy);
  // A sprite `thrower` threw to `receiver` at another relay comes back
  // (`tail`: its "direction"... part). False: dropped (counted).
  bool give_back(std::string_view thrower, EventRef receiver, std::string_view tail);
  template <typename F>
  void for_each_node(F&& f) const {
    for (const auto& [id, node] : nodes_) f(*node);
  }
  void count_accepted() { ++counters_.accepted; }

  // Graceful stop: answers every parked poll with its events (or none) now.
  void answer_all_polls();

 private:
  // RelayClock::Sleeper.
  void on_deadline() override;
  void on_turn_end() override;

  uint64_t now() const { return clock_.now_ms(); }
  void arm_clock();
  // Stores an event (event_text.h; tail_at: offset of the shared
  // "direction"... part, Sprite/Returned); the mailbox gives it its seq.
  void push_event(Node& node, EventKind kind, std::string&& text, uint32_t tail_at, std::string thrower);

  void push_neighbors_event(Node& node);
  void wake(Node& node);
  void answer_poll(Node& node, bool superseded);
  void end_poll(Node& node);
  void acknowledge(Node& node, uint64_t after);
  Group& group_named(std::string_view name);
  // A new node in its group's grid (changed_: whose view changed), with its
  // TTL; nullptr at max_nodes.
  Node* add_node(std::string_view group, std::string_view name);
  void forget_member(Group* group);

  RelayClock& clock_;
  PollAnswerer& answerer_;
  RelayConfig config_;
  Counters& counters_;
  std::unordered_map<std::string_view, std::unique_ptr<Node>> nodes_;  // key views node->id
  std::unordered_map<std::string, std::unique_ptr<Group>> groups_;
  DeadlineHeap deadlines_;
  std::vector<Node*> wake_list_;
  // Poll answers are rendered here before the answerer copies them out.
  KeptBuffer render_buffer_{64 * 1024};
  std::string place_buffer_;  // a neighbors event's body, before it is sized
  size_t polls_pending_ = 0;
  std::vector<GridMember*> changed_;  // scratch for grid changes
  ClusterHooks* hooks_ = nullptr;
};

}  // namespace sprites::master

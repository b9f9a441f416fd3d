// NodeSession: one node's side of docs/API.md — join, hold the long-poll,
// acknowledge by cursor, drop seqs already seen, keep the current neighbours,
// throw, leave.
//
// It owns the node's identity (id, token), its cursor and highest seq seen, its
// position and its four neighbours; nothing else, so thousands fit in one
// process. It owns no socket and no timer: requests go through two Transports
// (the master port carries join, poll and leave on one keep-alive connection;
// the worker port carries throws), which is also the seam its tests use to
// answer with canned responses. Whatever needs time (retrying a failed poll
// later, deadlines) is the owner's, who keeps one timer for all its nodes.
//
// Polling: exactly one poll is outstanding while polling. Its answer's events
// are handed to the observer in seq order, each seq once (at-least-once
// delivery can repeat events a lost acknowledgement left in the mailbox), and
// the next poll acknowledges the answer's cursor. A sprite is also dropped
// when the same thrower's sprite with the same id came among the last
// kRecentSpriteIds: a throw whose answer was lost or was a 503 may have been
// delivered anyway, and its retry then arrives as a second sprite with a new
// seq (docs/API.md). Sprites without an id are never dropped for this. A poll that ends in anything
// but 200 stops polling and tells the observer why; the owner may call
// start_polling() again (after a delay of its choosing). A `superseded` answer
// also stops: someone else now polls for this node, and polling back would
// have the two pollers supersede each other forever.
//
// In a cluster a poll or leave sent to a relay that is not the node's home
// is answered 307; the poll stops as Moved, and the owner may follow the
// answer's location (redirect_endpoint(), protocol.h) with move_to().
//
// Leave is sent on the master connection behind the held poll (the relay reads
// pipelined requests while a poll is held): the poll is answered 404 by the
// leave itself, and that 404 is not reported as the node being gone.
//
// Dropped alternative: per-request callbacks handed in by the owner (a
// std::function per poll). One observer per fleet costs one pointer per node
// instead of a closure per poll, and the protocol decisions stay here.
//
// Observer callbacks run from the transports' callbacks. The observer may call
// any method of the session from them, but must not destroy the session there.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client/protocol.h"
#include "client/transport.h"
#include "common/direction.h"

namespace sprites::client {

class NodeSession;

// An event after dedup: the event object's bytes as the relay sent them
// (valid JSON: the whole answer was checked) and the session's index of its
// members, both valid only during the callback. json() builds the DOM when
// one is needed.
struct Event {
  uint64_t seq;
  EventType type;
  std::string_view raw;
  const RawObject& members;

  Json json() const { return Json::parse(raw, nullptr, /*allow_exceptions=*/false); }
};

enum class PollStop : uint8_t {
  Superseded,  // a newer poll for this node answered ours
  Gone,        // 404 unknown_node: the node is no longer on the grid
  Refused,     // another 4xx (unauthorized, invalid_cursor, ...): polling again will not help
  Moved,       // 307: the node's home is another relay of the cluster (moved_to(), then start again)
  Failed,      // no answer, a 5xx, or an answer that is not the protocol's: may be retried
};

std::string_view poll_stop_name(PollStop why);

class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  // 201: the session is joined (and polling, if it was asked to poll on join).
  // `answer` is the 201's body as the relay sent it (valid JSON).
  virtual void on_joined(NodeSession& session, std::string_view answer) = 0;
  virtual void on_join_failed(NodeSession& session, const Response& response) = 0;
  virtual void on_event(NodeSession& session, const Event& event) = 0;
  // Polling stopped by itself; `response` is the answer that stopped it.
  virtual void on_poll_stopped(NodeSession& session, PollStop why, const Response& response) = 0;
};

class NodeSession {
 public:
  enum class State : uint8_t { New, Joining, Joined, Leaving, Left, Gone };

  // `tag` is the owner's: it finds its record of the node from a callback.
  NodeSession(Transport& master, Transport& worker, SessionObserver& observer, uint32_t tag = 0);
  NodeSession(const NodeSession&) = delete;
  NodeSession& operator=(const NodeSession&) = delete;

  // POST /v1/nodes. With `then_poll`, polling starts as soon as the 201 is in.
  // A relay with join control wants a `ticket` (docs/API.md "Join control"):
  // it is sent as the join's bearer token and not kept.
  void join(const std::optional<std::string>& group, const std::optional<std::string>& name, bool then_poll = true,
            std::string_view ticket = {});
  // Takes over a node joined elsewhere (sprites-cli listen): no request.
  void adopt(std::string node, std::string token, uint64_t after = 0);
  // Speaks to other transports from now on (after a 307 to the node's home,
  // or to the join answer's relay.worker). Only with no request outstanding
  // on the old ones.
  void move_to(Transport& master, Transport& worker) {
    master_ = &master;
    worker_ = &worker;
  }

  // Holds a poll from now on (no-op while one is outstanding). Only once joined.
  void start_polling();
  // No new poll after the outstanding one; that one is left to end.
  void stop_polling() { polling_ = false; }
  // timeout_ms sent with every poll; unset: the server's default (its maximum).
  void set_poll_timeout_ms(std::optional<uint64_t> timeout_ms) { poll_timeout_ms_ = timeout_ms; }

  // POST /v1/nodes/{id}/sprites on the worker transport. `sprite_json` is
  // spliced into the body byte for byte.
  void throw_sprite(Direction direction, std::string_view sprite_json, std::optional<std::string_view> id,
                    ResponseHandler done);
  // DELETE /v1/nodes/{id}; polling stops. `done` gets the answer (204).
  void leave(ResponseHandler done);

  State state() const { return state_; }
  bool joined() const { return state_ == State::Joined; }
  bool polling() const { return polling_; }
  bool poll_outstanding() const { return poll_outstanding_; }
  uint32_t tag() const { return tag_; }
  const std::string& node() const { return node_; }
  const std::string& token() const { return token_; }
  uint64_t cursor() const { return cursor_; }
  uint64_t last_seq() const { return last_seq_; }
  const Position& position() const { return position_; }
  const Neighbours& neighbours() const { return neighbours_; }
  // Events dropped because their seq was seen before.
  uint64_t duplicates_dropped() const { return duplicates_dropped_; }
  // Sprites dropped because the same thrower's sprite with the same id came
  // just before.
  uint64_t id_duplicates_dropped() const { return id_duplicates_dropped_; }

  static constexpr size_t kRecentSpriteIds = 32;

 private:
  void poll();
  void on_join_answer(Response&& response);
  void on_poll_answer(Response&& response);
  void stop(PollStop why, const Response& response);
  // True when this sprite event's (thrower, id) came among the recent ones;
  // remembers it otherwise.
  bool repeats_recent_sprite(const RawObject& event);

  Transport* master_;
  Transport* worker_;
  SessionObserver& observer_;
  std::string node_;
  std::string token_;
  uint64_t cursor_ = 0;
  uint64_t last_seq_ = 0;
  uint64_t duplicates_dropped_ = 0;
  uint64_t id_duplicates_dropped_ = 0;
  // Hashes of the last sprites' (thrower, id), allocated with the first
  // sprite that has an id: most nodes of a big fleet never need it.
  std::unique_ptr<std::array<uint64_t, kRecentSpriteIds>> recent_sprite_ids_;
  uint8_t recent_next_ = 0;
  std::optional<uint64_t> poll_timeout_ms_;
  Position position_;
  Neighbours neighbours_;
  uint32_t tag_;
  State state_ = State::New;
  bool polling_ = false;
  bool poll_outstanding_ = false;
  bool poll_after_join_ = false;
};

}  // namespace sprites::client

// Mailbox: one node's queue of unacknowledged events (PROTOCOL.md "long-poll").
//
// Events get growing sequence numbers starting at 1; a poll's `after` deletes
// every event with seq <= after; a response carries the oldest events with
// seq > after, at most a fixed number. A mailbox holds at most one `neighbors`
// event: a newer one replaces an unacknowledged one (only the latest set
// matters), taking the next seq and the place at the end, so the seqs a
// mailbox holds grow but may skip the replaced one. The event after a cursor
// is found by binary search.
//
// Events are stored already serialised (the JSON object text including its
// seq), so a response is a concatenation, not a re-encoding. A sprite event also
// keeps its thrower and the offset where its "direction"... tail starts, so that
// when the receiver leaves it can be turned into a `returned` event for the
// thrower by swapping the head (`"from"` becomes `"to"`) without parsing.
//
// A mailbox that never held an event owns no heap memory, and one emptied
// after a burst gives the burst's allocation back (it keeps at most 8 slots for
// a node that receives steadily): idle nodes are most nodes.
//
// Dropped alternative: std::deque. libstdc++ allocates a map and a 512-byte
// block for every deque, even an empty one, which is most of the cost of an idle
// node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sprites::master {

enum class EventKind : uint8_t { Sprite, Neighbors, Returned };

struct Event {
  uint64_t seq = 0;
  EventKind kind = EventKind::Sprite;
  uint32_t tail_at = 0;  // Sprite/Returned: where the shared "direction"... part starts
  std::string text;      // the whole JSON object
  std::string thrower;   // Sprite: the thrower's node id
};

class Mailbox {
 public:
  uint64_t last_seq() const { return last_seq_; }
  size_t size() const { return events_.size() - head_; }
  bool has_after(uint64_t after) const { return last_seq_ > after && size() > 0; }

  // The seq the next appended event must carry.
  uint64_t next_seq() const { return last_seq_ + 1; }
  // Appends an event whose seq is next_seq().
  void append(Event&& event);
  // Appends a `neighbors` event whose seq is next_seq(), removing the
  // unacknowledged `neighbors` event it supersedes, if any.
  void replace_neighbors(Event&& event);

  // Deletes every event with seq <= after and calls on_removed(event) for each.
  template <typename F>
  void acknowledge(uint64_t after, F&& on_removed) {
    while (head_ < events_.size() && events_[head_].seq <= after) {
      on_removed(events_[head_]);
      events_[head_] = Event{};
      ++head_;
    }
    compact();
  }

  // Appends {"cursor":C,"events":[...]} with the events of seq > after, oldest
  // first, at most `max` of them; C is the last seq written, or `after`.
  void render(uint64_t after, size_t max, std::string& out) const;

  // Removes and returns every event (the node is leaving).
  std::vector<Event> take_all();

  // Read-only walk over the unacknowledged events, oldest first (snapshots).
  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = head_; i < events_.size(); ++i) f(events_[i]);
  }
  // Gives the neighbors event, if it holds one, the text text_for(seq).
  template <typename F>
  void rewrite_neighbors(F&& text_for) {
    for (size_t i = head_; i < events_.size(); ++i) {
      if (events_[i].kind == EventKind::Neighbors) events_[i].text = text_for(events_[i].seq);
    }
  }

  // Refills a fresh mailbox from a snapshot. False (and nothing changed) unless
  // the events' seqs are at least 1, strictly growing and the last one is
  // `last_seq`, and at most one is a `neighbors` event.
  bool restore(uint64_t last_seq, std::vector<Event>&& events);

 private:
  void compact();

  std::vector<Event> events_;
  size_t head_ = 0;  // events_[0, head_) are acknowledged husks
  uint64_t last_seq_ = 0;
};

}  // namespace sprites::master

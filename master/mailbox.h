// Mailbox: one node's queue of unacknowledged events (docs/API.md "long-poll").
//
// Events get consecutive sequence numbers starting at 1; a poll's `after`
// deletes every event with seq <= after; a response carries the oldest events
// with seq > after, at most a fixed number.
//
// Only the latest set of neighbours matters, so a newer `neighbors` event
// replaces one the node has not been sent yet: the old one is taken out, the
// events after it (none of them sent either: responses go out in seq order)
// move up one seq, and the new one takes the last seq at the end. Seqs stay
// consecutive and the node never sees the replaced one. A neighbors event the
// node has been sent but not yet acknowledged stays (the answer may have been
// lost on the way), and the new one is appended after it; of several sent
// ones only the newest stays, so a node that polls again and again without
// acknowledging cannot pile them up (its repeated answers then skip the seqs
// of the older ones, which it was sent before). So a mailbox holds at most two
// neighbors events, one sent and one not, however often its neighbours
// change, and a node that acknowledges what it gets sees every seq.
//
// Events are stored serialised without their seq (the JSON object text from
// `"type"` on: event_text.h), so a response is a concatenation with
// `{"seq":N,` in front of each, not a re-encoding, and a seq can change
// without touching the text. A sprite event also keeps its thrower and the
// offset where its "direction"... tail starts, so that when the receiver
// leaves it can be turned into a `returned` event for the thrower by swapping
// the head (`"from"` becomes `"to"`) without parsing.
//
// A mailbox that never held an event owns no heap memory, and one emptied
// after a burst gives the burst's allocation back: idle nodes are most nodes.
//
// Dropped alternatives: std::deque (libstdc++ allocates a map and a 512-byte
// block for every deque, even an empty one, which is most of the cost of an
// idle node); replacing an unsent neighbors event by the next seq at the end
// (simpler, but seqs would skip, and docs/API.md has them grow by one).
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
  uint32_t tail_at = 0;  // Sprite/Returned: where the shared "direction"... part starts in text
  std::string text;      // the JSON object without its opening `{"seq":N,`
  std::string thrower;   // Sprite: the thrower's node id
  uint64_t copy = 0;     // Sprite from another relay: its home's kept copy (0: none)
  uint64_t accepted_ms = 0;  // Sprite: the relay's clock when it was accepted (0: restored, not timed)
};

class Mailbox {
 public:
  uint64_t last_seq() const { return last_seq_; }
  size_t size() const { return events_.size() - head_; }
  bool has_after(uint64_t after) const { return last_seq_ > after && size() > 0; }

  // Appends an event with the next seq; returns that seq.
  uint64_t append(Event&& event);
  // Appends a `neighbors` event, replacing the one not yet sent, if any
  // (see above); returns the seq it got.
  uint64_t replace_neighbors(Event&& event);

  // Deletes every event with seq <= after and calls on_removed(event) for each.
  template <typename F>
  void acknowledge(uint64_t after, F&& on_removed) {
    uint32_t removed = 0;
    while (head_ < events_.size() && events_[head_].seq <= after) {
      on_removed(events_[head_]);
      events_[head_] = Event{};
      ++head_;
      ++removed;
    }
    sent_ = sent_ > removed ? sent_ - removed : 0;
    compact();
  }

  // Appends {"cursor":C,"events":[...]} with the events of seq > after, oldest
  // first, at most `max` of them; C is the last seq written, or `after`. The
  // events written count as sent from then on.
  void render(uint64_t after, size_t max, std::string& out);

  // Removes and returns every event (the node is leaving).
  std::vector<Event> take_all();

  // Read-only walk over the unacknowledged events, oldest first (snapshots).
  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = head_; i < events_.size(); ++i) f(events_[i]);
  }
  // Gives each neighbors event the text text_for(seq) (a restored node's
  // place in the restored grid).
  template <typename F>
  void rewrite_neighbors(F&& text_for) {
    for (size_t i = head_; i < events_.size(); ++i) {
      if (events_[i].kind == EventKind::Neighbors) events_[i].text = text_for(events_[i].seq);
    }
  }
  // Refills a fresh mailbox from a snapshot. False (and nothing changed) unless
  // the events' seqs are consecutive, at least 1 and end at `last_seq`, with at
  // most two neighbors events. Every restored event counts as sent: the node
  // may have seen it before the restart.
  bool restore(uint64_t last_seq, std::vector<Event>&& events);

 private:
  void compact();

  std::vector<Event> events_;
  uint32_t head_ = 0;  // events_[0, head_) are acknowledged husks
  uint32_t sent_ = 0;  // events_[head_, head_ + sent_) have been sent in a response
  uint64_t last_seq_ = 0;
};

}  // namespace sprites::master

// TimeoutQueue: connections waiting on one kind of deadline, in FIFO order.
//
// Every connection in one queue has the same timeout (idle keep-alive, request
// receipt, lingering close), so the order they entered in is the order they
// expire in: entering and leaving are O(1) pointer updates, and the sweep looks
// only at the head. This is how held connections cost no timer each: one
// listener timer sweeps a few queues.
//
// Dropped alternative: a heap of deadlines. O(log n) per state change, on the
// hot path of every request, to support timeouts that differ per connection,
// which the HTTP layer does not have.
#pragma once

#include <cstdint>

namespace sprites::http {

struct TimeoutQueue;

// Embedded in each member (intrusive: no allocation).
struct TimeoutHook {
  void* owner = nullptr;  // the member that embeds this hook
  TimeoutHook* prev = nullptr;
  TimeoutHook* next = nullptr;
  TimeoutQueue* queue = nullptr;
  uint64_t since_ms = 0;
};

struct TimeoutQueue {
  TimeoutHook* head = nullptr;
  TimeoutHook* tail = nullptr;
  uint64_t timeout_ms = 0;  // 0: entries never expire

  // Moves `h` to the tail of this queue (leaving any queue it was in).
  void enter(TimeoutHook* h, uint64_t now_ms) {
    leave(h);
    h->queue = this;
    h->since_ms = now_ms;
    h->prev = tail;
    h->next = nullptr;
    if (tail) {
      tail->next = h;
    } else {
      head = h;
    }
    tail = h;
  }

  // Removes `h` from whichever queue holds it.
  static void leave(TimeoutHook* h) {
    TimeoutQueue* q = h->queue;
    if (!q) return;
    if (h->prev) {
      h->prev->next = h->next;
    } else {
      q->head = h->next;
    }
    if (h->next) {
      h->next->prev = h->prev;
    } else {
      q->tail = h->prev;
    }
    h->prev = h->next = nullptr;
    h->queue = nullptr;
  }

  // The head if it has expired at `now_ms`, removed from the queue; else nullptr.
  TimeoutHook* pop_expired(uint64_t now_ms) {
    if (!head || timeout_ms == 0 || now_ms - head->since_ms < timeout_ms) return nullptr;
    TimeoutHook* h = head;
    leave(h);
    return h;
  }
};

}  // namespace sprites::http

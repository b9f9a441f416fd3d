// Deadlines: every node's next moment of interest in one min-heap, served by
// one libuv timer armed for the earliest.
//
// A node has exactly one deadline at a time: while a poll is held, the moment
// that poll must be answered empty; otherwise the moment its TTL runs out. So a
// held poll costs an 8-byte heap slot and an index, not a uv_timer_t (~150
// bytes and a syscall-free but still per-handle cost in every loop turn).
//
// Dropped alternative: a FIFO list per timeout value, O(1) instead of O(log n).
// Clients may ask for any timeout_ms, so the lists would not stay sorted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sprites::master {

struct DeadlineEntry {
  static constexpr uint32_t kNotQueued = UINT32_MAX;
  uint64_t deadline_ms = 0;
  uint32_t heap_index = kNotQueued;
};

class DeadlineHeap {
 public:
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  DeadlineEntry* top() const { return heap_.front(); }

  // Queues `e` at `when`, or moves it there if already queued.
  void schedule(DeadlineEntry* e, uint64_t when);
  void cancel(DeadlineEntry* e);
  // Removes and returns the earliest entry if it is due at `now`, else nullptr.
  DeadlineEntry* pop_due(uint64_t now);

 private:
  void sift_up(uint32_t i);
  void sift_down(uint32_t i);
  void place(uint32_t i, DeadlineEntry* e) {
    heap_[i] = e;
    e->heap_index = i;
  }
  std::vector<DeadlineEntry*> heap_;
};

}  // namespace sprites::master

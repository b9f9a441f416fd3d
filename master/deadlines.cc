// See deadlines.h. A binary heap with back-indices for O(log n) reschedule.
#include "master/deadlines.h"

namespace sprites::master {

void DeadlineHeap::schedule(DeadlineEntry* e, uint64_t when) {
  if (e->heap_index == DeadlineEntry::kNotQueued) {
    e->deadline_ms = when;
    heap_.push_back(e);
    e->heap_index = static_cast<uint32_t>(heap_.size() - 1);
    sift_up(e->heap_index);
    return;
  }
  uint64_t old = e->deadline_ms;
  e->deadline_ms = when;
  if (when < old) {
    sift_up(e->heap_index);
  } else {
    sift_down(e->heap_index);
  }
}

void DeadlineHeap::cancel(DeadlineEntry* e) {
  uint32_t i = e->heap_index;
  if (i == DeadlineEntry::kNotQueued) return;
  e->heap_index = DeadlineEntry::kNotQueued;
  DeadlineEntry* last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  place(i, last);
  sift_up(i);
  sift_down(last->heap_index);
}

DeadlineEntry* DeadlineHeap::pop_due(uint64_t now) {
  if (heap_.empty() || heap_.front()->deadline_ms > now) return nullptr;
  DeadlineEntry* e = heap_.front();
  cancel(e);
  return e;
}

void DeadlineHeap::sift_up(uint32_t i) {
  DeadlineEntry* e = heap_[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (heap_[parent]->deadline_ms <= e->deadline_ms) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void DeadlineHeap::sift_down(uint32_t i) {
  DeadlineEntry* e = heap_[i];
  const auto n = static_cast<uint32_t>(heap_.size());
  while (true) {
    uint32_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->deadline_ms < heap_[child]->deadline_ms) ++child;
    if (heap_[child]->deadline_ms >= e->deadline_ms) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, e);
}

}  // namespace sprites::master

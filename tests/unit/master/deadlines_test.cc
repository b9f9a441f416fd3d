// The deadline heap against a brute-force model: long random sequences of
// schedule, reschedule (earlier and later), cancel and pop_due, checking after
// every step that the heap pops exactly the model's earliest due entry and
// never one that is not yet due.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "master/deadlines.h"

using sprites::master::DeadlineEntry;
using sprites::master::DeadlineHeap;

namespace {

constexpr uint32_t kNotQueued = DeadlineEntry::kNotQueued;

class Model {
 public:
  explicit Model(size_t n) : entries_(n) {}

  DeadlineEntry& entry(size_t i) { return entries_[i]; }
  size_t index_of(const DeadlineEntry* e) const { return static_cast<size_t>(e - entries_.data()); }
  size_t count() const { return entries_.size(); }

  std::map<size_t, uint64_t> queued;  // entry index -> deadline

  uint64_t earliest() const {
    uint64_t m = UINT64_MAX;
    for (const auto& [i, d] : queued) m = std::min(m, d);
    return m;
  }

  // Every structural fact observable from outside the heap.
  void check(const DeadlineHeap& heap) {
    REQUIRE(heap.size() == queued.size());
    REQUIRE(heap.empty() == queued.empty());
    if (!queued.empty()) REQUIRE(heap.top()->deadline_ms == earliest());
    std::set<uint32_t> indices;
    for (size_t i = 0; i < entries_.size(); ++i) {
      const DeadlineEntry& e = entries_[i];
      auto it = queued.find(i);
      if (it == queued.end()) {
        REQUIRE(e.heap_index == kNotQueued);
      } else {
        REQUIRE(e.deadline_ms == it->second);
        REQUIRE(e.heap_index < heap.size());
        REQUIRE(indices.insert(e.heap_index).second);
      }
    }
  }

 private:
  std::vector<DeadlineEntry> entries_;
};

// Pops everything due at `now`, checking each against the model.
size_t drain(DeadlineHeap& heap, Model& model, uint64_t now) {
  size_t popped = 0;
  uint64_t last = 0;
  while (DeadlineEntry* e = heap.pop_due(now)) {
    size_t i = model.index_of(e);
    REQUIRE(i < model.count());
    REQUIRE(model.queued.count(i) == 1);
    REQUIRE(e->deadline_ms <= now);                 // nothing early
    REQUIRE(e->deadline_ms == model.earliest());    // earliest first
    REQUIRE(e->deadline_ms >= last);
    REQUIRE(e->heap_index == kNotQueued);
    last = e->deadline_ms;
    model.queued.erase(i);
    ++popped;
  }
  // What is left is not due.
  REQUIRE((model.queued.empty() || model.earliest() > now));
  return popped;
}

}  // namespace

TEST_CASE("an empty heap pops nothing") {
  DeadlineHeap heap;
  CHECK(heap.empty());
  CHECK(heap.pop_due(UINT64_MAX) == nullptr);
}

TEST_CASE("an entry is popped only once its deadline has come") {
  DeadlineHeap heap;
  DeadlineEntry e;
  heap.schedule(&e, 100);
  CHECK(heap.pop_due(99) == nullptr);
  CHECK(e.heap_index != kNotQueued);
  CHECK(heap.pop_due(100) == &e);
  CHECK(e.heap_index == kNotQueued);
  CHECK(heap.empty());
}

TEST_CASE("rescheduling moves an entry both ways and cancel removes it") {
  DeadlineHeap heap;
  DeadlineEntry a, b, c;
  heap.schedule(&a, 10);
  heap.schedule(&b, 20);
  heap.schedule(&c, 30);
  heap.schedule(&c, 5);   // earlier
  heap.schedule(&a, 40);  // later
  CHECK(heap.size() == 3);
  CHECK(heap.top() == &c);
  heap.cancel(&b);
  CHECK(b.heap_index == kNotQueued);
  heap.cancel(&b);  // cancelling twice is harmless
  CHECK(heap.size() == 2);
  CHECK(heap.pop_due(100) == &c);
  CHECK(heap.pop_due(100) == &a);
  CHECK(heap.pop_due(100) == nullptr);
}

TEST_CASE("the heap matches a brute-force model under random schedules") {
  const uint64_t seed = GENERATE(1u, 2u, 3u, 42u, 1234567u);
  const size_t entries = GENERATE(1u, 7u, 300u);
  CAPTURE(seed, entries);
  std::mt19937_64 rng(seed);
  auto below = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };

  Model model(entries);
  DeadlineHeap heap;
  uint64_t now = 1000;
  size_t pops = 0, earlier = 0, later = 0, cancels = 0;

  for (int step = 0; step < 20000; ++step) {
    size_t i = below(entries);
    DeadlineEntry& e = model.entry(i);
    bool queued = model.queued.count(i) == 1;
    switch (below(6)) {
      case 0:
      case 1: {  // schedule, sometimes onto an existing deadline to make ties
        uint64_t when = below(4) == 0 && !model.queued.empty() ? model.queued.begin()->second : now + below(500);
        heap.schedule(&e, when);
        model.queued[i] = when;
        break;
      }
      case 2: {  // reschedule earlier (possibly into the past)
        if (!queued) break;
        uint64_t when = below(e.deadline_ms + 1);
        heap.schedule(&e, when);
        model.queued[i] = when;
        ++earlier;
        break;
      }
      case 3: {  // reschedule later (or to the same moment)
        if (!queued) break;
        uint64_t when = e.deadline_ms + below(700);
        heap.schedule(&e, when);
        model.queued[i] = when;
        ++later;
        break;
      }
      case 4: {
        heap.cancel(&e);
        model.queued.erase(i);
        REQUIRE(e.heap_index == kNotQueued);
        ++cancels;
        break;
      }
      case 5: {
        now += below(60);
        pops += drain(heap, model, now);
        break;
      }
    }
    if (step % 97 == 0 || entries < 10) model.check(heap);
  }
  model.check(heap);
  pops += drain(heap, model, UINT64_MAX);
  model.check(heap);
  CHECK(heap.empty());
  // The run exercised every operation.
  CHECK(pops > 100);
  CHECK(earlier > 100);
  CHECK(later > 100);
  CHECK(cancels > 100);
}

// Pacer: when a swarm child throws, in one of three workloads.
//
//   Interval  every node throws once per interval, at its own phase (drawn at
//             random once, so throws are spread evenly over the interval):
//             the original project's workload, a sprite per client every 5 s.
//   Rate      open loop: throws at a fixed total rate from random nodes,
//             whatever the relay's answers do (no coordinated omission: the
//             latency of a slow relay shows instead of a lower rate).
//   Closed    closed loop: a fixed number of throws in flight; each answer
//             sends the next.
//
// It owns the schedule only; `fire` (the child's) picks the node and sends,
// and returns false when it could not (counted as skipped). Driven by the
// child's one periodic tick plus, for Closed, each answer. Nothing is fired
// outside [start, end).
//
// Dropped alternative: a timer per node for Interval. Thousands of timers do
// what one sorted phase list and a cursor do.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "client/swarm/plan.h"

namespace sprites::swarm {

class Pacer {
 public:
  // Sends one throw, from `node` or from a random held node; false when not sent.
  using Fire = std::function<bool(std::optional<size_t> node, uint64_t now_ns)>;

  static constexpr uint64_t kMaxPerTick = 100000;

  Pacer(LoadMode mode, uint64_t interval_ms, double rate, uint32_t closed, size_t nodes, uint64_t seed);

  void start(uint64_t start_ns, uint64_t end_ns);
  // Fires whatever is due by `now_ns`.
  void tick(uint64_t now_ns, const Fire& fire);
  // Closed loop: one throw was answered.
  void on_answer(uint64_t now_ns, const Fire& fire);
  // Ends the schedule early (the parent stops the run): nothing fires from now on.
  void cut(uint64_t now_ns) { end_ns_ = std::min(end_ns_, now_ns); }
  bool started() const { return started_; }
  bool over(uint64_t now_ns) const { return started_ && now_ns >= end_ns_; }
  uint64_t end_ns() const { return end_ns_; }

 private:
  LoadMode mode_;
  uint64_t interval_ns_;
  double rate_;
  uint32_t closed_;
  bool started_ = false;
  uint64_t start_ns_ = 0;
  uint64_t end_ns_ = 0;
  // Interval: (phase offset, node) sorted by offset; the next one to fire.
  std::vector<std::pair<uint64_t, uint32_t>> phases_;
  size_t cursor_ = 0;
  uint64_t cycle_ns_ = 0;
  // Rate: throws fired so far.
  uint64_t fired_ = 0;
  // Closed: slots whose throw could not be sent, retried on the next tick.
  uint64_t idle_slots_ = 0;
  bool primed_ = false;
};

}  // namespace sprites::swarm

// See pacer.h.
#include "client/swarm/pacer.h"

#include <algorithm>
#include <cmath>

namespace sprites::swarm {

Pacer::Pacer(LoadMode mode, uint64_t interval_ms, double rate, uint32_t closed, size_t nodes, uint64_t seed)
    : mode_(mode), interval_ns_(std::max<uint64_t>(interval_ms, 1) * 1000000ull), rate_(rate), closed_(closed) {
  if (mode_ != LoadMode::Interval) return;
  std::mt19937_64 rng(seed);
  phases_.reserve(nodes);
  for (size_t i = 0; i < nodes; ++i) phases_.emplace_back(rng() % interval_ns_, static_cast<uint32_t>(i));
  std::sort(phases_.begin(), phases_.end());
}

void Pacer::start(uint64_t start_ns, uint64_t end_ns) {
  started_ = true;
  start_ns_ = start_ns;
  end_ns_ = end_ns;
  cycle_ns_ = start_ns;
  cursor_ = 0;
  fired_ = 0;
}

void Pacer::tick(uint64_t now_ns, const Fire& fire) {
  if (!started_ || now_ns < start_ns_ || end_ns_ <= start_ns_) return;
  uint64_t until = std::min(now_ns, end_ns_ - 1);  // what was due before the end, nothing after
  uint64_t budget = kMaxPerTick;
  switch (mode_) {
    case LoadMode::Interval:
      while (!phases_.empty() && budget > 0 && cycle_ns_ + phases_[cursor_].first <= until) {
        fire(phases_[cursor_].second, now_ns);
        --budget;
        if (++cursor_ == phases_.size()) {
          cursor_ = 0;
          cycle_ns_ += interval_ns_;
        }
      }
      return;
    case LoadMode::Rate: {
      double elapsed_s = static_cast<double>(until - start_ns_) / 1e9;
      auto due = static_cast<uint64_t>(std::floor(elapsed_s * rate_)) + 1;  // the first at start
      while (fired_ < due && budget > 0) {
        fire(std::nullopt, now_ns);
        ++fired_;
        --budget;
      }
      return;
    }
    case LoadMode::Closed: {
      if (now_ns >= end_ns_) return;
      if (!primed_) {
        primed_ = true;
        idle_slots_ = closed_;
      }
      uint64_t slots = idle_slots_;
      idle_slots_ = 0;
      for (uint64_t i = 0; i < slots; ++i) {
        if (!fire(std::nullopt, now_ns)) ++idle_slots_;
      }
      return;
    }
  }
}

void Pacer::on_answer(uint64_t now_ns, const Fire& fire) {
  if (mode_ != LoadMode::Closed || !started_ || now_ns >= end_ns_) return;
  if (!fire(std::nullopt, now_ns)) ++idle_slots_;
}

}  // namespace sprites::swarm

// KeptBuffer: one string that output is built in again and again, so that a
// hot path (every HTTP answer, every poll answer) allocates nothing once the
// string has grown to its usual size.
//
// Taken, not borrowed: take() hands the string over (emptied, its capacity
// kept) and give_back() returns it. Code that builds a second output while the
// first is still out (a callback that answers another connection) simply gets
// a fresh string, and whichever comes back last is kept. A string grown past
// `max_kept` bytes by a rare large output is dropped rather than kept.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

namespace sprites {

class KeptBuffer {
 public:
  explicit KeptBuffer(size_t max_kept) : max_kept_(max_kept) {}

  std::string take() {
    std::string b = std::move(kept_);
    b.clear();
    return b;
  }
  void give_back(std::string&& b) {
    if (b.capacity() <= max_kept_) kept_ = std::move(b);
  }

 private:
  size_t max_kept_;
  std::string kept_;
};

}  // namespace sprites

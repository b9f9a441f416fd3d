// Grid: one group's torus (docs/API.md "Grid").
//
// Members sit in a dense array of slots 0..n-1 with a fixed width W; slot i is at
// row i / W, column i % W. Left/right wrap within the (possibly short) last row,
// up/down within the (possibly short) column. A join appends; a leave moves the
// last member into the hole. Both are O(1): only a bounded set of slots around
// the changed ones can see a different neighbour, so the grid snapshots the
// views of that set, applies the change and reports the members whose view
// really changed. That is the whole list of `neighbors` events to send.
//
// The grid knows members only as GridMember (a slot number); the master's Node
// derives from it. This keeps the grid testable against a brute-force model with
// no sockets or mailboxes around (tests/unit/grid_test.cc).
//
// Dropped alternative: a linked 2-D mesh with explicit neighbour pointers. It
// needs re-stitching on every leave and gives no simple rule a client can reason
// about; the dense array makes every position a pure function of (slot, n, W).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "common/direction.h"

namespace sprites::master {

struct GridMember {
  uint32_t slot = 0;
};

struct Position {
  uint32_t row = 0;
  uint32_t col = 0;
  bool operator==(const Position&) const = default;
};

// What a member sees: its place and its four neighbours.
struct View {
  Position position;
  std::array<const GridMember*, 4> neighbours{};  // indexed by Direction
  bool operator==(const View&) const = default;
};

class Grid {
 public:
  explicit Grid(uint32_t width) : width_(width == 0 ? 1 : width) {}

  uint32_t width() const { return width_; }
  uint32_t size() const { return static_cast<uint32_t>(slots_.size()); }
  bool empty() const { return slots_.empty(); }
  GridMember* at(uint32_t slot) const { return slots_[slot]; }

  Position position(uint32_t slot) const { return {slot / width_, slot % width_}; }
  uint32_t neighbour_slot(uint32_t slot, Direction d) const;
  GridMember* neighbour(const GridMember& m, Direction d) const { return slots_[neighbour_slot(m.slot, d)]; }
  View view(const GridMember& m) const;

  // Places `m` in slot n. Appends to `changed` every other member whose view
  // changed (the joiner itself is not included).
  void join(GridMember* m, std::vector<GridMember*>& changed);
  // Removes `m`. Appends to `changed` every remaining member whose view changed
  // (the member moved into the hole included, when its view changed).
  void leave(GridMember* m, std::vector<GridMember*>& changed);

 private:
  struct Snapshot {
    GridMember* member;
    View before;
  };
  void remember(uint32_t slot, std::vector<Snapshot>& seen) const;
  void report(const std::vector<Snapshot>& seen, const GridMember* gone,
              std::vector<GridMember*>& changed) const;

  uint32_t width_;
  std::vector<GridMember*> slots_;
};

}  // namespace sprites::master

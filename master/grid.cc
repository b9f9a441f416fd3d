// See grid.h. The candidate slots for a change are listed explicitly; the unit
// test compares the reported changes with a full recomputation of every view.
#include "master/grid.h"

#include <algorithm>

namespace sprites::master {

uint32_t Grid::neighbour_slot(uint32_t slot, Direction d) const {
  const uint32_t n = size();
  const uint32_t row = slot / width_;
  const uint32_t col = slot % width_;
  const uint32_t row_start = row * width_;
  const uint32_t row_len = std::min(n - row_start, width_);
  // Rows of column `col`: those whose start + col is still below n.
  const uint32_t col_height = (n - col + width_ - 1) / width_;
  switch (d) {
    case Direction::Left: return row_start + (col + row_len - 1) % row_len;
    case Direction::Right: return row_start + (col + 1) % row_len;
    case Direction::Up: return ((row + col_height - 1) % col_height) * width_ + col;
    case Direction::Down: return ((row + 1) % col_height) * width_ + col;
  }
  return slot;
}

View Grid::view(const GridMember& m) const {
  View v;
  v.position = position(m.slot);
  for (Direction d : kAllDirections) v.neighbours[static_cast<size_t>(d)] = neighbour(m, d);
  return v;
}

void Grid::remember(uint32_t slot, std::vector<Snapshot>& seen) const {
  if (slot >= size()) return;
  GridMember* m = slots_[slot];
  for (const Snapshot& s : seen) {
    if (s.member == m) return;
  }
  seen.push_back(Snapshot{m, view(*m)});
}

void Grid::report(const std::vector<Snapshot>& seen, const GridMember* gone,
                  std::vector<GridMember*>& changed) const {
  for (const Snapshot& s : seen) {
    if (s.member == gone) continue;
    if (!(view(*s.member) == s.before)) changed.push_back(s.member);
  }
}

void Grid::join(GridMember* m, std::vector<GridMember*>& changed) {
  const uint32_t n = size();
  std::vector<Snapshot> seen;
  if (n > 0) {
    // The new slot n extends its row (whose first and last members wrap to it)
    // and its column (whose top and bottom members wrap to it).
    const uint32_t col = n % width_;
    remember(n - col, seen);                   // first of the row
    if (col > 0) remember(n - 1, seen);        // last of the row so far
    remember(col, seen);                       // top of the column
    if (n >= width_) remember(n - width_, seen);  // bottom of the column so far
  }
  m->slot = n;
  slots_.push_back(m);
  report(seen, m, changed);
}

void Grid::leave(GridMember* m, std::vector<GridMember*>& changed) {
  const uint32_t hole = m->slot;
  const uint32_t last = size() - 1;
  std::vector<Snapshot> seen;
  for (Direction d : kAllDirections) {
    remember(neighbour_slot(hole, d), seen);
    remember(neighbour_slot(last, d), seen);
  }
  remember(last, seen);
  // Removing slot `last` shortens its row and its column.
  const uint32_t col = last % width_;
  remember(last - col, seen);
  if (col > 0) remember(last - 1, seen);
  remember(col, seen);
  if (last >= width_) remember(last - width_, seen);

  if (hole != last) {
    slots_[hole] = slots_[last];
    slots_[hole]->slot = hole;
  }
  slots_.pop_back();
  report(seen, m, changed);
}

}  // namespace sprites::master

// The grid against a brute-force model: after every join or leave, each
// member's view is recomputed from scratch by scanning rows and columns, and the
// members the grid reported as changed must be exactly those whose recomputed
// view differs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "master/grid.h"

using sprites::Direction;
using sprites::master::Grid;
using sprites::master::GridMember;

namespace {

struct ModelView {
  uint32_t row, col;
  const GridMember* left;
  const GridMember* right;
  const GridMember* up;
  const GridMember* down;
  bool operator==(const ModelView&) const = default;
};

// Independent of Grid's arithmetic: lists row and column members explicitly.
std::map<const GridMember*, ModelView> model_views(const std::vector<GridMember*>& slots, uint32_t w) {
  std::map<const GridMember*, ModelView> out;
  const auto n = static_cast<uint32_t>(slots.size());
  for (uint32_t i = 0; i < n; ++i) {
    std::vector<uint32_t> row, col;
    for (uint32_t j = 0; j < n; ++j) {
      if (j / w == i / w) row.push_back(j);
      if (j % w == i % w) col.push_back(j);
    }
    auto ri = static_cast<size_t>(std::find(row.begin(), row.end(), i) - row.begin());
    auto ci = static_cast<size_t>(std::find(col.begin(), col.end(), i) - col.begin());
    ModelView v{i / w,
                i % w,
                slots[row[(ri + row.size() - 1) % row.size()]],
                slots[row[(ri + 1) % row.size()]],
                slots[col[(ci + col.size() - 1) % col.size()]],
                slots[col[(ci + 1) % col.size()]]};
    out.emplace(slots[i], v);
  }
  return out;
}

std::set<const GridMember*> differing(const std::map<const GridMember*, ModelView>& before,
                                      const std::map<const GridMember*, ModelView>& after) {
  std::set<const GridMember*> out;
  for (const auto& [m, v] : after) {
    auto it = before.find(m);
    if (it != before.end() && !(it->second == v)) out.insert(m);
  }
  return out;
}

void check_matches_model(const Grid& grid, const std::vector<GridMember*>& model) {
  REQUIRE(grid.size() == model.size());
  auto views = model_views(model, grid.width());
  for (uint32_t i = 0; i < model.size(); ++i) {
    REQUIRE(grid.at(i) == model[i]);
    REQUIRE(model[i]->slot == i);
    const ModelView& v = views.at(model[i]);
    REQUIRE(grid.neighbour(*model[i], Direction::Left) == v.left);
    REQUIRE(grid.neighbour(*model[i], Direction::Right) == v.right);
    REQUIRE(grid.neighbour(*model[i], Direction::Up) == v.up);
    REQUIRE(grid.neighbour(*model[i], Direction::Down) == v.down);
    REQUIRE(grid.position(i).row == v.row);
    REQUIRE(grid.position(i).col == v.col);
    // The inverse laws of docs/API.md.
    REQUIRE(grid.neighbour(*grid.neighbour(*model[i], Direction::Left), Direction::Right) == model[i]);
    REQUIRE(grid.neighbour(*grid.neighbour(*model[i], Direction::Up), Direction::Down) == model[i]);
  }
}

}  // namespace

TEST_CASE("a lone member is its own neighbour in every direction") {
  Grid grid(8);
  GridMember a;
  std::vector<GridMember*> changed;
  grid.join(&a, changed);
  CHECK(changed.empty());
  for (Direction d : sprites::kAllDirections) CHECK(grid.neighbour(a, d) == &a);
}

TEST_CASE("a short last row and short columns wrap within themselves") {
  // W = 3, n = 5:   0 1 2
  //                 3 4
  Grid grid(3);
  std::vector<GridMember> m(5);
  std::vector<GridMember*> changed;
  for (auto& x : m) grid.join(&x, changed);
  CHECK(grid.neighbour(m[3], Direction::Left) == &m[4]);
  CHECK(grid.neighbour(m[4], Direction::Right) == &m[3]);
  CHECK(grid.neighbour(m[2], Direction::Up) == &m[2]);  // column 2 holds only slot 2
  CHECK(grid.neighbour(m[2], Direction::Down) == &m[2]);
  CHECK(grid.neighbour(m[1], Direction::Up) == &m[4]);
  CHECK(grid.neighbour(m[4], Direction::Down) == &m[1]);
}

TEST_CASE("a leave moves the last member into the hole") {
  Grid grid(2);
  std::vector<GridMember> m(5);
  std::vector<GridMember*> changed;
  for (auto& x : m) grid.join(&x, changed);
  changed.clear();
  grid.leave(&m[1], changed);
  CHECK(grid.size() == 4);
  CHECK(grid.at(1) == &m[4]);
  CHECK(m[4].slot == 1);
  CHECK(std::find(changed.begin(), changed.end(), &m[4]) != changed.end());
  CHECK(std::find(changed.begin(), changed.end(), &m[1]) == changed.end());
}

TEST_CASE("joins and leaves report exactly the members whose view changed") {
  for (uint32_t width : {1u, 2u, 3u, 5u, 8u}) {
    std::mt19937 rng(1234 + width);
    Grid grid(width);
    std::vector<std::unique_ptr<GridMember>> pool;
    std::vector<GridMember*> model;
    size_t max_changed = 0;
    for (int step = 0; step < 3000; ++step) {
      bool join = model.empty() || (model.size() < 60 && rng() % 100 < 55);
      auto before = model_views(model, width);
      std::vector<GridMember*> changed;
      if (join) {
        pool.push_back(std::make_unique<GridMember>());
        GridMember* m = pool.back().get();
        grid.join(m, changed);
        model.push_back(m);
      } else {
        auto index = static_cast<size_t>(rng() % model.size());
        GridMember* m = model[index];
        grid.leave(m, changed);
        model[index] = model.back();
        model.pop_back();
        before.erase(m);
      }
      check_matches_model(grid, model);
      auto expected = differing(before, model_views(model, width));
      std::set<const GridMember*> reported(changed.begin(), changed.end());
      INFO("width " << width << " step " << step << " n " << model.size());
      REQUIRE(reported.size() == changed.size());  // each member reported once
      REQUIRE(reported == expected);
      max_changed = std::max(max_changed, changed.size());
    }
    // A change touches a bounded number of members, whatever n is.
    CHECK(max_changed <= 14);
  }
}

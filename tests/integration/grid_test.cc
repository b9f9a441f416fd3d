// The grid: slots filled row by row, neighbours that wrap within a row and a
// column, leave by moving the last node into the hole, and `neighbors` events
// for exactly the nodes whose view changed (docs/API.md "Grid").
//
// The expectations come from a direct transcription of the protocol's rules
// (GridModel below); one test also spells out the 5-node layout by hand, so a
// slip in the model cannot hide a slip in the server.
#include <map>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

// The protocol's grid, literally: a dense slot array and a width.
class GridModel {
 public:
  explicit GridModel(int width) : width_(width) {}

  void join(const Node& node) {
    slots_.push_back(node.id);
    names_[node.id] = node.name;
  }
  void leave(const std::string& id) {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i] == id) {
        slots_[i] = slots_.back();
        slots_.pop_back();
        return;
      }
    }
    FAIL("model: no node " << id);
  }
  const std::vector<std::string>& slots() const { return slots_; }

  // {"position": {...}, "neighbors": {...}} of the node in `slot`.
  Json view(int slot) const {
    int n = static_cast<int>(slots_.size());
    int row = slot / width_;
    int col = slot % width_;
    int row_start = row * width_;
    int row_len = std::min(width_, n - row_start);
    int col_len = (n - 1 - col) / width_ + 1;  // slots col, col+W, ... < n
    auto at = [&](int s) { return Json{{"node", slots_[s]}, {"name", names_.at(slots_[s])}}; };
    Json neighbours{
        {"left", at(row_start + (col - 1 + row_len) % row_len)},
        {"right", at(row_start + (col + 1) % row_len)},
        {"up", at(col + ((row - 1 + col_len) % col_len) * width_)},
        {"down", at(col + ((row + 1) % col_len) * width_)},
    };
    return Json{{"position", Json{{"row", row}, {"col", col}}}, {"neighbors", neighbours}};
  }
  std::map<std::string, Json> views() const {
    std::map<std::string, Json> out;
    for (std::size_t i = 0; i < slots_.size(); ++i) out[slots_[i]] = view(static_cast<int>(i));
    return out;
  }

 private:
  int width_;
  std::vector<std::string> slots_;
  std::map<std::string, std::string> names_;
};

Json view_of(const Json& j) { return Json{{"position", j.at("position")}, {"neighbors", j.at("neighbors")}}; }

Json info_view(std::uint16_t port, const Node& node) {
  Response r = node_info(port, node);
  REQUIRE_STATUS(r, 200);
  return view_of(r.json());
}

// Every node's mailbox must hold exactly one `neighbors` event, carrying its
// new view, if its view changed between `before` and `after`, and none
// otherwise.
void check_told_exactly_the_changed(std::map<std::string, Inbox>& inboxes, const std::map<std::string, Json>& before,
                                    const std::map<std::string, Json>& after) {
  for (const auto& [id, view] : after) {
    INFO("node " << id);
    auto it = inboxes.find(id);
    REQUIRE(it != inboxes.end());
    std::vector<Json> events = it->second.drain();
    std::vector<Json> told = of_type(events, "neighbors");
    CHECK(told.size() == events.size());
    auto old = before.find(id);
    bool changed = old == before.end() ? false : old->second != view;
    if (old == before.end()) {
      CHECK(told.empty());  // the joiner learns its place from its 201
    } else if (changed) {
      REQUIRE(told.size() == 1);
      CHECK(view_of(told[0]) == view);
    } else {
      CHECK(told.empty());
    }
  }
}

TEST_CASE("joins with width 2 give the exact positions and wrapping neighbours of the protocol") {
  RelayProcess relay({"--grid-width", "2"});
  std::uint16_t port = relay.master_port();
  GridModel model(2);
  std::vector<Node> nodes;
  for (int i = 0; i < 5; ++i) {
    Node n = join(port, "g", "n" + std::to_string(i));
    model.join(n);
    nodes.push_back(n);
    INFO("after join " << i + 1);
    CHECK(view_of(n.joined) == model.view(i));
    for (int k = 0; k <= i; ++k) {
      INFO("node " << k);
      CHECK(info_view(port, nodes[k]) == model.view(k));
    }
  }

  // The 5-node layout spelled out: rows [0 1] [2 3] [4], columns [0 2 4] [1 3].
  auto ids = [&](const Json& view) {
    std::map<std::string, std::string> out;
    for (const char* d : {"left", "right", "up", "down"}) out[d] = view["neighbors"][d]["node"].get<std::string>();
    return out;
  };
  auto expect = [&](int slot, int row, int col, int left, int right, int up, int down) {
    INFO("slot " << slot);
    Json v = info_view(port, nodes[slot]);
    CHECK(v["position"] == Json{{"row", row}, {"col", col}});
    std::map<std::string, std::string> want{{"left", nodes[left].id},
                                            {"right", nodes[right].id},
                                            {"up", nodes[up].id},
                                            {"down", nodes[down].id}};
    CHECK(ids(v) == want);
  };
  expect(0, 0, 0, 1, 1, 4, 2);
  expect(1, 0, 1, 0, 0, 3, 3);
  expect(2, 1, 0, 3, 3, 0, 4);
  expect(3, 1, 1, 2, 2, 1, 1);
  expect(4, 2, 0, 4, 4, 2, 0);
  // Names travel with the neighbours.
  CHECK(info_view(port, nodes[4])["neighbors"]["up"]["name"] == "n2");
}

TEST_CASE("a node alone is its own neighbour in every direction") {
  RelayProcess relay({"--grid-width", "2"});
  Node a = join(relay.master_port(), "solo", "a");
  for (const char* d : {"left", "right", "up", "down"}) {
    CHECK(a.joined["neighbors"][d] == Json{{"node", a.id}, {"name", "a"}});
  }
}

TEST_CASE("the default grid width is 8") {
  RelayProcess relay;
  std::vector<Node> nodes;
  for (int i = 0; i < 9; ++i) nodes.push_back(join(relay.master_port(), "w", "n" + std::to_string(i)));
  CHECK(nodes[7].joined["position"] == Json{{"row", 0}, {"col", 7}});
  CHECK(nodes[7].joined["neighbors"]["right"]["node"] == nodes[0].id);
  CHECK(nodes[8].joined["position"] == Json{{"row", 1}, {"col", 0}});
  CHECK(nodes[8].joined["neighbors"]["up"]["node"] == nodes[0].id);
  CHECK(nodes[8].joined["neighbors"]["left"]["node"] == nodes[8].id);
}

TEST_CASE("a join tells exactly the nodes whose view changed, once each") {
  RelayProcess relay({"--grid-width", "2"});
  std::uint16_t port = relay.master_port();
  GridModel model(2);
  std::map<std::string, Inbox> inboxes;
  for (int i = 0; i < 6; ++i) {
    auto before = model.views();
    Node n = join(port, "g", "n" + std::to_string(i));
    model.join(n);
    inboxes.emplace(n.id, Inbox(port, n));
    INFO("join " << i + 1);
    check_told_exactly_the_changed(inboxes, before, model.views());
  }
}

TEST_CASE("a leave moves the last node into the hole and tells exactly the changed nodes") {
  RelayProcess relay({"--grid-width", "2"});
  std::uint16_t port = relay.master_port();
  GridModel model(2);
  std::map<std::string, Inbox> inboxes;
  std::vector<Node> nodes;
  for (int i = 0; i < 7; ++i) {
    Node n = join(port, "g", "n" + std::to_string(i));
    model.join(n);
    nodes.push_back(n);
    inboxes.emplace(n.id, Inbox(port, n));
  }
  for (auto& [id, inbox] : inboxes) inbox.drain();

  // Slot 1 (a middle one), then the last slot, then slot 0.
  for (int slot : {1, 5, 0}) {
    const std::string leaver_id = model.slots()[static_cast<std::size_t>(slot)];
    const std::string last_id = model.slots().back();
    Node leaver = inboxes.at(leaver_id).node();
    INFO("leave of slot " << slot);
    auto before = model.views();
    before.erase(leaver_id);
    REQUIRE_STATUS(leave(port, leaver), 204);
    model.leave(leaver_id);
    inboxes.erase(leaver_id);
    if (leaver_id != last_id) {
      CHECK(model.slots()[static_cast<std::size_t>(slot)] == last_id);  // the model moved it...
      CHECK(info_view(port, inboxes.at(last_id).node()) == model.view(slot));  // ...and so did the server
    }
    check_told_exactly_the_changed(inboxes, before, model.views());
    for (std::size_t s = 0; s < model.slots().size(); ++s) {
      INFO("slot " << s);
      CHECK(info_view(port, inboxes.at(model.slots()[s]).node()) == model.view(static_cast<int>(s)));
    }
  }
}

TEST_CASE("groups keep separate grids") {
  RelayProcess relay({"--grid-width", "2"});
  std::uint16_t port = relay.master_port();
  Node a1 = join(port, "a", "a1");
  Node b1 = join(port, "b", "b1");
  Node a2 = join(port, "a", "a2");
  CHECK(a2.joined["position"] == Json{{"row", 0}, {"col", 1}});
  CHECK(a2.joined["neighbors"]["left"]["node"] == a1.id);
  Json b_view = info_view(port, b1);
  CHECK(b_view["position"] == Json{{"row", 0}, {"col", 0}});
  for (const char* d : {"left", "right", "up", "down"}) CHECK(b_view["neighbors"][d]["node"] == b1.id);
  // b1's view never changed: no event.
  Inbox b_inbox(port, b1);
  CHECK(b_inbox.drain().empty());
}

}  // namespace
}  // namespace sprites::test

// One grid per group across the cluster (docs/API.md "Clusters"): three
// relays on a real nats-server, one group, nodes joining and leaving at all
// three. After every step every node's place matches a single-grid model
// (docs/API.md "The grid"), and exactly the nodes whose view changed got one
// `neighbors` event. Then sprites cross relays along that grid, and a relay
// killed with SIGKILL leaves it: its nodes go, their neighbours are told, and
// sprites its nodes had not read come back to their throwers.
#include <signal.h>

#include <catch2/catch.hpp>

#include <array>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "support/cluster_tools.h"
#include "support/http_client.h"
#include "support/nats_server.h"
#include "support/relay_process.h"

using namespace sprites::test;

namespace {

constexpr int kWidth = 3;
constexpr int kRelayTimeoutMs = 1500;
const char* const kDirections[] = {"left", "right", "up", "down"};

struct ModelView {
  int row = 0, col = 0;
  std::array<std::string, 4> neighbours;
  bool operator==(const ModelView&) const = default;
};

// The grid rules of docs/API.md, computed the slow way.
ModelView model_view(const std::vector<std::string>& slots, int i) {
  const int n = static_cast<int>(slots.size());
  const int row = i / kWidth, col = i % kWidth;
  const int row_start = row * kWidth;
  const int row_len = std::min(n - row_start, kWidth);
  const int col_height = (n - col + kWidth - 1) / kWidth;
  ModelView v;
  v.row = row;
  v.col = col;
  v.neighbours[0] = slots[row_start + (col + row_len - 1) % row_len];
  v.neighbours[1] = slots[row_start + (col + 1) % row_len];
  v.neighbours[2] = slots[((row + col_height - 1) % col_height) * kWidth + col];
  v.neighbours[3] = slots[((row + 1) % col_height) * kWidth + col];
  return v;
}

std::map<std::string, ModelView> model_views(const std::vector<std::string>& slots) {
  std::map<std::string, ModelView> out;
  for (int i = 0; i < static_cast<int>(slots.size()); ++i) out[slots[i]] = model_view(slots, i);
  return out;
}

ModelView seen_view(const Json& place) {
  ModelView v;
  v.row = place["position"]["row"].get<int>();
  v.col = place["position"]["col"].get<int>();
  for (int d = 0; d < 4; ++d) v.neighbours[d] = place["neighbors"][kDirections[d]]["node"].get<std::string>();
  return v;
}

std::string describe(const ModelView& v) {
  std::string out = "(" + std::to_string(v.row) + "," + std::to_string(v.col) + ")";
  for (const auto& n : v.neighbours) out += " " + n;
  return out;
}

std::unique_ptr<RelayProcess> relay_on(const NatsServer& nats, const std::string& id) {
  RelayOptions options;
  options.workers = 1;
  options.args = {"--nats", nats.url(), "--relay-id", id, "--relay-timeout-ms", std::to_string(kRelayTimeoutMs),
                  "--grid-width", std::to_string(kWidth), "--node-ttl-ms", "600000"};
  return std::make_unique<RelayProcess>(options);
}

struct Member {
  RelayProcess* home;
  std::unique_ptr<Inbox> inbox;
  std::vector<Json> other_events;  // what check_events() polled that was not a neighbors event
};

// The cluster under test: three relays, the nodes, the model.
struct Cluster {
  NatsServer nats;
  std::vector<std::unique_ptr<RelayProcess>> relays;
  std::map<std::string, Member> members;
  std::vector<std::string> slots;  // the model

  Cluster() {
    for (const char* id : {"ra", "rb", "rc"}) relays.push_back(relay_on(nats, id));
    wait_for_cluster({relays[0].get(), relays[1].get(), relays[2].get()}, {"ra", "rb", "rc"});
  }

  // Every node's unseen events: exactly one neighbors event, with the
  // model's view, for those whose view changed; none for the others.
  void check_events(const std::map<std::string, ModelView>& before, const std::string& skip) {
    const auto after = model_views(slots);
    for (auto& [id, m] : members) {
      if (id == skip) continue;
      INFO("polling " << id << " at " << m.home->relay_id());
      std::vector<Json> events = m.inbox->poll(0);
      std::vector<Json> moves = of_type(events, "neighbors");
      for (const Json& e : events) {
        if (e["type"] != "neighbors") m.other_events.push_back(e);
      }
      auto was = before.find(id);
      const bool changed = was == before.end() || !(was->second == after.at(id));
      INFO("node " << id << " at " << m.home->relay_id() << ": model " << describe(after.at(id)));
      if (changed) {
        REQUIRE(moves.size() == 1);
        CHECK(describe(seen_view(moves[0])) == describe(after.at(id)));
      } else {
        CHECK(moves.empty());
      }
    }
  }

  std::string join_at(RelayProcess* relay, const std::string& name) {
    const auto before = model_views(slots);
    Node n = join(relay->master_port(), "g", name);
    CHECK(n.id.rfind(relay->relay_id() + "-", 0) == 0);
    slots.push_back(n.id);
    const auto after = model_views(slots);
    INFO("joiner " << n.id << " at " << relay->relay_id());
    CHECK(describe(seen_view(n.joined)) == describe(after.at(n.id)));
    std::string id = n.id;
    members[id] = Member{relay, std::make_unique<Inbox>(relay->master_port(), std::move(n)), {}};
    check_events(before, id);
    return id;
  }

  // True when the places the homes report form one grid of all members,
  // by the model's rules; `by_slot` gets its slots.
  bool one_grid(std::vector<std::string>& by_slot) {
    const size_t n = members.size();
    by_slot.assign(n, "");
    std::map<std::string, ModelView> seen;
    for (const auto& [id, m] : members) {
      Response info = node_info(m.home->master_port(), m.inbox->node());
      if (info.status != 200) return false;
      seen[id] = seen_view(info.json());
      const size_t slot = static_cast<size_t>(seen[id].row * kWidth + seen[id].col);
      if (slot >= n || !by_slot[slot].empty()) return false;
      by_slot[slot] = id;
    }
    const auto model = model_views(by_slot);
    for (const auto& [id, v] : seen) {
      if (!(v == model.at(id))) return false;
    }
    return true;
  }

  void leave_of(const std::string id) {  // a copy: the slots it may come from change
    const auto before = model_views(slots);
    Member& m = members.at(id);
    REQUIRE_STATUS(leave(m.home->master_port(), m.inbox->node()), 204);
    auto it = std::find(slots.begin(), slots.end(), id);
    const size_t hole = static_cast<size_t>(it - slots.begin());
    slots[hole] = slots.back();
    slots.pop_back();
    members.erase(id);
    check_events(before, id);
  }
};

}  // namespace

TEST_CASE("three relays, one group: every join and leave matches the single-grid model, events exactly",
          "[cluster]") {
  Cluster c;
  std::mt19937 random(20261204);
  int joined = 0;
  for (int step = 0; step < 60; ++step) {
    INFO("step " << step);
    const bool join_now = c.slots.size() < 3 || (c.slots.size() < 14 && random() % 3 != 0);
    if (join_now) {
      RelayProcess* at = c.relays[random() % 3].get();
      c.join_at(at, "n" + std::to_string(joined++));
    } else {
      c.leave_of(c.slots[random() % c.slots.size()]);
    }
  }
  // The grid as each node's home reports it is the model's.
  const auto views = model_views(c.slots);
  for (const auto& [id, m] : c.members) {
    Response info = node_info(m.home->master_port(), m.inbox->node());
    REQUIRE_STATUS(info, 200);
    CHECK(describe(seen_view(info.json())) == describe(views.at(id)));
  }
}

TEST_CASE("sprites cross relays along the one grid, each 202 delivered once", "[cluster]") {
  Cluster c;
  for (int i = 0; i < 9; ++i) c.join_at(c.relays[i % 3].get(), "n" + std::to_string(i));
  const auto views = model_views(c.slots);
  std::map<std::string, std::multiset<std::string>> expected;
  int n = 0;
  for (const auto& [id, m] : c.members) {
    for (int d = 0; d < 4; ++d) {
      const std::string sprite_id = "s" + std::to_string(n++);
      // Thrown at a relay that is not the thrower's home half of the time.
      RelayProcess* at = c.relays[n % 3].get();
      Response r = throw_sprite(at->worker_port(), m.inbox->node(), kDirections[d], R"({"k":1})", sprite_id);
      REQUIRE_STATUS(r, 202);
      const std::string& receiver = views.at(id).neighbours[d];
      CHECK(r.json()["to"]["node"] == receiver);
      expected[receiver].insert(sprite_id);
    }
  }
  std::uint64_t accepted = 0;
  for (const auto& relay : c.relays) {
    accepted += stats(relay->master_port())["sprites"]["accepted"].get<std::uint64_t>();
  }
  CHECK(accepted == static_cast<std::uint64_t>(n));  // each counted once, by its thrower's home
  std::uint64_t across = 0, expected_across = 0;
  for (const auto& relay : c.relays) across += stats(relay->master_port())["cluster"]["thrown_across"].get<std::uint64_t>();
  for (const auto& [id, m] : c.members) {
    for (int d = 0; d < 4; ++d) expected_across += c.members.at(views.at(id).neighbours[d]).home != m.home ? 1 : 0;
  }
  CHECK(across == expected_across);
  for (auto& [id, m] : c.members) {
    std::multiset<std::string> got;
    for (const Json& e : of_type(m.inbox->drain(), "sprite")) got.insert(e["id"].get<std::string>());
    INFO("receiver " << id);
    CHECK(got == expected[id]);
  }
  // Read sprites are forgotten by their throwers' homes.
  for (const auto& relay : c.relays) {
    Json s = stats_when(relay->master_port(), [](Json& j) { return j["cluster"]["kept_copies"] == 0; });
    CHECK(s["cluster"]["kept_copies"] == 0);
  }
}

TEST_CASE("a relay killed with SIGKILL leaves the grid, its unread sprites come back to their throwers",
          "[cluster]") {
  Cluster c;
  for (int i = 0; i < 9; ++i) c.join_at(c.relays[i % 3].get(), "n" + std::to_string(i));
  RelayProcess* doomed = c.relays[1].get();
  // Every live node throws at each neighbour at the doomed relay; none reads.
  const auto views = model_views(c.slots);
  std::map<std::string, std::multiset<std::string>> thrown;  // thrower -> sprite ids sent to doomed nodes
  int n = 0;
  for (const auto& [id, m] : c.members) {
    if (m.home == doomed) continue;
    for (int d = 0; d < 4; ++d) {
      const std::string& receiver = views.at(id).neighbours[d];
      if (c.members.at(receiver).home != doomed) continue;
      const std::string sprite_id = "s" + std::to_string(n++);
      REQUIRE_STATUS(throw_sprite(m.home->worker_port(), m.inbox->node(), kDirections[d], "{}", sprite_id), 202);
      thrown[id].insert(sprite_id);
    }
  }
  REQUIRE(n > 0);

  kill_relay(*doomed);
  const auto killed_at = std::chrono::steady_clock::now();

  // The model: the doomed relay's nodes leave, in some order. Each live
  // node ends with the model's view, and sees its sprites come back.
  std::vector<std::string> lost;
  for (const auto& [id, m] : c.members) {
    if (m.home == doomed) lost.push_back(id);
  }
  for (const auto& id : lost) {
    auto it = std::find(c.slots.begin(), c.slots.end(), id);
    *it = c.slots.back();
    c.slots.pop_back();
    c.members.erase(id);
  }
  for (auto& [id, m] : c.members) {
    std::multiset<std::string> back;
    while (back.size() < thrown[id].size()) {
      Json e = m.inbox->wait_for([](const Json& ev) { return ev["type"] == "returned"; },
                                 std::chrono::milliseconds(kRelayTimeoutMs + 5000));
      back.insert(e["id"].get<std::string>());
    }
    INFO("thrower " << id);
    CHECK(back == thrown[id]);
  }
  CHECK(std::chrono::steady_clock::now() - killed_at < std::chrono::milliseconds(kRelayTimeoutMs + 1000 + 1000));
  // Every live node's place ends as one valid grid of the live nodes (each
  // relay notices the loss on its own clock: places may still be on their way).
  std::vector<std::string> by_slot;
  REQUIRE(retry_until([&] { return c.one_grid(by_slot); }, std::chrono::seconds(10)));
}

TEST_CASE("the relay that keeps a group dies: another rebuilds the grid, holes filled, and it goes on as one grid",
          "[cluster]") {
  Cluster c;
  for (int i = 0; i < 11; ++i) c.join_at(c.relays[i % 3].get(), "n" + std::to_string(i));
  RelayProcess* owner = nullptr;
  for (const auto& relay : c.relays) {
    if (stats(relay->master_port())["cluster"]["groups_kept"] == 1) owner = relay.get();
  }
  REQUIRE(owner != nullptr);
  std::map<std::string, int> old_slot;
  for (int i = 0; i < static_cast<int>(c.slots.size()); ++i) old_slot[c.slots[i]] = i;

  kill_relay(*owner);
  for (auto it = c.members.begin(); it != c.members.end();) {
    it = it->second.home == owner ? c.members.erase(it) : std::next(it);
  }
  const size_t n = c.members.size();

  // Every live relay has declared the owner gone (each on its own clock;
  // until then a relay may still send a join to the dead owner, which would
  // be answered 503 after its timeout), and every live node's home reports a
  // place of one valid grid of n.
  std::vector<RelayProcess*> live;
  std::set<std::string> live_ids;
  for (const auto& relay : c.relays) {
    if (relay.get() == owner) continue;
    live.push_back(relay.get());
    live_ids.insert(relay->relay_id());
  }
  wait_for_cluster(live, live_ids);
  std::vector<std::string> by_slot;
  REQUIRE(retry_until([&] { return c.one_grid(by_slot); }, std::chrono::milliseconds(kRelayTimeoutMs + 1000 + 5000)));
  // A node kept its slot, or it came from past the end into a hole.
  for (size_t slot = 0; slot < n; ++slot) {
    const int was = old_slot.at(by_slot[slot]);
    INFO(by_slot[slot] << " was at " << was << ", now at " << slot);
    CHECK((was == static_cast<int>(slot) || was >= static_cast<int>(n)));
  }
  // From here the rebuilt grid is the model: joins and leaves follow it.
  c.slots = by_slot;
  for (auto& [id, m] : c.members) m.inbox->drain();
  c.join_at(live[0], "after-0");
  c.join_at(live[1], "after-1");
  c.leave_of(c.slots[1]);
  c.join_at(live[1], "after-2");
}

TEST_CASE("with NATS away, a join in a group another relay keeps is 503 cluster_unavailable", "[cluster]") {
  Cluster c;
  c.join_at(c.relays[0].get(), "n0");
  RelayProcess* keeper = nullptr;
  for (const auto& relay : c.relays) {
    if (stats(relay->master_port())["cluster"]["groups_kept"] == 1) keeper = relay.get();
  }
  REQUIRE(keeper != nullptr);
  RelayProcess* other = keeper == c.relays[0].get() ? c.relays[1].get() : c.relays[0].get();
  c.nats.stop();
  Response r;
  REQUIRE(retry_until(
      [&] {
        r = join_raw(other->master_port(), R"({"group":"g","name":"late"})");
        return r.status == 503;
      },
      std::chrono::seconds(4)));
  check_error(r, 503, "cluster_unavailable");
  CHECK(r.header("Retry-After") == "1");
  // The keeper's own joins go on.
  Response mine = join_raw(keeper->master_port(), R"({"group":"g","name":"local"})");
  CHECK(mine.status == 201);
}

TEST_CASE("a planned restart (SIGHUP) of a relay keeps its nodes, their places and its kept copies in the cluster",
          "[cluster]") {
  Cluster c;
  for (int i = 0; i < 6; ++i) c.join_at(c.relays[i % 2].get(), "n" + std::to_string(i));
  RelayProcess* restarted = c.relays[0].get();
  // A node of the restarted relay throws to a neighbour at another relay,
  // which does not read it: the restarted relay keeps a copy.
  const auto views = model_views(c.slots);
  std::string thrower, receiver;
  int direction = -1;
  for (const auto& [id, m] : c.members) {
    if (m.home != restarted) continue;
    for (int d = 0; d < 4 && direction < 0; ++d) {
      if (c.members.at(views.at(id).neighbours[d]).home != restarted) {
        thrower = id;
        receiver = views.at(id).neighbours[d];
        direction = d;
      }
    }
    if (direction >= 0) break;
  }
  REQUIRE(direction >= 0);
  REQUIRE_STATUS(throw_sprite(restarted->worker_port(), c.members.at(thrower).inbox->node(), kDirections[direction],
                              R"({"kept":true})", "kept-1"),
                 202);
  REQUIRE(stats(restarted->master_port())["cluster"]["kept_copies"] == 1);

  const pid_t old = restarted->master_pid();
  ::kill(restarted->pid(), SIGHUP);
  restarted->wait_for_master_after(old);

  // The same relay to the cluster: nobody left, nobody moved, no events.
  std::vector<std::string> by_slot;
  REQUIRE(c.one_grid(by_slot));
  CHECK(by_slot == c.slots);
  for (auto& [id, m] : c.members) {
    INFO("node " << id);
    CHECK(of_type(m.inbox->poll(0), "neighbors").empty());
  }
  CHECK(stats(restarted->master_port())["cluster"]["kept_copies"] == 1);
  // The copy still comes back: the receiver leaves without reading it (the
  // thrower's poll after the leave may already bring it).
  c.leave_of(receiver);
  Member& m = c.members.at(thrower);
  Json back = m.other_events.empty()
                  ? m.inbox->wait_for([](const Json& e) { return e["type"] == "returned"; })
                  : m.other_events.front();
  CHECK(back["type"] == "returned");
  CHECK(back["id"] == "kept-1");
  CHECK(back["sprite"] == Json({{"kept", true}}));
  // And the grid goes on as one.
  c.join_at(restarted, "after");
  c.join_at(c.relays[1].get(), "after-2");
}

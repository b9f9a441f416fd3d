// Fuzzes master::restore_snapshot, the snapshot loader's checks, with what a
// damaged or crafted snapshot file could hold.
//
// Input: a first byte that picks the mode, then the data.
//   0: the data is the whole file (header line and document), as on disk.
//   1: the data is the document; the harness writes the correct header line
//      for it (so inputs get past the checksum) and replaces each `NOW` with
//      the current time in ms (so seeds are not refused as stale).
// The relay is small (64 nodes, 8 events a node, 256-byte bodies, grid width
// 3), so the limits are easy to reach.
//
// Oracles, independent of how the loader reads the document:
// - refused: the relay holds nothing (no node, no group) and the counters
//   are untouched;
// - loaded: at most max_nodes nodes, every mailbox holds at most
//   mailbox_limit + 2 events with consecutive seqs ending at its last seq,
//   every node's id, group and name follow the protocol, and the poll answer
//   of every mailbox is valid JSON whose events are objects carrying the seq
//   they are stored under, nested no deeper than the protocol allows.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/identifiers.h"
#include "common/json_limits.h"
#include "common/log.h"
#include "master/event_text.h"
#include "master/relay.h"
#include "master/snapshot.h"

namespace {

using namespace sprites;
using namespace sprites::master;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_snapshot: %s\n", what);
  std::abort();
}

#define CHECK(cond) \
  do {              \
    if (!(cond)) fail("check failed: " #cond); \
  } while (0)

// The relay's seams, stood still: loading needs the time and nothing else.
class StillClock final : public RelayClock {
 public:
  void set_sleeper(Sleeper*) override {}
  uint64_t now_ms() const override { return 1000000; }
  void wake_at(uint64_t) override {}
  void wake_after_turn() override {}
};

class NoPolls final : public PollAnswerer {
 public:
  void answer(const ParkedPoll&, std::string_view) override {}
  void gone(const ParkedPoll&) override {}
};

struct World {
  StillClock clock;
  NoPolls answerer;
  RelayConfig config;

  World() {
    config.grid_width = 3;
    config.max_nodes = 64;
    config.mailbox_limit = 8;
    config.max_body_bytes = 256;
    config.node_ttl_ms = 86400000;
    config.rate_limit = 0;
  }
};

World& world() {
  static World* w = [] {
    log::init("fuzz", log::Level::Error);
    return new World();
  }();
  return *w;
}

std::string now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::to_string(static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000);
}

void check_loaded(const Relay& relay, const RelayConfig& config) {
  CHECK(relay.node_count() <= config.max_nodes);
  size_t nodes = 0;
  relay.for_each_group([&](const Group& g) {
    CHECK(valid_group(g.name));
    CHECK(g.grid.size() > 0);
    for (uint32_t slot = 0; slot < g.grid.size(); ++slot) {
      const Node& n = *static_cast<const Node*>(g.grid.at(slot));
      ++nodes;
      CHECK(valid_node_id(n.id));
      CHECK(valid_name(n.name));
      CHECK(n.mailbox.size() <= config.mailbox_limit + 2);
      uint64_t previous = 0;
      n.mailbox.for_each([&](const Event& e) {
        CHECK(previous == 0 || e.seq == previous + 1);
        previous = e.seq;
        CHECK(e.seq <= n.mailbox.last_seq());
        CHECK(is_json_object_within(with_seq(e.seq, e.text), kMaxJsonDepth + 1));
      });
      CHECK(previous == 0 || previous == n.mailbox.last_seq());
      std::string answer;
      Mailbox copy = n.mailbox;  // looking is not sending
      copy.render(0, 1000, answer);
      nlohmann::json parsed = nlohmann::json::parse(answer, nullptr, /*allow_exceptions=*/false);
      CHECK(!parsed.is_discarded());
      std::vector<uint64_t> seqs;
      n.mailbox.for_each([&](const Event& e) { seqs.push_back(e.seq); });
      CHECK(parsed["events"].size() == seqs.size());
      for (size_t k = 0; k < seqs.size(); ++k) {
        CHECK(parsed["events"][k].is_object());
        CHECK(parsed["events"][k]["seq"] == seqs[k]);
      }
    }
  });
  CHECK(nodes == relay.node_count());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  World& w = world();
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string file;
  if (data[0] == 0) {
    file = std::move(rest);
  } else {
    for (size_t at = rest.find("NOW"); at != std::string::npos; at = rest.find("NOW", at)) {
      rest.replace(at, 3, now_ms());
    }
    file = snapshot_header(rest) + rest;
  }
  Counters counters;
  counters.accepted = 12345;
  Relay relay(w.clock, w.answerer, w.config, counters);
  std::string why;
  const bool loaded = restore_snapshot(relay, counters, std::move(file), why);
  if (loaded) {
    CHECK(why.empty());
    check_loaded(relay, w.config);
  } else {
    CHECK(!why.empty());
    CHECK(relay.node_count() == 0);
    CHECK(relay.group_count() == 0);
    CHECK(counters.accepted == 12345);
  }
  return 0;
}

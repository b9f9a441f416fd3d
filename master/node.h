// Node: one client on the grid, as the master holds it.
//
// It is a GridMember (its slot), a DeadlineEntry (its single deadline: poll
// answer or TTL), a mailbox, and at most one parked poll. Field order keeps the
// struct compact: a held idle node is this struct plus its map entry and the
// connection, and the product promises well under 1 KiB for the lot.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "master/deadlines.h"
#include "master/grid.h"
#include "master/mailbox.h"
#include "master/node_id.h"
#include "master/parked_poll.h"

namespace sprites::master {

struct Group;

// In a cluster, a node's place as its group's owner last told it (the grid
// itself lives at the owner: master/topology.h).
struct NodeView {
  struct Ref {
    std::string id;
    std::string name;
    bool operator==(const Ref&) const = default;
  };
  uint64_t version = 0;
  uint32_t row = 0, col = 0;
  std::array<Ref, 4> neighbours;  // indexed by Direction
  bool placed = false;            // false: joined, the owner has not answered yet
};

struct Node : GridMember, DeadlineEntry {
  std::string id;
  std::string name;
  Token token{};
  Group* group = nullptr;
  Mailbox mailbox;
  // The parked poll, if any (holder 0: none), and the cursor it acknowledged.
  ParkedPoll poll;
  uint64_t poll_after = 0;
  // Token bucket of the throw rate limit.
  double rate_tokens = 0;
  uint64_t rate_refill_ms = 0;
  bool wake_queued = false;  // in the relay's list of polls to answer this turn
  std::unique_ptr<NodeView> view;  // in a cluster only
};

struct Group {
  std::string name;
  // Without a cluster, the group's grid. In one, the grid lives at the
  // group's owner and this is only the list of this relay's nodes of the
  // group (their slots here mean nothing to clients; snapshots walk it).
  Grid grid;
  explicit Group(std::string n, uint32_t width) : name(std::move(n)), grid(width) {}
};

}  // namespace sprites::master

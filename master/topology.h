// Topology: the grids of the groups this relay keeps for its cluster
// (docs/cluster.md "Owners"). Each group's grid lives on one relay, its
// owner; the nodes themselves (mailboxes, polls) live at their homes. A seat
// is what the owner knows of a node: its id, name and home relay. Every
// change returns the places (position and four neighbours) of exactly the
// seats whose view changed, which the owner sends to their homes; the homes
// turn them into `neighbors` events.
//
// Each group's places carry a version that grows with every change and is
// carried across owners (a new owner starts above every version the homes
// report), so a home never applies an older place over a newer one.
//
// Pure bookkeeping on the same Grid as a single relay (grid.h): the rules
// are unit-tested against a brute-force model (tests/unit/master/).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/wire.h"
#include "master/grid.h"

namespace sprites::master {

struct Seat : GridMember {
  std::string id;
  std::string name;
  std::string home;          // relay id
  uint64_t incarnation = 0;  // of the home when it seated the node
};

// A seat as its home claims it after an owner change.
struct ClaimedSeat {
  std::string id, name, home;
  uint32_t slot = 0;
  uint64_t version = 0;
  bool placed = false;
  uint64_t incarnation = 0;  // the home's
};

class Topology {
 public:
  explicit Topology(uint32_t width) : width_(width) {}

  bool owns(std::string_view group) const { return groups_.count(std::string(group)) != 0; }
  std::vector<std::string> groups() const;
  size_t seat_count(std::string_view group) const;

  // A group built from its homes' claims (a new owner). Seats keep their
  // slots; slots no one claims are holes, filled as if their nodes had left
  // (the last seat moves in); two claims of one slot keep the newer and the
  // other joins anew; unplaced seats join at the end. Every seat's place is
  // returned: the homes keep those whose view did not change silently.
  std::vector<cluster::Place> build(const std::string& group, std::vector<ClaimedSeat> claims);
  // Forgets a group (another relay owns it now).
  void drop(std::string_view group);

  // Appends a seat (a join). Its own place is `joiner`; the others whose view
  // changed are returned. An id already seated keeps its seat (a retried
  // join): its place, nothing changed.
  std::vector<cluster::Place> join(const std::string& group, const std::string& id, const std::string& name,
                                   const std::string& home, cluster::Place& joiner, uint64_t incarnation = 0);
  // A node leaves; unknown ids change nothing.
  std::vector<cluster::Place> leave(const std::string& group, const std::string& id);
  // Every seat of a lost relay leaves, in every group: those its
  // incarnations up to `incarnation` seated (a newer incarnation of the same
  // id, restarted meanwhile, keeps its own).
  std::vector<std::pair<std::string, cluster::Place>> remove_home(const std::string& home,
                                                                  uint64_t incarnation = UINT64_MAX);

  // The seat's home, for a place to be sent.
  const std::string* home_of(const std::string& group, const std::string& id) const;
  // One seat's place now; nullopt for an unknown one.
  std::optional<cluster::Place> place(const std::string& group, const std::string& id) const;
  // The place of every seat, slot order (tests and rebuild checks).
  std::vector<cluster::Place> places(const std::string& group) const;

 private:
  struct Group {
    explicit Group(uint32_t width) : grid(width) {}
    Grid grid;
    std::unordered_map<std::string, std::unique_ptr<Seat>> seats;
    uint64_t version = 0;
  };
  cluster::Place place_of(const Group& g, const Seat& s) const;
  void leave_seat(Group& g, Seat* seat, std::vector<GridMember*>& changed);
  std::vector<cluster::Place> places_of(Group& g, const std::vector<GridMember*>& changed, const Seat* gone);

  uint32_t width_;
  // Versions come from one clock for all groups: a group emptied and made
  // again never reuses a version.
  uint64_t clock_ = 0;
  std::map<std::string, std::unique_ptr<Group>, std::less<>> groups_;
};

}  // namespace sprites::master

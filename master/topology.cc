// See topology.h.
#include "master/topology.h"

#include <algorithm>

namespace sprites::master {
namespace {

const Seat* as_seat(const GridMember* m) { return static_cast<const Seat*>(m); }

// A placeholder for a slot no one claimed: it "leaves" at once.
struct Hole : Seat {};

}  // namespace

std::vector<std::string> Topology::groups() const {
  std::vector<std::string> out;
  for (const auto& [name, g] : groups_) out.push_back(name);
  return out;
}

size_t Topology::seat_count(std::string_view group) const {
  auto it = groups_.find(group);
  return it == groups_.end() ? 0 : it->second->seats.size();
}

cluster::Place Topology::place_of(const Group& g, const Seat& s) const {
  cluster::Place p;
  p.node = s.id;
  p.version = g.version;
  Position pos = g.grid.position(s.slot);
  p.row = pos.row;
  p.col = pos.col;
  for (Direction d : kAllDirections) {
    const Seat* n = as_seat(g.grid.neighbour(s, d));
    p.neighbours[static_cast<size_t>(d)] = cluster::Ref{n->id, n->name};
  }
  return p;
}

std::vector<cluster::Place> Topology::places_of(Group& g, const std::vector<GridMember*>& changed, const Seat* gone) {
  std::vector<cluster::Place> out;
  std::vector<const GridMember*> seen;
  for (const GridMember* m : changed) {
    if (m == gone || std::find(seen.begin(), seen.end(), m) != seen.end()) continue;
    seen.push_back(m);
    out.push_back(place_of(g, *as_seat(m)));
  }
  return out;
}

void Topology::leave_seat(Group& g, Seat* seat, std::vector<GridMember*>& changed) {
  std::vector<GridMember*> now;
  g.grid.leave(seat, now);
  // A seat that changed earlier and moved again is reported once, last view.
  for (GridMember* m : now) {
    if (std::find(changed.begin(), changed.end(), m) == changed.end()) changed.push_back(m);
  }
}

std::vector<cluster::Place> Topology::build(const std::string& group, std::vector<ClaimedSeat> claims) {
  auto g = std::make_unique<Group>(width_);
  uint64_t version = clock_;
  for (const auto& c : claims) version = std::max(version, c.version);
  g->version = clock_ = version + 1;

  // Placed claims by slot, the newer first; a repeated id keeps one claim.
  std::stable_sort(claims.begin(), claims.end(), [](const ClaimedSeat& a, const ClaimedSeat& b) {
    if (a.placed != b.placed) return a.placed;
    if (a.slot != b.slot) return a.slot < b.slot;
    return a.version > b.version;
  });
  std::vector<Seat*> by_slot;
  std::vector<Seat*> latecomers;
  for (auto& c : claims) {
    if (g->seats.count(c.id) != 0) continue;
    auto seat = std::make_unique<Seat>();
    seat->id = c.id;
    seat->name = c.name;
    seat->home = c.home;
    seat->incarnation = c.incarnation;
    Seat* raw = seat.get();
    g->seats.emplace(c.id, std::move(seat));
    // Slots are bounded by the claims (holes included, a lost relay may
    // have held most of the grid): a claim far past them is a latecomer,
    // so a hostile slot cannot make the owner allocate without end.
    const size_t slot_bound = claims.size() * 16 + (1u << 16);
    if (c.placed && c.slot < slot_bound && (c.slot >= by_slot.size() || by_slot[c.slot] == nullptr)) {
      if (c.slot >= by_slot.size()) by_slot.resize(c.slot + 1, nullptr);
      by_slot[c.slot] = raw;
    } else {
      latecomers.push_back(raw);
    }
  }
  std::vector<std::unique_ptr<Hole>> holes;
  std::vector<GridMember*> ignored;
  for (Seat*& s : by_slot) {
    if (!s) {
      holes.push_back(std::make_unique<Hole>());
      s = holes.back().get();
    }
    g->grid.join(s, ignored);
  }
  // The holes leave, the highest first: each leave moves the last seat in.
  for (auto it = holes.rbegin(); it != holes.rend(); ++it) g->grid.leave(it->get(), ignored);
  for (Seat* s : latecomers) g->grid.join(s, ignored);

  std::vector<cluster::Place> out;
  for (uint32_t i = 0; i < g->grid.size(); ++i) out.push_back(place_of(*g, *as_seat(g->grid.at(i))));
  groups_[group] = std::move(g);
  return out;
}

void Topology::drop(std::string_view group) {
  auto it = groups_.find(group);
  if (it != groups_.end()) groups_.erase(it);
}

std::vector<cluster::Place> Topology::join(const std::string& group, const std::string& id, const std::string& name,
                                           const std::string& home, cluster::Place& joiner, uint64_t incarnation) {
  auto it = groups_.find(group);
  if (it == groups_.end()) it = groups_.emplace(group, std::make_unique<Group>(width_)).first;
  Group& g = *it->second;
  if (auto existing = g.seats.find(id); existing != g.seats.end()) {
    joiner = place_of(g, *existing->second);
    return {};
  }
  auto seat = std::make_unique<Seat>();
  seat->id = id;
  seat->name = name;
  seat->home = home;
  seat->incarnation = incarnation;
  Seat* raw = seat.get();
  g.seats.emplace(id, std::move(seat));
  g.version = ++clock_;
  std::vector<GridMember*> changed;
  g.grid.join(raw, changed);
  joiner = place_of(g, *raw);
  return places_of(g, changed, raw);
}

std::vector<cluster::Place> Topology::leave(const std::string& group, const std::string& id) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return {};
  Group& g = *it->second;
  auto seat_it = g.seats.find(id);
  if (seat_it == g.seats.end()) return {};
  g.version = ++clock_;
  std::vector<GridMember*> changed;
  Seat* seat = seat_it->second.get();
  leave_seat(g, seat, changed);
  auto places = places_of(g, changed, seat);
  g.seats.erase(seat_it);
  if (g.seats.empty()) groups_.erase(it);
  return places;
}

std::vector<std::pair<std::string, cluster::Place>> Topology::remove_home(const std::string& home,
                                                                            uint64_t incarnation) {
  std::vector<std::pair<std::string, cluster::Place>> out;
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& g = *it->second;
    std::vector<GridMember*> changed;
    std::vector<std::string> gone;
    for (auto& [id, seat] : g.seats) {
      if (seat->home == home && seat->incarnation <= incarnation) gone.push_back(id);
    }
    if (!gone.empty()) {
      g.version = ++clock_;
      std::vector<Seat*> gone_seats;
      for (const std::string& id : gone) {
        Seat* s = g.seats[id].get();
        leave_seat(g, s, changed);
        gone_seats.push_back(s);
      }
      std::vector<GridMember*> live;
      for (GridMember* m : changed) {
        if (std::find(gone_seats.begin(), gone_seats.end(), m) == gone_seats.end()) live.push_back(m);
      }
      for (const cluster::Place& p : places_of(g, live, nullptr)) out.emplace_back(it->first, p);
      for (const std::string& id : gone) g.seats.erase(id);
    }
    it = g.seats.empty() ? groups_.erase(it) : std::next(it);
  }
  return out;
}

const std::string* Topology::home_of(const std::string& group, const std::string& id) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) return nullptr;
  auto s = it->second->seats.find(id);
  return s == it->second->seats.end() ? nullptr : &s->second->home;
}

std::optional<cluster::Place> Topology::place(const std::string& group, const std::string& id) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) return std::nullopt;
  auto s = it->second->seats.find(id);
  if (s == it->second->seats.end()) return std::nullopt;
  return place_of(*it->second, *s->second);
}

std::vector<cluster::Place> Topology::places(const std::string& group) const {
  std::vector<cluster::Place> out;
  auto it = groups_.find(group);
  if (it == groups_.end()) return out;
  const Group& g = *it->second;
  for (uint32_t i = 0; i < g.grid.size(); ++i) out.push_back(place_of(g, *as_seat(g.grid.at(i))));
  return out;
}

}  // namespace sprites::master

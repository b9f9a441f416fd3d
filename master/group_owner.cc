// See group_owner.h.
#include "master/group_owner.h"

#include <algorithm>

#include "cluster/messages.h"
#include "common/log.h"

namespace sprites::master {

GroupOwner::GroupOwner(ClusterPost& post, uint32_t grid_width) : post_(post), topology_(grid_width) {}

// ---- building a group ------------------------------------------------------

void GroupOwner::when_built(const std::string& group, std::function<void()> op) {
  if (auto it = census_.find(group); it != census_.end()) {
    it->second.queued.push_back(std::move(op));
    return;
  }
  if (topology_.owns(group)) {
    op();
    return;
  }
  start_census(group);
  census_[group].queued.push_back(std::move(op));
}

void GroupOwner::start_census(const std::string& group) {
  Census& c = census_[group];
  c.deadline_ms = post_.now_ms() + kCensusMs;
  for (const std::string& relay : post_.live_relays()) c.awaiting.insert(relay);
  const std::string body = cluster::encode(cluster::CensusMessage{group});
  for (const std::string& relay : post_.live_relays()) {
    if (!post_.post(relay, cluster::WireType::Census, 0, body)) c.awaiting.erase(relay);
  }
  if (c.awaiting.empty()) finish_census(group);
}

void GroupOwner::finish_census(const std::string& group) {
  auto it = census_.find(group);
  if (it == census_.end() || it->second.built) return;
  Census& c = it->second;
  c.built = true;
  c.awaiting.clear();
  if (c.claims.empty()) {
    release(group);
    return;
  }
  const std::vector<cluster::Place> places = topology_.build(group, std::move(c.claims));
  LOG_INFO("keeping group '%s' of %zu nodes", group.c_str(), places.size());
  auto barrier = std::make_shared<PendingJoin>();
  barrier->group = group;
  barrier->deadline_ms = post_.now_ms() + kPlaceAckMs;
  barrier->then = [this, group] { release(group); };
  send_places(group, places, barrier.get());
  wait_for_acks(std::move(barrier));
}

void GroupOwner::release(const std::string& group) {
  auto node = census_.extract(group);
  if (node.empty()) return;
  for (auto& op : node.mapped().queued) op();
}

void GroupOwner::settle() {
  auto waiting = std::move(unsettled_);
  unsettled_.clear();
  for (auto& op : waiting) op();
}

void GroupOwner::on_claim(const std::string& from, const cluster::ClaimMessage& m) {
  if (!post_.settled()) {
    unsettled_.push_back([this, from, m] { on_claim(from, m); });
    return;
  }
  if (!mine(m.group)) return;  // the home asks the owner it sees; ours will be asked too
  auto add_claims = [&](std::vector<ClaimedSeat>& into) {
    for (const auto& s : m.seats) {
      if (cluster::home_of(s.node) != from) continue;  // a relay claims only its own nodes
      into.push_back(ClaimedSeat{s.node, s.name, from, s.slot, s.version, s.placed, m.incarnation});
    }
  };
  if (auto it = census_.find(m.group); it != census_.end() && !it->second.built) {
    add_claims(it->second.claims);
    if (m.last) it->second.awaiting.erase(from);
    if (it->second.awaiting.empty()) finish_census(m.group);
    return;
  }
  if (topology_.owns(m.group) || census_.count(m.group) != 0) {
    // Built already: a claimed node the grid lacks joins it, and a node
    // whose place the home heard an older version of hears it again (a
    // place lost while NATS was away).
    std::vector<ClaimedSeat> claims;
    add_claims(claims);
    std::vector<cluster::Place> current = topology_.places(m.group);
    std::unordered_map<std::string, const cluster::Place*> by_id;
    for (const auto& p : current) by_id.emplace(p.node, &p);
    std::vector<cluster::Place> resend;
    for (const auto& c : claims) {
      if (auto known = by_id.find(c.id); known != by_id.end()) {
        if (!c.placed || c.version < known->second->version) resend.push_back(*known->second);
        continue;
      }
      cluster::Place joiner;
      std::vector<cluster::Place> places = topology_.join(m.group, c.id, c.name, c.home, joiner, c.incarnation);
      places.push_back(joiner);
      send_places(m.group, places, nullptr);
    }
    send_places(m.group, resend, nullptr);
    return;
  }
  start_census(m.group);
  add_claims(census_[m.group].claims);
  if (m.last) census_[m.group].awaiting.erase(from);
  if (census_[m.group].awaiting.empty()) finish_census(m.group);
}

// ---- joins and leaves ------------------------------------------------------

void GroupOwner::on_join(const std::string& from, uint32_t id, const cluster::JoinMessage& m) {
  if (!post_.settled()) {
    unsettled_.push_back([this, from, id, m] { on_join(from, id, m); });
    return;
  }
  if (!mine(m.group) || cluster::home_of(m.node) != from) {
    post_.post(from, cluster::WireType::JoinResult, id,
               cluster::encode(cluster::JoinResultMessage{cluster::JoinStatus::NotOwner, {}}));
    return;
  }
  when_built(m.group, [this, from, id, m] { join_now(from, id, m); });
}

void GroupOwner::join_now(const std::string& from, uint32_t id, const cluster::JoinMessage& m) {
  auto p = std::make_shared<PendingJoin>();
  p->requester = from;
  p->request_id = id;
  p->group = m.group;
  p->node = m.node;
  p->deadline_ms = post_.now_ms() + kPlaceAckMs;
  cluster::Place joiner;
  const std::vector<cluster::Place> places = topology_.join(m.group, m.node, m.name, from, joiner, m.incarnation);
  send_places(m.group, places, p.get());
  wait_for_acks(std::move(p));
}

void GroupOwner::wait_for_acks(std::shared_ptr<PendingJoin> p) {
  if (p->awaiting.empty()) {
    answer_join(*p);
    return;
  }
  for (uint32_t place_id : p->awaiting) by_place_id_[place_id] = p;
  pending_.push_back(std::move(p));
}

void GroupOwner::answer_join(PendingJoin& p) {
  if (p.then) {
    p.then();
    return;
  }
  if (p.leave) {
    post_.post(p.requester, cluster::WireType::LeaveResult, p.request_id,
               cluster::encode(cluster::LeaveResultMessage{cluster::JoinStatus::Placed}));
    return;
  }
  cluster::JoinResultMessage r;
  r.status = cluster::JoinStatus::Placed;
  // The joiner's place as it is now: later changes may have moved it.
  if (auto place = topology_.place(p.group, p.node)) {
    r.place = std::move(*place);
  } else {
    r.status = cluster::JoinStatus::NotOwner;  // it left meanwhile, or the group moved
  }
  post_.post(p.requester, cluster::WireType::JoinResult, p.request_id, cluster::encode(r));
}

void GroupOwner::on_place_ack(const std::string&, uint32_t id) {
  auto it = by_place_id_.find(id);
  if (it == by_place_id_.end()) return;
  std::shared_ptr<PendingJoin> p = std::move(it->second);
  by_place_id_.erase(it);
  p->awaiting.erase(id);
  if (!p->awaiting.empty()) return;
  answer_join(*p);
  pending_.erase(std::remove(pending_.begin(), pending_.end(), p), pending_.end());
}

void GroupOwner::on_leave(const std::string& from, uint32_t id, const cluster::LeaveMessage& m) {
  if (!post_.settled()) {
    unsettled_.push_back([this, from, id, m] { on_leave(from, id, m); });
    return;
  }
  if (!mine(m.group)) {
    post_.post(from, cluster::WireType::LeaveResult, id,
               cluster::encode(cluster::LeaveResultMessage{cluster::JoinStatus::NotOwner}));
    return;
  }
  if (cluster::home_of(m.node) != from) return;  // only a node's home speaks for it
  // Not built yet: the census runs first (the node is not claimed any more,
  // and its hole is filled then), and the leave is answered once the places
  // of that rebuild and of the leave are in every home.
  when_built(m.group, [this, from, id, m] {
    auto p = std::make_shared<PendingJoin>();
    p->requester = from;
    p->request_id = id;
    p->group = m.group;
    p->node = m.node;
    p->leave = true;
    p->deadline_ms = post_.now_ms() + kPlaceAckMs;
    send_places(m.group, topology_.leave(m.group, m.node), p.get());
    wait_for_acks(std::move(p));
  });
}

void GroupOwner::send_places(const std::string& group, const std::vector<cluster::Place>& places,
                             PendingJoin* pending) {
  std::map<std::string, cluster::PlaceMessage> by_home;
  for (const cluster::Place& p : places) {
    const std::string* home = topology_.home_of(group, p.node);
    if (!home) continue;
    auto& m = by_home[*home];
    m.group = group;
    m.places.push_back(p);
  }
  for (auto& [home, m] : by_home) {
    const uint32_t id = next_place_id_++;
    if (post_.post(home, cluster::WireType::Place, id, cluster::encode(m)) && pending) pending->awaiting.insert(id);
  }
}

// ---- the cluster changes ---------------------------------------------------

void GroupOwner::relay_lost(const std::string& relay, uint64_t incarnation) {
  std::map<std::string, std::vector<cluster::Place>> by_group;
  for (auto& [group, place] : topology_.remove_home(relay, incarnation)) by_group[group].push_back(std::move(place));
  for (auto& [group, places] : by_group) send_places(group, places, nullptr);
  std::vector<std::string> done;
  for (auto& [group, c] : census_) {
    if (c.built) continue;
    c.awaiting.erase(relay);
    c.claims.erase(std::remove_if(c.claims.begin(), c.claims.end(),
                                  [&](const ClaimedSeat& s) { return s.home == relay; }),
                   c.claims.end());
    if (c.awaiting.empty()) done.push_back(group);
  }
  for (const std::string& g : done) finish_census(g);
}

void GroupOwner::membership_changed() {
  for (const std::string& group : topology_.groups()) {
    if (!mine(group)) {
      LOG_INFO("group '%s' is kept by relay %s now", group.c_str(), post_.owner_of(group).c_str());
      topology_.drop(group);
    }
  }
  for (auto it = census_.begin(); it != census_.end();) {
    it = mine(it->first) ? std::next(it) : census_.erase(it);
  }
}

void GroupOwner::tick() {
  const uint64_t now = post_.now_ms();
  std::vector<std::string> late;
  for (const auto& [group, c] : census_) {
    if (!c.built && now >= c.deadline_ms) late.push_back(group);
  }
  for (const std::string& g : late) finish_census(g);
  // Joins whose places some home did not acknowledge in time are answered:
  // a home that does not answer is being declared gone.
  std::vector<std::shared_ptr<PendingJoin>> due;
  for (const auto& p : pending_) {
    if (now >= p->deadline_ms) due.push_back(p);
  }
  for (const auto& p : due) {
    for (uint32_t id : p->awaiting) by_place_id_.erase(id);
    p->awaiting.clear();
    answer_join(*p);
    pending_.erase(std::remove(pending_.begin(), pending_.end(), p), pending_.end());
  }
}

void GroupOwner::clear() {
  unsettled_.clear();
  for (const std::string& g : topology_.groups()) topology_.drop(g);
  census_.clear();
  by_place_id_.clear();
  pending_.clear();
}

}  // namespace sprites::master

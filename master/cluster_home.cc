// See cluster_home.h.
#include "master/cluster_home.h"

#include <set>

#include "cluster/messages.h"
#include "common/http_response.h"
#include "common/identifiers.h"
#include "common/log.h"
#include "master/event_text.h"
#include "master/snapshot.h"
#include "master/worker_link.h"

namespace sprites::master {
namespace {

NodeView view_of(const cluster::Place& p) {
  NodeView v;
  v.version = p.version;
  v.row = p.row;
  v.col = p.col;
  for (size_t i = 0; i < 4; ++i) v.neighbours[i] = NodeView::Ref{p.neighbours[i].id, p.neighbours[i].name};
  v.placed = true;
  return v;
}

}  // namespace

ClusterHome::ClusterHome(ClusterPost& post, Relay& relay) : post_(post), relay_(relay) {}

// ---- joins and leaves ------------------------------------------------------

void ClusterHome::join(std::string_view group, std::string_view name, JoinDone done) {
  Node* node = relay_.admit(group, name);
  if (!node) {
    done(nullptr, 503, "node_limit");
    return;
  }
  if (!post_.settled()) {
    held_joins_.push_back(HeldJoin{node->id, std::move(done), post_.now_ms() + kJoinTimeoutMs});
    return;
  }
  send_join(node, std::move(done));
}

void ClusterHome::send_join(Node* node, JoinDone done) {
  const std::string& group = node->group->name;
  const std::string owner = post_.owner_of(group);
  const uint32_t id = next_id_++;
  cluster::JoinMessage m{group, node->id, node->name, post_.incarnation()};
  if ((owner != post_.self() && !post_.reachable()) || !post_.post(owner, cluster::WireType::Join, id, cluster::encode(m))) {
    relay_.discard(node);
    done(nullptr, 503, "cluster_unavailable");
    return;
  }
  owner_seen_[group] = owner;
  joins_.emplace(id, PendingJoin{node->id, std::move(done), post_.now_ms() + kJoinTimeoutMs});
}

void ClusterHome::settle() {
  claim_all();
  auto held = std::move(held_joins_);
  held_joins_.clear();
  for (HeldJoin& h : held) {
    if (Node* node = relay_.find(h.node)) {
      send_join(node, std::move(h.done));
    } else {
      h.done(nullptr, 503, "cluster_unavailable");
    }
  }
}

void ClusterHome::on_join_result(const std::string&, uint32_t id, const cluster::JoinResultMessage& m) {
  auto it = joins_.find(id);
  if (it == joins_.end()) return;
  PendingJoin p = std::move(it->second);
  joins_.erase(it);
  Node* node = relay_.find(p.node);
  if (!node) {
    p.done(nullptr, 503, "cluster_unavailable");
    return;
  }
  if (m.status != cluster::JoinStatus::Placed || m.place.node != p.node) {
    const std::string group = node->group->name;
    relay_.discard(node);
    send_leave(p.node, group);  // in case a seat was made for it after all
    p.done(nullptr, 503, "cluster_unavailable");
    return;
  }
  relay_.place(*node, view_of(m.place), /*first=*/true);
  p.done(node, 201, {});
}

void ClusterHome::leave(Node* node, std::function<void()> done) {
  const std::string id = node->id;
  relay_.leave(node);  // node_left() below sends the leave
  leave_waiters_[id] = LeaveWaiter{std::move(done), post_.now_ms() + kJoinTimeoutMs};
}

void ClusterHome::node_left(const Node& node) { send_leave(node.id, node.group->name); }

void ClusterHome::send_leave(const std::string& node, const std::string& group) {
  leaves_[node] = group;
  const uint32_t id = next_id_++;
  leave_ids_[id] = node;
  post_.post(post_.owner_of(group), cluster::WireType::Leave, id, cluster::encode(cluster::LeaveMessage{group, node}));
}

void ClusterHome::on_leave_result(const std::string&, uint32_t id, const cluster::LeaveResultMessage& m) {
  auto it = leave_ids_.find(id);
  if (it == leave_ids_.end()) return;
  const std::string node = it->second;
  leave_ids_.erase(it);
  if (m.status != cluster::JoinStatus::Placed) return;
  leaves_.erase(node);
  if (auto w = leave_waiters_.extract(node)) w.mapped().done();
}

// ---- places and claims -----------------------------------------------------

void ClusterHome::on_place(const std::string& from, uint32_t id, const cluster::PlaceMessage& m) {
  for (const cluster::Place& p : m.places) {
    Node* node = relay_.find(p.node);
    if (node && node->view && node->group->name == m.group) relay_.place(*node, view_of(p), /*first=*/false);
  }
  owner_seen_[m.group] = from;
  post_.post(from, cluster::WireType::PlaceAck, id, {});
}

void ClusterHome::on_census(const std::string& from, const cluster::CensusMessage& m) {
  owner_seen_[m.group] = from;
  claim(m.group, from);
}

void ClusterHome::claim(const std::string& group, const std::string& owner) {
  // In pieces of kSeatsPerClaim: a NATS message is at most 1 MB by default.
  constexpr size_t kSeatsPerClaim = 4096;
  cluster::ClaimMessage m;
  m.group = group;
  m.last = false;
  m.incarnation = post_.incarnation();
  const uint32_t width = relay_.config().grid_width;
  relay_.for_each_node([&](const Node& n) {
    if (!n.view || n.group->name != group) return;
    m.seats.push_back(cluster::ClaimMessage::Seat{n.id, n.name, n.view->row * width + n.view->col,
                                                  n.view->version, n.view->placed});
    if (m.seats.size() == kSeatsPerClaim) {
      post_.post(owner, cluster::WireType::Claim, 0, cluster::encode(m));
      m.seats.clear();
    }
  });
  m.last = true;
  post_.post(owner, cluster::WireType::Claim, 0, cluster::encode(m));
}

void ClusterHome::claim_all() {
  owner_seen_.clear();
  owners_changed();
}

void ClusterHome::owners_changed() {
  if (!post_.settled()) return;  // settle() claims everything
  std::set<std::string> groups;
  relay_.for_each_node([&](const Node& n) { groups.insert(n.group->name); });
  for (const std::string& g : groups) {
    const std::string owner = post_.owner_of(g);
    auto [it, fresh] = owner_seen_.emplace(g, owner);
    if (!fresh && it->second == owner) continue;
    it->second = owner;
    claim(g, owner);
  }
  for (auto it = owner_seen_.begin(); it != owner_seen_.end();) {
    it = groups.count(it->first) ? std::next(it) : owner_seen_.erase(it);
  }
}

// ---- throws ----------------------------------------------------------------

void ClusterHome::throw_here(const ipc::ThrowMessage& t, ThrowDone done) {
  const ThrowOutcome outcome = relay_.throw_sprite(t.node, t.token, t.direction, t.has_id, t.sprite_id, t.sprite);
  if (outcome.verdict != ThrowVerdict::Elsewhere) {
    const ThrowAnswer answer = throw_answer(outcome);
    done(answer.status, answer.body);
    return;
  }
  const Node& thrower = *outcome.thrower;
  KeptCopy copy;
  copy.thrower = thrower.id;
  copy.receiver = outcome.remote->id;
  copy.receiver_name = outcome.remote->name;
  copy.receiver_home = std::string(cluster::home_of(copy.receiver));
  uint32_t tail_at = 0;
  const std::string text =
      sprite_event_text(EventRef{thrower.id, thrower.name}, t.direction,
                        t.has_id ? std::optional<std::string_view>(t.sprite_id) : std::nullopt, t.sprite, tail_at);
  copy.tail = text.substr(tail_at);

  cluster::DeliverMessage m;
  m.copy = next_copy_++;
  m.receiver = copy.receiver;
  m.thrower = cluster::Ref{thrower.id, thrower.name};
  m.direction = t.direction;
  m.has_id = t.has_id;
  m.sprite_id = std::string(t.sprite_id);
  m.sprite = std::string(t.sprite);
  const uint32_t id = next_id_++;
  if (copy.receiver_home.empty() || !post_.reachable() ||
      !post_.post(copy.receiver_home, cluster::WireType::Deliver, id, cluster::encode(m))) {
    done(503, http::error_body("cluster_unavailable", "the receiver's relay cannot be reached now; retry"));
    return;
  }
  const uint64_t now = ipc::monotonic_ms();
  const uint64_t left = t.expires_at_ms > now + kAnswerMarginMs ? t.expires_at_ms - now - kAnswerMarginMs : 0;
  delivers_.emplace(id, PendingDeliver{std::move(copy), m.copy, std::move(done), post_.now_ms() + left});
}

void ClusterHome::on_deliver(const std::string& from, uint32_t id, const cluster::DeliverMessage& m) {
  if (cluster::home_of(m.thrower.id) != from) return;  // a relay delivers only for its own nodes
  const DeliverVerdict v = relay_.deliver(m.receiver, EventRef{m.thrower.id, m.thrower.name}, m.direction, m.has_id,
                                          m.sprite_id, m.sprite, m.copy);
  cluster::DeliverResultMessage r;
  r.status = v == DeliverVerdict::Accepted      ? cluster::DeliverStatus::Accepted
             : v == DeliverVerdict::MailboxFull ? cluster::DeliverStatus::MailboxFull
                                                : cluster::DeliverStatus::UnknownNode;
  post_.post(from, cluster::WireType::DeliverResult, id, cluster::encode(r));
}

void ClusterHome::on_deliver_result(const std::string& from, uint32_t id, const cluster::DeliverResultMessage& m) {
  auto it = delivers_.find(id);
  if (it == delivers_.end() || it->second.copy.receiver_home != from) return;
  PendingDeliver p = std::move(it->second);
  delivers_.erase(it);
  switch (m.status) {
    case cluster::DeliverStatus::Accepted: {
      relay_.count_accepted();
      ++thrown_across_;
      std::string body = "{\"to\":";
      append_ref(body, EventRef{p.copy.receiver, p.copy.receiver_name});
      body.push_back('}');
      copies_.emplace(p.key, std::move(p.copy));
      p.done(202, body);
      return;
    }
    case cluster::DeliverStatus::MailboxFull:
      relay_.count_rejected(RejectCode::MailboxFull);
      p.done(429, http::error_body("mailbox_full", "the receiver holds its maximum of unacknowledged events"));
      return;
    case cluster::DeliverStatus::UnknownNode:
      p.done(503, http::error_body("relay_unavailable", "the receiver has just left; retry"));
      return;
  }
}

void ClusterHome::sprite_read(std::string_view thrower, uint64_t copy) {
  acked_out_[std::string(cluster::home_of(thrower))].copies.push_back(copy);
}

void ClusterHome::sprite_unread(std::string_view thrower, uint64_t copy) {
  LOG_DEBUG("copy %llu of %.*s unread: it goes back", static_cast<unsigned long long>(copy),
            static_cast<int>(thrower.size()), thrower.data());
  returned_out_[std::string(cluster::home_of(thrower))].copies.push_back(copy);
}

void ClusterHome::on_acked(const std::string& from, const cluster::CopiesMessage& m) {
  for (uint64_t key : m.copies) {
    auto it = copies_.find(key);
    if (it != copies_.end() && it->second.receiver_home == from) copies_.erase(it);
  }
}

void ClusterHome::on_returned(const std::string& from, const cluster::CopiesMessage& m) {
  for (uint64_t key : m.copies) {
    auto it = copies_.find(key);
    LOG_DEBUG("copy %llu returned by %s: %s", static_cast<unsigned long long>(key), from.c_str(),
              it == copies_.end() ? "not kept" : it->second.receiver_home == from ? "kept" : "kept for another relay");
    if (it == copies_.end() || it->second.receiver_home != from) continue;
    give_back(it->second);
    copies_.erase(it);
  }
}

void ClusterHome::give_back(const KeptCopy& c) {
  relay_.give_back(c.thrower, EventRef{c.receiver, c.receiver_name}, c.tail);
}

void ClusterHome::relay_lost(const std::string& relay) {
  size_t back = 0;
  for (auto it = copies_.begin(); it != copies_.end();) {
    if (it->second.receiver_home == relay) {
      give_back(it->second);
      it = copies_.erase(it);
      ++back;
    } else {
      ++it;
    }
  }
  if (back > 0) LOG_INFO("%zu sprites waiting unread at relay %s go back to their throwers", back, relay.c_str());
}

// ---- planned restarts ------------------------------------------------------

nlohmann::json ClusterHome::save() const {
  nlohmann::json copies = nlohmann::json::array();
  for (const auto& [key, c] : copies_) {
    copies.push_back({{"key", key}, {"thrower", c.thrower}, {"receiver", c.receiver},
                      {"receiver_name", c.receiver_name}, {"tail", c.tail}});
  }
  return {{"next_copy", next_copy_}, {"copies", std::move(copies)}};
}

bool ClusterHome::restore(const nlohmann::json& part, std::string& why) {
  constexpr uint64_t kMaxKey = 1ull << 53;
  const RelayConfig& config = relay_.config();
  if (!part.contains("next_copy") || !part["next_copy"].is_number_unsigned() ||
      part["next_copy"].get<uint64_t>() > kMaxKey || !part.contains("copies") || !part["copies"].is_array()) {
    why = "no next_copy or copies";
    return false;
  }
  const uint64_t next = part["next_copy"].get<uint64_t>();
  const uint64_t most = std::max<uint64_t>(config.max_nodes, 1) * 4 * (config.mailbox_limit + 2);
  if (part["copies"].size() > most) {
    why = "more copies than this relay's nodes could have thrown";
    return false;
  }
  std::unordered_map<uint64_t, KeptCopy> copies;
  for (const auto& c : part["copies"]) {
    auto text = [&](const char* key) -> const std::string* {
      return c.is_object() && c.contains(key) && c[key].is_string() ? c[key].get_ptr<const std::string*>() : nullptr;
    };
    const std::string* thrower = text("thrower");
    const std::string* receiver = text("receiver");
    const std::string* name = text("receiver_name");
    const std::string* tail = text("tail");
    if (!c.is_object() || !c.contains("key") || !c["key"].is_number_unsigned() || !thrower || !receiver || !name ||
        !tail) {
      why = "a copy of the wrong shape";
      return false;
    }
    const uint64_t key = c["key"].get<uint64_t>();
    const std::string_view home = cluster::home_of(*receiver);
    if (key == 0 || key >= next || home.empty() || home == post_.self() || !valid_name(*name) ||
        cluster::home_of(*thrower) != post_.self() || !valid_sprite_tail(*thrower, *tail, config.max_body_bytes) ||
        !copies.emplace(key, KeptCopy{*thrower, *receiver, *name, std::string(home), *tail}).second) {
      why = "a copy that this relay could not have kept";
      return false;
    }
  }
  copies_ = std::move(copies);
  next_copy_ = next;
  return true;
}

// ---- time ------------------------------------------------------------------

void ClusterHome::tick() {
  const uint64_t now = post_.now_ms();
  // Joins held while this relay cannot know the cluster (NATS away since it
  // started, or cut off) end as 503 after the join timeout.
  for (auto it = held_joins_.begin(); it != held_joins_.end();) {
    if (now < it->deadline_ms) {
      ++it;
      continue;
    }
    HeldJoin h = std::move(*it);
    it = held_joins_.erase(it);
    if (Node* node = relay_.find(h.node)) relay_.discard(node);
    h.done(nullptr, 503, "cluster_unavailable");
  }
  std::vector<uint32_t> late;
  for (const auto& [id, p] : joins_) {
    if (now >= p.deadline_ms) late.push_back(id);
  }
  for (uint32_t id : late) {
    on_join_result({}, id, cluster::JoinResultMessage{cluster::JoinStatus::NotOwner, {}});
  }
  late.clear();
  for (const auto& [id, p] : delivers_) {
    if (now >= p.deadline_ms) late.push_back(id);
  }
  for (uint32_t id : late) {
    auto node = delivers_.extract(id);
    node.mapped().done(503, http::error_body("relay_unavailable", "the receiver's relay does not answer now; retry"));
  }
  std::vector<std::string> waited;
  for (const auto& [node, w] : leave_waiters_) {
    if (now >= w.deadline_ms) waited.push_back(node);
  }
  for (const std::string& node : waited) leave_waiters_.extract(node).mapped().done();
  // Leaves no owner has taken yet are asked again.
  if (leave_ids_.size() > 4 * leaves_.size() + 1024) leave_ids_.clear();
  for (const auto& [node, group] : leaves_) {
    const uint32_t id = next_id_++;
    leave_ids_[id] = node;
    post_.post(post_.owner_of(group), cluster::WireType::Leave, id, cluster::encode(cluster::LeaveMessage{group, node}));
  }
}

void ClusterHome::flush() {
  for (auto& [home, m] : acked_out_) post_.post(home, cluster::WireType::Acked, 0, cluster::encode(m));
  for (auto& [home, m] : returned_out_) post_.post(home, cluster::WireType::Returned, 0, cluster::encode(m));
  acked_out_.clear();
  returned_out_.clear();
}

void ClusterHome::clear() {
  stop();
  copies_.clear();
  leaves_.clear();
  leave_ids_.clear();
  owner_seen_.clear();
  acked_out_.clear();
  returned_out_.clear();
}

void ClusterHome::stop() {
  auto held = std::move(held_joins_);
  held_joins_.clear();
  for (HeldJoin& h : held) h.done(nullptr, 503, "cluster_unavailable");
  auto joins = std::move(joins_);
  joins_.clear();
  for (auto& [id, p] : joins) p.done(nullptr, 503, "cluster_unavailable");
  auto delivers = std::move(delivers_);
  delivers_.clear();
  for (auto& [id, p] : delivers) p.done(503, http::error_body("relay_unavailable", "this relay is away; retry"));
  auto waiters = std::move(leave_waiters_);
  leave_waiters_.clear();
  for (auto& [node, w] : waiters) w.done();
}

}  // namespace sprites::master

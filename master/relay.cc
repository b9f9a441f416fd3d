// See relay.h.
#include "master/relay.h"

#include <algorithm>

#include "common/http_response.h"
#include "common/log.h"
#include "master/event_text.h"

namespace sprites::master {
namespace {

EventRef ref_of(const Node& n) { return EventRef{n.id, n.name}; }

Node* as_node(GridMember* m) { return static_cast<Node*>(m); }
Node* as_node(DeadlineEntry* e) { return static_cast<Node*>(e); }

}  // namespace

Relay::Relay(RelayClock& clock, PollAnswerer& answerer, const RelayConfig& config, Counters& counters)
    : clock_(clock), answerer_(answerer), config_(config), counters_(counters) {
  clock_.set_sleeper(this);
}

Relay::~Relay() {
  clock_.set_sleeper(nullptr);
  clock_.wake_at(RelayClock::kNever);
}

Group& Relay::group_named(std::string_view name) {
  auto it = groups_.find(std::string(name));
  if (it == groups_.end()) {
    it = groups_.emplace(std::string(name), std::make_unique<Group>(std::string(name), config_.grid_width)).first;
  }
  return *it->second;
}

// ---- membership ----------------------------------------------------------

Node* Relay::add_node(std::string_view group_name, std::string_view name) {
  if (nodes_.size() >= config_.max_nodes) return nullptr;
  auto node = std::make_unique<Node>();
  do {
    node->id = new_node_id(config_.node_id_prefix);
  } while (nodes_.count(node->id) != 0);
  node->token = new_token();
  node->name.assign(name);
  node->group = &group_named(group_name);
  node->rate_tokens = 2 * config_.rate_limit;
  node->rate_refill_ms = now();
  Node* raw = node.get();
  nodes_.emplace(std::string_view(raw->id), std::move(node));
  changed_.clear();
  raw->group->grid.join(raw, changed_);
  deadlines_.schedule(raw, now() + config_.node_ttl_ms);
  arm_clock();
  if (log::enabled(log::Level::Info)) {
    log::Event(log::Level::Info, "join").str("node", raw->id).str("group", raw->group->name).str("name", raw->name)
        .num("nodes", nodes_.size());
  }
  return raw;
}

Node* Relay::join(std::string_view group_name, std::string_view name) {
  Node* node = add_node(group_name, name);
  if (node) {
    for (GridMember* m : changed_) push_neighbors_event(*as_node(m));
  }
  return node;
}

Node* Relay::restore_node(std::string_view group_name, std::string id, const Token& token, std::string name,
                          double rate_tokens) {
  if (nodes_.count(id) != 0) return nullptr;
  auto node = std::make_unique<Node>();
  node->id = std::move(id);
  node->token = token;
  node->name = std::move(name);
  node->group = &group_named(group_name);
  node->rate_tokens = std::min(rate_tokens, 2 * config_.rate_limit);
  node->rate_refill_ms = now();
  Node* raw = node.get();
  nodes_.emplace(std::string_view(raw->id), std::move(node));
  changed_.clear();
  raw->group->grid.join(raw, changed_);  // slot order is the snapshot's order: no one's view changes
  deadlines_.schedule(raw, now() + config_.node_ttl_ms);
  arm_clock();
  return raw;
}

void Relay::restore_view(Node& node, const NodeView& view) { node.view = std::make_unique<NodeView>(view); }

void Relay::restore_places() {
  for (auto& entry : nodes_) {
    Node& node = *entry.second;  // a named reference: clang 14 captures no structured bindings
    node.mailbox.rewrite_neighbors([&](uint64_t) {
      place_buffer_.clear();
      append_place(node, place_buffer_);
      return neighbors_event_text(place_buffer_);
    });
  }
}

void Relay::announce_all_places() {
  for (auto& [id, node] : nodes_) push_neighbors_event(*node);
}

void Relay::clear() {
  for (auto& [id, node] : nodes_) deadlines_.cancel(node.get());
  for (Node* n : wake_list_) n->wake_queued = false;
  wake_list_.clear();
  nodes_.clear();
  groups_.clear();
  polls_pending_ = 0;
  arm_clock();
}

void Relay::drop_all() {
  if (log::enabled(log::Level::Info)) {
    log::Event(log::Level::Info, "leave_all").str("reason", "relay_lost").num("nodes", nodes_.size());
  }
  for (auto& entry : nodes_) {
    Node& node = *entry.second;
    if (node.poll.holder != 0) {
      const ParkedPoll poll = node.poll;
      node.poll = ParkedPoll{};
      answerer_.gone(poll);
    }
    for (const Event& e : node.mailbox.take_all()) {
      if (e.kind != EventKind::Neighbors) ++counters_.dropped;
    }
  }
  clear();
}

Node* Relay::find(std::string_view id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second.get();
}

void Relay::leave(Node* node, LeaveReason why) {
  if (log::enabled(log::Level::Info)) {
    log::Event(log::Level::Info, "leave").str("node", node->id).str("group", node->group->name)
        .str("reason", why == LeaveReason::Ttl ? "ttl" : "delete").num("nodes", nodes_.size() - 1);
  }
  if (node->poll.holder != 0) {
    const ParkedPoll poll = node->poll;
    node->poll = ParkedPoll{};
    --polls_pending_;
    answerer_.gone(poll);
  }
  deadlines_.cancel(node);
  if (node->wake_queued) {
    wake_list_.erase(std::remove(wake_list_.begin(), wake_list_.end(), node), wake_list_.end());
    node->wake_queued = false;
  }

  Group* group = node->group;
  changed_.clear();
  group->grid.leave(node, changed_);
  if (hooks_) {
    hooks_->node_left(*node);  // its owner moves the grid and tells the neighbours
  } else {
    for (GridMember* m : changed_) push_neighbors_event(*as_node(m));
  }

  auto owned = std::move(nodes_.find(std::string_view(node->id))->second);
  nodes_.erase(std::string_view(node->id));
  forget_member(group);

  // Unread sprites go back to their throwers; what cannot go back (the
  // thrower has left, or its mailbox is full) is counted as dropped. A
  // sprite from another relay goes back through the thrower's home, which
  // kept a copy.
  for (Event& e : node->mailbox.take_all()) {
    if (e.kind == EventKind::Returned) {
      ++counters_.dropped;
      continue;
    }
    if (e.kind != EventKind::Sprite) continue;
    if (e.copy != 0 && hooks_) {
      hooks_->sprite_unread(e.thrower, e.copy);
      continue;
    }
    give_back(e.thrower, ref_of(*node), std::string_view(e.text).substr(e.tail_at));
  }
}

void Relay::forget_member(Group* group) {
  if (group->grid.empty()) groups_.erase(group->name);
}

bool Relay::give_back(std::string_view thrower_id, EventRef receiver, std::string_view tail) {
  Node* thrower = find(thrower_id);
  if (!thrower || thrower->mailbox.size() >= config_.mailbox_limit) {
    LOG_DEBUG("a sprite of %.*s cannot go back: %s", static_cast<int>(thrower_id.size()), thrower_id.data(),
              thrower ? "its mailbox is full" : "it has left");
    ++counters_.dropped;
    return false;
  }
  uint32_t tail_at = 0;
  std::string text = returned_event_text(receiver, tail, tail_at);
  push_event(*thrower, EventKind::Returned, std::move(text), tail_at, std::string());
  ++counters_.returned;
  return true;
}

// ---- in a cluster ----------------------------------------------------------

Node* Relay::admit(std::string_view group_name, std::string_view name) {
  // The group's grid here is this relay's list of its nodes (node.h).
  Node* node = add_node(group_name, name);
  if (node) node->view = std::make_unique<NodeView>();
  return node;
}

void Relay::discard(Node* node) {
  LOG_DEBUG("node %s discarded: its join did not complete", node->id.c_str());
  deadlines_.cancel(node);
  Group* group = node->group;
  changed_.clear();
  group->grid.leave(node, changed_);
  auto owned = std::move(nodes_.find(std::string_view(node->id))->second);
  nodes_.erase(std::string_view(node->id));
  forget_member(group);
  arm_clock();
}

void Relay::place(Node& node, const NodeView& view, bool first) {
  NodeView& mine = *node.view;
  if (mine.placed && view.version <= mine.version) return;  // an older word
  if (!mine.placed && view.version <= mine.version && mine.version != 0) {
    // A later place came before the join's answer: it stands.
    mine.placed = mine.placed || first;
    return;
  }
  const bool changed = mine.row != view.row || mine.col != view.col || mine.neighbours != view.neighbours;
  const bool was_placed = mine.placed;
  mine.version = view.version;
  mine.row = view.row;
  mine.col = view.col;
  mine.neighbours = view.neighbours;
  mine.placed = was_placed || first;
  if (was_placed && changed) push_neighbors_event(node);
}

DeliverVerdict Relay::deliver(std::string_view receiver_id, EventRef thrower, Direction direction, bool has_id,
                              std::string_view sprite_id, std::string_view sprite, uint64_t copy) {
  Node* receiver = find(receiver_id);
  if (!receiver) return DeliverVerdict::UnknownNode;
  if (receiver->mailbox.size() >= config_.mailbox_limit) return DeliverVerdict::MailboxFull;
  uint32_t tail_at = 0;
  std::string text = sprite_event_text(thrower, direction,
                                       has_id ? std::optional<std::string_view>(sprite_id) : std::nullopt, sprite,
                                       tail_at);
  Event e;
  e.kind = EventKind::Sprite;
  e.tail_at = tail_at;
  e.text = std::move(text);
  e.thrower.assign(thrower.node);
  e.copy = copy;
  e.accepted_ms = now();
  receiver->mailbox.append(std::move(e));
  wake(*receiver);
  return DeliverVerdict::Accepted;
}

// ---- events --------------------------------------------------------------

void Relay::push_event(Node& node, EventKind kind, std::string&& text, uint32_t tail_at, std::string thrower) {
  Event e;
  e.kind = kind;
  e.tail_at = tail_at;
  e.text = std::move(text);
  e.thrower = std::move(thrower);
  if (kind == EventKind::Sprite) e.accepted_ms = now();
  if (kind == EventKind::Neighbors) {
    node.mailbox.replace_neighbors(std::move(e));
  } else {
    node.mailbox.append(std::move(e));
  }
  wake(node);
}

void Relay::push_neighbors_event(Node& node) {
  // Sized exactly: a node keeps this event until it polls again, and a join
  // burst holds thousands of them at once (a guessed reserve of 320 bytes
  // raised the master's RSS per held poll by ~25 bytes).
  std::string& place = place_buffer_;
  place.clear();
  append_place(node, place);
  push_event(node, EventKind::Neighbors, neighbors_event_text(place), 0, std::string());
}

void Relay::append_place(const Node& node, std::string& out) const {
  if (node.view) {
    const NodeView& v = *node.view;
    out.append("\"position\":{\"row\":");
    http::append_uint(out, v.row);
    out.append(",\"col\":");
    http::append_uint(out, v.col);
    out.append("},\"neighbors\":{");
    for (Direction d : kAllDirections) {
      if (d != Direction::Left) out.push_back(',');
      out.push_back('"');
      out.append(direction_name(d));
      out.append("\":");
      const NodeView::Ref& r = v.neighbours[static_cast<size_t>(d)];
      append_ref(out, EventRef{r.id, r.name});
    }
    out.push_back('}');
    return;
  }
  const Grid& grid = node.group->grid;
  Position p = grid.position(node.slot);
  out.append("\"position\":{\"row\":");
  http::append_uint(out, p.row);
  out.append(",\"col\":");
  http::append_uint(out, p.col);
  out.append("},\"neighbors\":{");
  bool first = true;
  for (Direction d : kAllDirections) {
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out.append(direction_name(d));
    out.append("\":");
    append_ref(out, ref_of(*static_cast<const Node*>(grid.neighbour(node, d))));
  }
  out.push_back('}');
}

// ---- polls ---------------------------------------------------------------

void Relay::acknowledge(Node& node, uint64_t after) {
  node.mailbox.acknowledge(after, [this](const Event& e) {
    if (e.kind != EventKind::Sprite) return;
    ++counters_.delivered;
    if (e.accepted_ms != 0) counters_.delivery.observe(now() - e.accepted_ms);
    if (e.copy != 0 && hooks_) hooks_->sprite_read(e.thrower, e.copy);
  });
}

bool Relay::poll(Node& node, const ParkedPoll& holder, uint64_t after, uint64_t timeout_ms) {
  acknowledge(node, after);
  if (node.poll.holder != 0) answer_poll(node, /*superseded=*/true);
  if (node.mailbox.size() > 0 || timeout_ms == 0) {
    std::string body = render_buffer_.take();
    node.mailbox.render(after, config_.max_events_per_response, body);
    answerer_.answer(holder, body);
    render_buffer_.give_back(std::move(body));
    end_poll(node);
    return false;
  }
  node.poll = holder;
  node.poll_after = after;
  ++polls_pending_;
  deadlines_.schedule(&node, now() + timeout_ms);
  arm_clock();
  return true;
}

void Relay::answer_poll(Node& node, bool superseded) {
  const ParkedPoll holder = node.poll;
  node.poll = ParkedPoll{};
  --polls_pending_;
  std::string body = render_buffer_.take();
  if (superseded) {
    body.append("{\"cursor\":");
    http::append_uint(body, node.poll_after);
    body.append(",\"events\":[],\"superseded\":true}");
  } else {
    node.mailbox.render(node.poll_after, config_.max_events_per_response, body);
  }
  answerer_.answer(holder, body);
  render_buffer_.give_back(std::move(body));
  end_poll(node);
}

void Relay::end_poll(Node& node) {
  // Alive for node_ttl_ms after its last poll ended.
  deadlines_.schedule(&node, now() + config_.node_ttl_ms);
  arm_clock();
}

void Relay::poll_dropped(Node& node, const ParkedPoll& holder) {
  if (node.poll.holder == 0 || node.poll.holder != holder.holder) return;
  node.poll = ParkedPoll{};
  --polls_pending_;
  end_poll(node);
}

void Relay::wake(Node& node) {
  if (node.poll.holder == 0 || node.wake_queued) return;
  node.wake_queued = true;
  wake_list_.push_back(&node);
  if (wake_list_.size() == 1) clock_.wake_after_turn();
}

void Relay::on_turn_end() {
  std::vector<Node*> list;
  list.swap(wake_list_);
  for (Node* node : list) {
    node->wake_queued = false;
    if (node->poll.holder != 0 && node->mailbox.size() > 0) answer_poll(*node, false);
  }
  if (wake_list_.capacity() < list.capacity()) wake_list_.swap(list);
  wake_list_.clear();
}

void Relay::answer_all_polls() {
  for (auto& [id, node] : nodes_) {
    if (node->poll.holder != 0) answer_poll(*node, false);
  }
}

// ---- deadlines -----------------------------------------------------------

void Relay::arm_clock() {
  clock_.wake_at(deadlines_.empty() ? RelayClock::kNever : deadlines_.top()->deadline_ms);
}

void Relay::on_deadline() {
  const uint64_t t = now();
  while (DeadlineEntry* e = deadlines_.pop_due(t)) {
    Node* node = as_node(e);
    if (node->poll.holder != 0) {
      answer_poll(*node, false);  // held until timeout_ms: answered empty
    } else {
      leave(node, LeaveReason::Ttl);  // no poll for node_ttl_ms
    }
  }
  arm_clock();
}

// ---- throws --------------------------------------------------------------

ThrowOutcome Relay::throw_sprite(std::string_view node_id, std::string_view token, Direction direction,
                                 bool has_id, std::string_view sprite_id, std::string_view sprite) {
  Node* thrower = find(node_id);
  if (!thrower) {
    counters_.reject(RejectCode::UnknownNode);
    return {ThrowVerdict::UnknownNode};
  }
  if (!token_equals(thrower->token, token)) {
    counters_.reject(RejectCode::Unauthorized);
    return {ThrowVerdict::WrongToken};
  }
  if (config_.rate_limit > 0) {
    uint64_t t = now();
    double burst = 2 * config_.rate_limit;
    thrower->rate_tokens =
        std::min(burst, thrower->rate_tokens + static_cast<double>(t - thrower->rate_refill_ms) * config_.rate_limit / 1000.0);
    thrower->rate_refill_ms = t;
    if (thrower->rate_tokens < 1) {
      counters_.reject(RejectCode::RateLimited);
      return {ThrowVerdict::RateLimited};
    }
    thrower->rate_tokens -= 1;
  }
  Node* receiver = nullptr;
  if (thrower->view) {
    if (!thrower->view->placed) return {ThrowVerdict::ReceiverGone};  // its join is still under way
    const NodeView::Ref& seen = thrower->view->neighbours[static_cast<size_t>(direction)];
    receiver = find(seen.id);
    if (!receiver) {
      if (!config_.node_id_prefix.empty() && seen.id.rfind(config_.node_id_prefix, 0) == 0) {
        return {ThrowVerdict::ReceiverGone};
      }
      ThrowOutcome out{ThrowVerdict::Elsewhere};
      out.thrower = thrower;
      out.remote = &seen;
      return out;
    }
  } else {
    receiver = as_node(thrower->group->grid.neighbour(*thrower, direction));
  }
  if (receiver->mailbox.size() >= config_.mailbox_limit) {
    counters_.reject(RejectCode::MailboxFull);
    return {ThrowVerdict::MailboxFull};
  }
  uint32_t tail_at = 0;
  std::string text = sprite_event_text(ref_of(*thrower), direction,
                                       has_id ? std::optional<std::string_view>(sprite_id) : std::nullopt, sprite,
                                       tail_at);
  push_event(*receiver, EventKind::Sprite, std::move(text), tail_at, thrower->id);
  ++counters_.accepted;
  return {ThrowVerdict::Accepted, receiver};
}

}  // namespace sprites::master

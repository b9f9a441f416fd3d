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

Node* Relay::join(std::string_view group_name, std::string_view name) {
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
  for (GridMember* m : changed_) push_neighbors_event(*as_node(m));
  deadlines_.schedule(raw, now() + config_.node_ttl_ms);
  arm_clock();
  return raw;
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

void Relay::leave(Node* node) {
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
  for (GridMember* m : changed_) push_neighbors_event(*as_node(m));

  auto owned = std::move(nodes_.find(std::string_view(node->id))->second);
  nodes_.erase(std::string_view(node->id));
  if (group->grid.empty()) groups_.erase(group->name);

  // Unread sprites go back to their throwers; what cannot go back (the
  // thrower has left, or its mailbox is full) is counted as dropped.
  for (Event& e : node->mailbox.take_all()) {
    if (e.kind == EventKind::Returned) {
      ++counters_.dropped;
      continue;
    }
    if (e.kind != EventKind::Sprite) continue;
    Node* thrower = find(e.thrower);
    if (!thrower || thrower->mailbox.size() >= config_.mailbox_limit) {
      ++counters_.dropped;
      continue;
    }
    uint32_t tail_at = 0;
    std::string text = returned_event_text(ref_of(*node), std::string_view(e.text).substr(e.tail_at), tail_at);
    push_event(*thrower, EventKind::Returned, std::move(text), tail_at, std::string());
    ++counters_.returned;
  }
}

// ---- events --------------------------------------------------------------

void Relay::push_event(Node& node, EventKind kind, std::string&& text, uint32_t tail_at, std::string thrower) {
  Event e;
  e.kind = kind;
  e.tail_at = tail_at;
  e.text = std::move(text);
  e.thrower = std::move(thrower);
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
    if (e.kind == EventKind::Sprite) ++counters_.delivered;
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
      LOG_DEBUG("node %s left: no poll for %u ms", node->id.c_str(), config_.node_ttl_ms);
      leave(node);
    }
  }
  arm_clock();
}

// ---- throws --------------------------------------------------------------

ThrowOutcome Relay::throw_sprite(std::string_view node_id, std::string_view token, Direction direction,
                                 bool has_id, std::string_view sprite_id, std::string_view sprite) {
  Node* thrower = find(node_id);
  if (!thrower) {
    ++counters_.rejected;
    return {ThrowVerdict::UnknownNode};
  }
  if (!token_equals(thrower->token, token)) {
    ++counters_.rejected;
    return {ThrowVerdict::WrongToken};
  }
  if (config_.rate_limit > 0) {
    uint64_t t = now();
    double burst = 2 * config_.rate_limit;
    thrower->rate_tokens =
        std::min(burst, thrower->rate_tokens + static_cast<double>(t - thrower->rate_refill_ms) * config_.rate_limit / 1000.0);
    thrower->rate_refill_ms = t;
    if (thrower->rate_tokens < 1) {
      ++counters_.rejected;
      return {ThrowVerdict::RateLimited};
    }
    thrower->rate_tokens -= 1;
  }
  Node* receiver = as_node(thrower->group->grid.neighbour(*thrower, direction));
  if (receiver->mailbox.size() >= config_.mailbox_limit) {
    ++counters_.rejected;
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

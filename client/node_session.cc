// See node_session.h.
#include "client/node_session.h"

#include <algorithm>

#include "common/fnv1a.h"

namespace sprites::client {

std::string_view poll_stop_name(PollStop why) {
  switch (why) {
    case PollStop::Superseded: return "superseded";
    case PollStop::Gone: return "gone";
    case PollStop::Refused: return "refused";
    case PollStop::Failed: return "failed";
    case PollStop::Moved: return "moved";
  }
  return "failed";
}

NodeSession::NodeSession(Transport& master, Transport& worker, SessionObserver& observer, uint32_t tag)
    : master_(&master), worker_(&worker), observer_(observer), tag_(tag) {}

void NodeSession::join(const std::optional<std::string>& group, const std::optional<std::string>& name,
                       bool then_poll, std::string_view ticket) {
  if (state_ != State::New) return;
  state_ = State::Joining;
  poll_after_join_ = then_poll;
  master_->send(Request{"POST", "/v1/nodes", std::string(ticket), join_body(group, name)},
               [this](Response&& response) { on_join_answer(std::move(response)); });
}

void NodeSession::on_join_answer(Response&& response) {
  if (state_ != State::Joining) return;
  RawObject body = RawObject::checked(response.status == 201 ? std::string_view(response.body) : std::string_view());
  std::string node, token;
  if (!body.read_string("node", node) || !body.read_string("token", token) || node.empty()) {
    state_ = State::New;
    if (response.status == 201) {
      response.status = 0;
      response.failure = "a 201 without node and token: " + response.body.substr(0, 200);
    }
    observer_.on_join_failed(*this, response);
    return;
  }
  node_ = std::move(node);
  token_ = std::move(token);
  body.read_uint("cursor", cursor_);
  last_seq_ = cursor_;
  read_member(body, "position", read_position, position_);
  read_member(body, "neighbors", read_neighbours, neighbours_);
  state_ = State::Joined;
  if (poll_after_join_) polling_ = true;
  observer_.on_joined(*this, response.body);
  if (polling_ && state_ == State::Joined) poll();
}

void NodeSession::adopt(std::string node, std::string token, uint64_t after) {
  node_ = std::move(node);
  token_ = std::move(token);
  cursor_ = after;
  last_seq_ = after;
  state_ = State::Joined;
}

void NodeSession::start_polling() {
  if (state_ != State::Joined) return;
  polling_ = true;
  if (!poll_outstanding_) poll();
}

void NodeSession::poll() {
  poll_outstanding_ = true;
  master_->send(Request{"GET", events_target(node_, cursor_, poll_timeout_ms_), token_, {}},
               [this](Response&& response) { on_poll_answer(std::move(response)); });
}

void NodeSession::stop(PollStop why, const Response& response) {
  polling_ = false;
  if (why == PollStop::Gone) state_ = State::Gone;
  observer_.on_poll_stopped(*this, why, response);
}

void NodeSession::on_poll_answer(Response&& response) {
  poll_outstanding_ = false;
  if (state_ == State::Leaving || state_ == State::Left) return;  // the leave ended it
  if (response.status == 404) return stop(PollStop::Gone, response);
  if (response.status == 307) return stop(PollStop::Moved, response);
  if (response.status != 200) {
    bool refused = response.status >= 400 && response.status < 500;
    return stop(refused ? PollStop::Refused : PollStop::Failed, response);
  }
  // Checked whole, then read in place (see protocol.h): no DOM per answer.
  RawObject body = RawObject::checked(response.body);
  uint64_t answer_cursor = 0;
  std::optional<std::vector<std::string_view>> events;
  if (body.read_uint("cursor", answer_cursor)) events = body.array_elements("events");
  if (!events) {
    Response odd = std::move(response);
    odd.failure = "a poll answer that is not {cursor, events}: " + odd.body.substr(0, 200);
    odd.status = 0;
    return stop(PollStop::Failed, odd);
  }
  for (std::string_view raw : *events) {
    RawObject event(raw);
    uint64_t seq = 0;
    if (!event.read_uint("seq", seq)) continue;  // not an event: nothing to acknowledge it by
    if (seq <= last_seq_) {
      ++duplicates_dropped_;
      continue;
    }
    last_seq_ = seq;
    std::string type_name;
    event.read_string("type", type_name);
    EventType type = event_type(type_name);
    if (type == EventType::Neighbors) {
      read_member(event, "neighbors", read_neighbours, neighbours_);
      read_member(event, "position", read_position, position_);
    }
    if (type == EventType::Sprite && repeats_recent_sprite(event)) {
      ++id_duplicates_dropped_;
      continue;
    }
    observer_.on_event(*this, Event{seq, type, raw, event});
    if (state_ != State::Joined) return;  // the observer left or the node went away
  }
  // The cursor only moves forward: an answer never un-acknowledges.
  cursor_ = std::max(cursor_, answer_cursor);
  bool superseded = false;
  if (body.read_bool("superseded", superseded) && superseded) return stop(PollStop::Superseded, response);
  if (polling_ && !poll_outstanding_) poll();
}

bool NodeSession::repeats_recent_sprite(const RawObject& event) {
  std::string id;
  NodeRef from;
  if (!event.read_string("id", id) || !read_member(event, "from", read_node_ref, from)) return false;
  // Thrower, a separator no node id contains, and id.
  const uint64_t h = sprites::Fnv1a().add(from.node).add(std::string_view("\0", 1)).add(id).value();
  if (!recent_sprite_ids_) {
    recent_sprite_ids_ = std::make_unique<std::array<uint64_t, kRecentSpriteIds>>();
    recent_sprite_ids_->fill(0);
  }
  for (uint64_t seen : *recent_sprite_ids_) {
    if (seen == h) return true;
  }
  (*recent_sprite_ids_)[recent_next_] = h;
  recent_next_ = static_cast<uint8_t>((recent_next_ + 1) % kRecentSpriteIds);
  return false;
}

void NodeSession::throw_sprite(Direction direction, std::string_view sprite_json, std::optional<std::string_view> id,
                               ResponseHandler done) {
  worker_->send(Request{"POST", sprites_target(node_), token_, throw_body(direction, sprite_json, id)},
               std::move(done));
}

void NodeSession::leave(ResponseHandler done) {
  polling_ = false;
  state_ = State::Leaving;
  master_->send(Request{"DELETE", node_target(node_), token_, {}},
               [this, done = std::move(done)](Response&& response) {
                 if (response.status == 204 || response.status == 404) state_ = State::Left;
                 else if (state_ == State::Leaving) state_ = State::Joined;
                 if (done) done(std::move(response));
               });
}

}  // namespace sprites::client

// See fleet.h.
#include "client/swarm/fleet.h"

#include "common/direction.h"

namespace sprites::swarm {
namespace {

client::HttpClientOptions client_options(const client::Endpoint& server, const FleetConfig& config,
                                         uint32_t in_flight) {
  client::HttpClientOptions o;
  o.server = server;
  o.source = config.source;
  o.max_in_flight = in_flight;
  o.tls = client::tls_for(server, config.tls);
  return o;
}

// A join failure worth another try: no answer, or a 5xx other than node_limit
// (a full relay stays full).
bool transient(const client::Response& response) {
  if (!response.answered()) return true;
  return response.status >= 500 && client::error_code(response) != "node_limit";
}

}  // namespace

Fleet::Node::Node(Fleet& fleet, uint32_t index)
    // The master connection pipelines two requests: a leave goes out behind the held poll.
    : master(client::HttpClient::create(fleet.loop_, client_options(fleet.config_.master, fleet.config_, 2))),
      worker(client::HttpClient::create(fleet.loop_, client_options(fleet.config_.worker, fleet.config_, 4))),
      session(*master, *worker, fleet, index) {
  if (fleet.config_.poll_timeout_ms != 0) session.set_poll_timeout_ms(fleet.config_.poll_timeout_ms);
}

Fleet::Fleet(uv_loop_t* loop, FleetConfig config, Ledger& ledger, uint64_t seed)
    : loop_(loop), config_(std::move(config)), ledger_(ledger), rng_(seed) {
  for (uint64_t i = 0; i < config_.nodes; ++i) nodes_.emplace_back(*this, static_cast<uint32_t>(i));
}

Fleet::~Fleet() = default;

size_t Fleet::join_some(size_t budget) {
  size_t started = 0;
  while (started < budget && next_join_ < nodes_.size() && joins_in_flight_ < kMaxJoinsInFlight) {
    start_join(static_cast<uint32_t>(next_join_++));
    ++started;
  }
  return started;
}

void Fleet::start_join(uint32_t index) {
  if (join_started_ns_ == 0) join_started_ns_ = uv_hrtime();
  Node& node = nodes_[index];
  ++node.join_attempts;
  ++joins_in_flight_;
  uint64_t global = config_.first_node + index;
  std::string name = "n";  // appended: GCC 12 warns falsely on "n" + std::string
  name += std::to_string(global);
  node.session.join(config_.group_prefix + std::to_string(global % config_.groups), name);
}

bool Fleet::joining_done() const {
  if (next_join_ < nodes_.size() || joins_in_flight_ != 0) return false;
  for (const Retry& r : retries_) {
    if (r.join) return false;
  }
  return true;
}

void Fleet::retry(uint64_t now_ms) {
  // Retries are appended in time order (same delay for all), so the due ones are in front.
  while (!retries_.empty() && retries_.front().at_ms <= now_ms) {
    if (retries_.front().join && joins_in_flight_ >= kMaxJoinsInFlight) break;
    Retry r = retries_.front();
    retries_.pop_front();
    if (r.join) start_join(r.node);
    else nodes_[r.node].session.start_polling();
  }
}

size_t Fleet::held() const {
  size_t n = 0;
  for (const Node& node : nodes_) n += is_held(node) ? 1 : 0;
  return n;
}

bool Fleet::throw_from(std::optional<size_t> which, uint64_t now_ns, std::function<void()> done) {
  if (nodes_.empty()) return false;
  size_t index = which ? *which : static_cast<size_t>(rng_() % nodes_.size());
  if (!which) {
    // A random held node: probe forward from a random start.
    size_t tries = 0;
    while (!is_held(nodes_[index]) && ++tries < nodes_.size()) index = (index + 1) % nodes_.size();
  }
  Node& node = nodes_[index];
  if (!is_held(node) || node.worker->pending() >= kMaxThrowBacklog) return false;
  ThrowTicket ticket = ledger_.begin_throw(now_ns);
  auto direction = static_cast<Direction>(rng_() % 4);
  node.session.throw_sprite(direction, Ledger::sprite_json(now_ns), ledger_.sprite_id(ticket.seq),
                            [this, ticket, done = std::move(done)](client::Response&& response) {
                              ledger_.end_throw(ticket, response);
                              if (done) done();
                            });
  return true;
}

void Fleet::leave_all(std::function<void()> done) {
  all_left_ = std::move(done);
  retries_.clear();
  for (Node& node : nodes_) {
    if (!node.session.joined()) continue;
    ++leaves_pending_;
    node.session.leave([this](client::Response&&) {
      if (--leaves_pending_ == 0 && all_left_) all_left_();
    });
  }
  if (leaves_pending_ == 0 && all_left_) all_left_();
}

void Fleet::fill(ChildFigures& f) const {
  f.asked = nodes_.size();
  f.joined = joined_;
  f.gone = gone_;
  f.join_failures = join_failures_;
  f.poll_failures = poll_failures_;
  f.join_started_ns = join_started_ns_;
  f.join_finished_ns = join_finished_ns_;
  uint64_t dropped = 0;
  for (const Node& node : nodes_) {
    dropped += node.session.duplicates_dropped();
    // A sprite the session dropped by id was delivered twice by the relay:
    // the swarm's throws have unique ids, so it counts as duplicated.
    f.duplicated += node.session.id_duplicates_dropped();
  }
  f.seq_duplicates = dropped;
}

// ---- SessionObserver ----------------------------------------------------------

void Fleet::on_joined(client::NodeSession&, std::string_view) {
  --joins_in_flight_;
  ++joined_;
  join_finished_ns_ = uv_hrtime();
}

void Fleet::on_join_failed(client::NodeSession& session, const client::Response& response) {
  --joins_in_flight_;
  Node& node = nodes_[session.tag()];
  if (transient(response) && node.join_attempts < kJoinAttempts) {
    retries_.push_back(Retry{uv_now(loop_) + kRetryDelayMs, session.tag(), true});
    return;
  }
  ++join_failed_;
  ++join_failures_[client::outcome(response)];
  join_finished_ns_ = uv_hrtime();
}

void Fleet::on_event(client::NodeSession&, const client::Event& event) {
  switch (event.type) {
    case client::EventType::Sprite: ledger_.on_sprite(event.members, uv_hrtime()); break;
    case client::EventType::Returned: ledger_.on_returned(event.members); break;
    case client::EventType::Neighbors:  // the session keeps them
    case client::EventType::Unknown: break;
  }
}

void Fleet::on_poll_stopped(client::NodeSession& session, client::PollStop why, const client::Response& response) {
  switch (why) {
    case client::PollStop::Gone: ++gone_; return;
    case client::PollStop::Failed:
      ++poll_failures_[client::outcome(response)];
      retries_.push_back(Retry{uv_now(loop_) + kRetryDelayMs, session.tag(), false});
      return;
    case client::PollStop::Refused:
    case client::PollStop::Superseded:
    case client::PollStop::Moved:  // a node polls the relay it joined at, its home: never expected
      ++poll_failures_[std::string(client::poll_stop_name(why)) + " " + client::outcome(response)];
      return;
  }
}

}  // namespace sprites::swarm

// See cluster_link.h.
#include "master/cluster_link.h"

#include <time.h>

#include <vector>

#include "cluster/messages.h"
#include "common/http_response.h"
#include "common/log.h"
#include "ipc/frame.h"
#include "master/worker_link.h"

namespace sprites::master {
namespace {

// A new incarnation: the wall clock in microseconds, so that a relay id that
// restarts (on this host or another) announces a larger one than before.
uint64_t new_incarnation() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

// How long before the worker gives up on a forwarded throw this relay answers
// it 503 relay_unavailable itself (the tick that notices runs every 250 ms).
constexpr uint64_t kAnswerMarginMs = 300;

}  // namespace

ClusterLink::ClusterLink(uv_loop_t* loop, Relay& relay, const RelayIdentity& identity, const std::string& nats_urls,
                         uint32_t relay_timeout_ms, uint32_t max_body_bytes)
    : loop_(loop),
      relay_(relay),
      identity_(identity),
      nats_urls_(nats_urls),
      max_frame_length_(ipc::max_throw_frame_length(max_body_bytes)) {
  started_ms_ = uv_now(loop);
  membership_ = std::make_unique<cluster::Membership>(identity.id, new_incarnation(), relay_timeout_ms, started_ms_);
}

ClusterLink::~ClusterLink() { close(); }

bool ClusterLink::start(std::string& why) {
  if (!identity_.clustered()) return true;
  heartbeat_subject_ = cluster::heartbeat_subject(identity_.cluster);
  own_subject_ = cluster::relay_subject(identity_.cluster, identity_.id);
  bus_ = std::make_unique<cluster::NatsBus>(loop_, *this);
  if (!bus_->start(nats_urls_, "sprites relay " + identity_.id, {heartbeat_subject_, own_subject_}, why)) {
    bus_.reset();
    return false;
  }
  tick_ = UvHandle<uv_timer_t>::allocate();
  uv_timer_init(loop_, tick_.get());
  tick_->data = this;
  uv_timer_start(tick_.get(), &ClusterLink::on_tick, 0, cluster::kHeartbeatIntervalMs);
  if (!bus_->connected()) LOG_WARN("NATS at %s is not reachable yet: serving local work, retrying", nats_urls_.c_str());
  return true;
}

void ClusterLink::close() {
  tick_.close();
  if (bus_) bus_->close();
  for (auto& [id, p] : pending_) p.done(503, http::error_body("relay_unavailable", "this relay is stopping"));
  pending_.clear();
}

// ---- membership ----------------------------------------------------------

void ClusterLink::on_tick(uv_timer_t* timer) { static_cast<ClusterLink*>(timer->data)->tick(); }

void ClusterLink::tick() {
  const uint64_t now = uv_now(loop_);
  if (membership_->self_cut_off(now, new_incarnation())) {
    LOG_WARN("cut off from the cluster for over %llu ms: the other relays have declared this one gone; "
             "dropping its %zu nodes and rejoining as a new relay",
             static_cast<unsigned long long>(membership_->timeout_ms()), relay_.node_count());
    relay_.drop_all();
  }
  for (const cluster::Heartbeat& gone : membership_->expire(now)) {
    LOG_WARN("relay %s is gone: not heard from for %llu ms", gone.id.c_str(),
             static_cast<unsigned long long>(membership_->timeout_ms()));
  }
  const uint64_t mono = ipc::monotonic_ms();
  std::vector<uint32_t> late;
  for (const auto& [id, p] : pending_) {
    if (mono >= p.answer_by_ms) late.push_back(id);
  }
  for (uint32_t id : late) {
    auto node = pending_.extract(id);
    node.mapped().done(503, http::error_body("relay_unavailable", "the thrower's home relay does not answer now; retry"));
  }
  announce();
}

void ClusterLink::announce() {
  cluster::Heartbeat hb;
  hb.id = identity_.id;
  hb.incarnation = membership_->incarnation();
  hb.master = identity_.master_url;
  hb.worker = identity_.worker_url;
  hb.nodes = relay_.node_count();
  bus_->publish(heartbeat_subject_, std::string(), cluster::encode_heartbeat(hb));
}

void ClusterLink::on_connection(bool connected) {
  if (connected) {
    LOG_INFO("connected to NATS at %s", nats_urls_.c_str());
    announce();
  } else {
    LOG_WARN("lost NATS at %s: work that needs another relay gets 503 cluster_unavailable", nats_urls_.c_str());
  }
}

void ClusterLink::on_message(const cluster::NatsBus::Message& m) {
  if (m.subject == heartbeat_subject_) {
    auto hb = cluster::decode_heartbeat(m.data);
    if (!hb) return;  // not a relay of ours: ignored
    std::vector<cluster::Heartbeat> replaced;
    auto heard = membership_->heard(*hb, uv_now(loop_), &replaced);
    for (const auto& old : replaced) LOG_WARN("relay %s restarted: its previous incarnation is gone", old.id.c_str());
    if (heard == cluster::Membership::Heard::New) {
      LOG_INFO("relay %s joined the cluster (%s, %s)", hb->id.c_str(), hb->master.c_str(), hb->worker.c_str());
    }
    return;
  }
  if (m.subject == own_subject_) {
    std::string_view from = cluster::relay_of_subject(identity_.cluster, m.reply);
    if (from.empty()) return;  // no way to answer: not a relay
    on_frames(m.reply, m.data);
  }
}

// ---- routing -------------------------------------------------------------

ClusterLink::Home ClusterLink::home_of(std::string_view node_id) const {
  if (!identity_.clustered()) return {Where::Here, {}};
  std::string_view home = cluster::home_of(node_id);
  if (home == identity_.id) return {Where::Here, {}};
  if (const cluster::RelayInfo* r = home.empty() ? nullptr : membership_->find(home)) {
    return {Where::There, r->last.master};
  }
  return {reachable() ? Where::Nowhere : Where::Unreachable, {}};
}

bool ClusterLink::reachable() const {
  return bus_ && bus_->connected() && !membership_->deaf(uv_now(loop_));
}

size_t ClusterLink::live_relays() const { return 1 + (identity_.clustered() ? membership_->others().size() : 0); }

std::string ClusterLink::render_cluster() const {
  const uint64_t now = uv_now(loop_);
  std::string out = "{\"name\":";
  http::append_json_string(out, identity_.clustered() ? identity_.cluster : std::string_view());
  out.append(",\"relay\":");
  http::append_json_string(out, identity_.id);
  out.append(",\"relays\":[{\"id\":");
  http::append_json_string(out, identity_.id);
  out.append(",\"master\":");
  http::append_json_string(out, identity_.master_url);
  out.append(",\"worker\":");
  http::append_json_string(out, identity_.worker_url);
  out.append(",\"nodes\":");
  http::append_uint(out, relay_.node_count());
  out.append(",\"last_seen_ms\":0}");
  if (identity_.clustered()) {
    for (const auto& [id, r] : membership_->others()) {
      out.append(",{\"id\":");
      http::append_json_string(out, id);
      out.append(",\"master\":");
      http::append_json_string(out, r.last.master);
      out.append(",\"worker\":");
      http::append_json_string(out, r.last.worker);
      out.append(",\"nodes\":");
      http::append_uint(out, r.last.nodes);
      out.append(",\"last_seen_ms\":");
      http::append_uint(out, now - r.last_seen_ms);
      out.push_back('}');
    }
  }
  out.append("]}");
  return out;
}

std::string ClusterLink::render_stats_member() const {
  if (!identity_.clustered()) return {};
  std::string out = "\"cluster\":{\"name\":";
  http::append_json_string(out, identity_.cluster);
  out.append(",\"relay\":");
  http::append_json_string(out, identity_.id);
  out.append(",\"relays\":");
  http::append_uint(out, live_relays());
  out.append(",\"nats_connected\":");
  out.append(bus_ && bus_->connected() ? "true" : "false");
  out.push_back('}');
  return out;
}

// ---- throws between relays ----------------------------------------------

bool ClusterLink::forward_throw(const ipc::ThrowMessage& t, ThrowDone done) {
  const Home home = home_of(t.node);
  if (home.where == Where::Here) return false;
  if (home.where == Where::Nowhere) {
    relay_.count_rejected();
    done(404, http::error_body("unknown_node", "no node with this id"));
    return true;
  }
  if (home.where == Where::Unreachable || !reachable()) {
    done(503, http::error_body("cluster_unavailable", "the relays cannot reach each other now; retry"));
    return true;
  }
  const uint64_t now = ipc::monotonic_ms();
  ipc::ThrowMessage forwarded = t;
  forwarded.expires_at_ms = t.expires_at_ms > now ? t.expires_at_ms - now : 0;
  const uint32_t id = next_request_id_++;
  std::string frame;
  ipc::append_frame(frame, ipc::FrameType::Throw, id, ipc::encode(forwarded));
  if (!bus_->publish(cluster::relay_subject(identity_.cluster, cluster::home_of(t.node)), own_subject_, frame)) {
    done(503, http::error_body("cluster_unavailable", "the relays cannot reach each other now; retry"));
    return true;
  }
  const uint64_t by = t.expires_at_ms > kAnswerMarginMs ? t.expires_at_ms - kAnswerMarginMs : 0;
  pending_.emplace(id, PendingThrow{std::move(done), by, std::string(cluster::home_of(t.node))});
  return true;
}

void ClusterLink::on_frames(std::string_view from, std::string_view data) {
  ipc::FrameDecoder decoder;
  decoder.set_max_length(max_frame_length_);
  decoder.feed(data.data(), data.size());
  ipc::FrameView f;
  while (decoder.next(f) == ipc::FrameDecoder::Status::Frame) {
    switch (f.type) {
      case ipc::FrameType::Throw:
        serve_throw(from, f.id, f.body);
        break;
      case ipc::FrameType::ThrowResult:
        on_throw_result(from, f.id, f.body);
        break;
      default:
        break;  // no other frame travels between relays
    }
  }
  if (decoder.failed() || decoder.buffered() != 0) LOG_WARN("a malformed message from %.*s: ignored its rest",
                                                           static_cast<int>(from.size()), from.data());
}

void ClusterLink::serve_throw(std::string_view from, uint32_t id, std::string_view body) {
  ipc::ThrowMessage t;
  if (!ipc::decode(body, t) || t.expires_at_ms == 0) return;  // malformed, or its worker gave up
  const ThrowAnswer answer = throw_answer(relay_.throw_sprite(t.node, t.token, t.direction, t.has_id, t.sprite_id, t.sprite));
  std::string frame;
  ipc::append_frame(frame, ipc::FrameType::ThrowResult, id, ipc::encode(ipc::ThrowResultMessage{answer.status, answer.body}));
  bus_->publish(std::string(from), own_subject_, frame);
}

void ClusterLink::on_throw_result(std::string_view from, uint32_t id, std::string_view body) {
  ipc::ThrowResultMessage r;
  if (!ipc::decode(body, r)) return;
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // answered 503 already
  if (cluster::relay_of_subject(identity_.cluster, from) != it->second.home) return;  // not the relay asked
  ThrowDone done = std::move(it->second.done);
  pending_.erase(it);
  done(r.status, r.body);
}

}  // namespace sprites::master

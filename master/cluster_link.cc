// See cluster_link.h.
#include "master/cluster_link.h"

#include <time.h>

#include <vector>

#include "cluster/messages.h"
#include "common/fnv1a.h"
#include "common/http_response.h"
#include "common/log.h"
#include "master/snapshot.h"
#include "master/stats.h"
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

// A NATS message stays well under the server's default 1 MB limit: frames
// of one turn to one relay leave in pieces of about this size.
constexpr size_t kMaxMessageBytes = 512 * 1024;

// Rendezvous weight of a relay for a group: FNV-1a, then a 64-bit finaliser
// so that ids differing in one character spread over the whole range.
uint64_t weight(std::string_view group, std::string_view relay) {
  return mix64(Fnv1a().add(group).add(std::string_view("\0", 1)).add(relay).value());
}

}  // namespace

ClusterLink::ClusterLink(uv_loop_t* loop, Relay& relay, const RelayIdentity& identity, const std::string& nats_urls,
                         uint32_t relay_timeout_ms)
    : loop_(loop), relay_(relay), identity_(identity), nats_urls_(nats_urls) {
  membership_ = std::make_unique<cluster::Membership>(identity.id, new_incarnation(), relay_timeout_ms, uv_now(loop));
  if (identity_.clustered()) {
    owner_ = std::make_unique<GroupOwner>(*this, relay_.config().grid_width);
    home_ = std::make_unique<ClusterHome>(*this, relay_);
    relay_.set_cluster_hooks(home_.get());
  }
}

ClusterLink::~ClusterLink() {
  close();
  relay_.set_cluster_hooks(nullptr);
}

bool ClusterLink::start(std::string& why) {
  if (!identity_.clustered()) return true;
  heartbeat_subject_ = cluster::heartbeat_subject(identity_.cluster);
  own_subject_ = cluster::relay_subject(identity_.cluster, identity_.id);
  bus_ = std::make_unique<cluster::NatsBus>(loop_, *this);
  if (!bus_->start(nats_urls_, "sprites relay " + identity_.id, {heartbeat_subject_, own_subject_}, why)) {
    bus_.reset();
    return false;
  }
  idle_ = UvHandle<uv_idle_t>::allocate();
  uv_idle_init(loop_, idle_.get());
  idle_->data = this;
  tick_ = UvHandle<uv_timer_t>::allocate();
  uv_timer_init(loop_, tick_.get());
  tick_->data = this;
  uv_timer_start(tick_.get(), &ClusterLink::on_tick, 0, cluster::kHeartbeatIntervalMs);
  if (!bus_->connected()) LOG_WARN("NATS at %s is not reachable yet: serving local work, retrying", nats_urls_.c_str());
  return true;
}

void ClusterLink::close() {
  tick_.close();
  // What this turn gathered still leaves (a planned restart's last words).
  if (idle_ && bus_ && bus_->connected()) flush();
  idle_.close();
  if (bus_) bus_->close();
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) p.done(503, http::error_body("relay_unavailable", "this relay is stopping"));
  if (home_) home_->stop();
}

// ---- planned restarts ------------------------------------------------------

nlohmann::json ClusterLink::snapshot_part() const {
  if (!identity_.clustered()) return nullptr;
  nlohmann::json part = home_->save();
  part["relay"] = identity_.id;
  part["incarnation"] = membership_->incarnation();
  return part;
}

void ClusterLink::restore_part(const SnapshotCluster& saved) {
  if (!identity_.clustered()) return;
  std::string why;
  const nlohmann::json& part = saved.part;
  // Resumed only while the others cannot have declared the old master gone:
  // past half the relay timeout, its nodes may have been removed from the
  // grids (and their sprites returned), so they must not come back.
  if (!part.is_object() || !part.contains("relay") || part["relay"] != identity_.id) {
    why = "it was written by another relay id";
  } else if (!part.contains("incarnation") || !part["incarnation"].is_number_unsigned()) {
    why = "it has no incarnation";
  } else if (saved.age_ms > membership_->timeout_ms() / 2) {
    why = "it is " + std::to_string(saved.age_ms) + " ms old: the cluster may have declared this relay gone";
  } else if (!home_->restore(part, why)) {
    why = "its kept copies: " + why;
  }
  if (!why.empty()) {
    LOG_WARN("the snapshot's nodes are dropped (%s): this relay joins the cluster as a new one", why.c_str());
    relay_.drop_all();
    home_->clear();
    return;
  }
  membership_->resume(part["incarnation"].get<uint64_t>());
  LOG_INFO("resuming as the same relay of the cluster: %zu nodes, %zu kept copies", relay_.node_count(),
           home_->kept_copies());
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
    owner_->clear();
    home_->clear();
    first_echo_ms_ = 0;
    settled_ = false;
    membership_changed();
  }
  if (!settled_ && first_echo_ms_ != 0 && now - first_echo_ms_ >= kSettleMs) {
    settled_ = true;
    LOG_INFO("settled in the cluster: %zu relays", live_relay_count());
    owner_->settle();
    home_->settle();
  }
  const std::vector<cluster::Heartbeat> gone = membership_->expire(now);
  for (const cluster::Heartbeat& g : gone) {
    LOG_WARN("relay %s is gone: not heard from for %llu ms", g.id.c_str(),
             static_cast<unsigned long long>(membership_->timeout_ms()));
    lost(g.id, g.incarnation);
  }
  if (!gone.empty()) membership_changed();

  const uint64_t mono = ipc::monotonic_ms();
  std::vector<uint32_t> late;
  for (const auto& [id, p] : pending_) {
    if (mono >= p.answer_by_ms) late.push_back(id);
  }
  for (uint32_t id : late) {
    auto node = pending_.extract(id);
    node.mapped().done(503, http::error_body("relay_unavailable", "the thrower's home relay does not answer now; retry"));
  }
  owner_->tick();
  home_->tick();
  home_->flush();
  const bool reachable_now = reachable();
  if (reachable_now && !was_reachable_) home_->claim_all();  // places lost meanwhile come again
  was_reachable_ = reachable_now;
  announce();
}

void ClusterLink::announce() {
  cluster::Heartbeat hb;
  hb.id = identity_.id;
  hb.incarnation = membership_->incarnation();
  hb.master = identity_.master_url;
  hb.worker = identity_.worker_url;
  hb.nodes = relay_.node_count();
  announced_ns_ = uv_hrtime();
  bus_->publish(heartbeat_subject_, std::string(), cluster::encode_heartbeat(hb));
}

void ClusterLink::lost(const std::string& relay, uint64_t incarnation) {
  owner_->relay_lost(relay, incarnation);
  home_->relay_lost(relay);
}

void ClusterLink::membership_changed() {
  owner_->membership_changed();
  home_->owners_changed();
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
    const auto heard = membership_->heard(*hb, uv_now(loop_), &replaced);
    if (heard == cluster::Membership::Heard::Self) {
      rtt_ns_ = uv_hrtime() - announced_ns_;
      if (first_echo_ms_ == 0) first_echo_ms_ = uv_now(loop_);
    }
    for (const auto& old : replaced) {
      LOG_WARN("relay %s restarted: its previous incarnation is gone", old.id.c_str());
      lost(old.id, old.incarnation);
    }
    if (heard == cluster::Membership::Heard::New) {
      LOG_INFO("relay %s joined the cluster (%s, %s)", hb->id.c_str(), hb->master.c_str(), hb->worker.c_str());
      membership_changed();
    }
    return;
  }
  if (m.subject == own_subject_) {
    const std::string from(cluster::relay_of_subject(identity_.cluster, m.reply));
    if (from.empty() || from == identity_.id) return;  // not a relay, or an impostor of this one
    // Not from a relay declared gone that still talks (frozen, or cut off):
    // it must not act on the cluster. A relay not heard yet (it started a
    // moment ago, or this one did) is heard.
    if (membership_->gone(from)) return;
    dispatch(from, m.data);
  }
}

// ---- frames between relays --------------------------------------------------

bool ClusterLink::post(const std::string& relay, cluster::WireType type, uint32_t id, std::string_view body) {
  if (relay == identity_.id) {
    cluster::append_wire_frame(local_, type, id, body);
  } else {
    if (!bus_ || !bus_->connected() || !membership_->find(relay)) return false;
    cluster::append_wire_frame(outbox_[relay], type, id, body);
  }
  soon();
  return true;
}

void ClusterLink::soon() {
  if (idle_ && !uv_is_active(idle_.handle())) uv_idle_start(idle_.get(), &ClusterLink::on_idle);
}

void ClusterLink::on_idle(uv_idle_t* idle) { static_cast<ClusterLink*>(idle->data)->flush(); }

void ClusterLink::flush() {
  // Frames to this relay first: handling them may send more (bounded
  // rounds; what is left waits for the next turn).
  for (int round = 0; round < 8 && !local_.empty(); ++round) {
    std::string frames;
    frames.swap(local_);
    dispatch(identity_.id, frames);
  }
  for (auto& [relay, data] : outbox_) {
    const std::string subject = cluster::relay_subject(identity_.cluster, relay);
    std::string_view rest = data;
    std::vector<cluster::WireFrame> frames;
    cluster::split_wire_frames(rest, frames);
    size_t start = 0, size = 0;
    for (const cluster::WireFrame& f : frames) {
      const size_t end = static_cast<size_t>(f.body.data() + f.body.size() - data.data());
      if (size > 0 && end - start > kMaxMessageBytes) {
        bus_->publish(subject, own_subject_, std::string_view(data).substr(start, size));
        start += size;
      }
      size = end - start;
    }
    if (size > 0) bus_->publish(subject, own_subject_, std::string_view(data).substr(start, size));
  }
  outbox_.clear();
  if (local_.empty()) uv_idle_stop(idle_.get());
}

void ClusterLink::dispatch(const std::string& from, std::string_view data) {
  std::vector<cluster::WireFrame> frames;
  const bool whole = cluster::split_wire_frames(data, frames);
  for (const cluster::WireFrame& f : frames) on_frame(from, f);
  if (!whole) LOG_WARN("a malformed message from relay %s: ignored its rest", from.c_str());
}

void ClusterLink::on_frame(const std::string& from, const cluster::WireFrame& f) {
  using cluster::WireType;
  bool ok = true;
  switch (f.type) {
    case WireType::Throw:
      serve_throw(from, f.id, f.body);
      return;
    case WireType::ThrowResult:
      on_throw_result(from, f.id, f.body);
      return;
    case WireType::Join: {
      cluster::JoinMessage m;
      if ((ok = cluster::decode(f.body, m))) owner_->on_join(from, f.id, m);
      break;
    }
    case WireType::JoinResult: {
      cluster::JoinResultMessage m;
      if ((ok = cluster::decode(f.body, m))) home_->on_join_result(from, f.id, m);
      break;
    }
    case WireType::Leave: {
      cluster::LeaveMessage m;
      if ((ok = cluster::decode(f.body, m))) owner_->on_leave(from, f.id, m);
      break;
    }
    case WireType::LeaveResult: {
      cluster::LeaveResultMessage m;
      if ((ok = cluster::decode(f.body, m))) home_->on_leave_result(from, f.id, m);
      break;
    }
    case WireType::Place: {
      cluster::PlaceMessage m;
      if ((ok = cluster::decode(f.body, m))) home_->on_place(from, f.id, m);
      break;
    }
    case WireType::PlaceAck:
      owner_->on_place_ack(from, f.id);
      break;
    case WireType::Claim: {
      cluster::ClaimMessage m;
      if ((ok = cluster::decode(f.body, m))) owner_->on_claim(from, m);
      break;
    }
    case WireType::Census: {
      cluster::CensusMessage m;
      if ((ok = cluster::decode(f.body, m))) home_->on_census(from, m);
      break;
    }
    case WireType::Deliver: {
      cluster::DeliverMessage m;
      if ((ok = cluster::decode(f.body, m))) home_->on_deliver(from, f.id, m);
      break;
    }
    case WireType::DeliverResult: {
      cluster::DeliverResultMessage m;
      if ((ok = cluster::decode(f.body, m))) home_->on_deliver_result(from, f.id, m);
      break;
    }
    case WireType::Acked:
    case WireType::Returned: {
      cluster::CopiesMessage m;
      if (!(ok = cluster::decode(f.body, m))) break;
      if (f.type == WireType::Acked) {
        home_->on_acked(from, m);
      } else {
        home_->on_returned(from, m);
      }
      break;
    }
  }
  if (!ok) LOG_WARN("a malformed frame (type %u) from relay %s: ignored", static_cast<unsigned>(f.type), from.c_str());
}

// ---- routing -------------------------------------------------------------

std::string ClusterLink::owner_of(std::string_view group) const {
  std::string_view best = identity_.id;
  uint64_t best_weight = weight(group, best);
  for (const auto& [id, info] : membership_->others()) {
    const uint64_t w = weight(group, id);
    if (w > best_weight || (w == best_weight && id < best)) {
      best = id;
      best_weight = w;
    }
  }
  return std::string(best);
}

std::vector<std::string> ClusterLink::live_relays() const {
  std::vector<std::string> out{identity_.id};
  for (const auto& [id, info] : membership_->others()) out.push_back(id);
  return out;
}

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

size_t ClusterLink::live_relay_count() const {
  return 1 + (identity_.clustered() ? membership_->others().size() : 0);
}

std::string ClusterLink::render_cluster() const {
  const uint64_t now = uv_now(loop_);
  std::string out = "{\"name\":";
  http::append_json_string(out, identity_.clustered() ? identity_.cluster : std::string_view());
  out.append(",\"relay\":");
  http::append_json_string(out, identity_.id);
  out.append(",\"relays\":[");
  append_relay_object(out, identity_.id, identity_.master_url, identity_.worker_url);
  out.append(",\"nodes\":");
  http::append_uint(out, relay_.node_count());
  out.append(",\"last_seen_ms\":0}");
  if (identity_.clustered()) {
    for (const auto& [id, r] : membership_->others()) {
      out.push_back(',');
      append_relay_object(out, id, r.last.master, r.last.worker);
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
  http::append_uint(out, live_relay_count());
  out.append(",\"nats_connected\":");
  out.append(bus_ && bus_->connected() ? "true" : "false");
  out.append(",\"settled\":");
  out.append(settled_ ? "true" : "false");
  out.append(",\"groups_kept\":");
  http::append_uint(out, owner_ ? owner_->groups_held() : 0);
  out.append(",\"kept_copies\":");
  http::append_uint(out, home_ ? home_->kept_copies() : 0);
  out.append(",\"thrown_across\":");
  http::append_uint(out, home_ ? home_->thrown_across() : 0);
  out.push_back('}');
  return out;
}

std::string ClusterLink::render_metrics() const {
  if (!identity_.clustered()) return {};
  const cluster::NatsBus::Figures f = bus_ ? bus_->figures() : cluster::NatsBus::Figures{};
  std::string out;
  const auto d = [](uint64_t v) { return static_cast<double>(v); };
  append_metric(out, "sprites_cluster_relays", "gauge", "Live relays of the cluster, this one included.",
                d(live_relay_count()));
  append_metric(out, "sprites_cluster_groups_kept", "gauge", "Groups whose grid this relay keeps.",
                d(owner_ ? owner_->groups_held() : 0));
  append_metric(out, "sprites_cluster_kept_copies", "gauge",
                "Sprites thrown to other relays' nodes and not yet read or returned.",
                d(home_ ? home_->kept_copies() : 0));
  append_metric(out, "sprites_cluster_thrown_across_total", "counter",
                "Accepted sprites whose receiver lives at another relay.", d(home_ ? home_->thrown_across() : 0));
  append_metric(out, "sprites_nats_connected", "gauge", "1 while the NATS connection is up.",
                bus_ && bus_->connected() ? 1 : 0);
  append_metric(out, "sprites_nats_in_messages_total", "counter", "NATS messages received.", d(f.in_msgs));
  append_metric(out, "sprites_nats_in_bytes_total", "counter", "NATS payload bytes received.", d(f.in_bytes));
  append_metric(out, "sprites_nats_out_messages_total", "counter", "NATS messages sent.", d(f.out_msgs));
  append_metric(out, "sprites_nats_out_bytes_total", "counter", "NATS payload bytes sent.", d(f.out_bytes));
  append_metric(out, "sprites_nats_reconnects_total", "counter", "Reconnections to NATS.", d(f.reconnects));
  append_metric(out, "sprites_nats_dropped_total", "counter",
                "NATS messages dropped because the master's inbox was full.", d(f.inbox_dropped));
  append_metric(out, "sprites_nats_rtt_seconds", "gauge",
                "Round trip of this relay's last heartbeat through NATS.", static_cast<double>(rtt_ns_) / 1e9);
  return out;
}

// ---- joins and throws ------------------------------------------------------

void ClusterLink::join(std::string_view group, std::string_view name, ClusterHome::JoinDone done) {
  home_->join(group, name, std::move(done));
}

bool ClusterLink::take_throw(const ipc::ThrowMessage& t, ThrowDone done) {
  if (!identity_.clustered()) return false;
  const Home home = home_of(t.node);
  switch (home.where) {
    case Where::Here:
      home_->throw_here(t, std::move(done));
      return true;
    case Where::Nowhere:
      relay_.count_rejected(RejectCode::UnknownNode);
      done(404, http::error_body("unknown_node", "no node with this id"));
      return true;
    case Where::Unreachable:
      done(503, http::error_body("cluster_unavailable", "the relays cannot reach each other now; retry"));
      return true;
    case Where::There:
      forward_throw(t, cluster::home_of(t.node), std::move(done));
      return true;
  }
  return true;
}

void ClusterLink::forward_throw(const ipc::ThrowMessage& t, std::string_view home, ThrowDone done) {
  const uint64_t now = ipc::monotonic_ms();
  ipc::ThrowMessage forwarded = t;
  forwarded.expires_at_ms = t.expires_at_ms > now ? t.expires_at_ms - now : 0;
  const uint32_t id = next_request_id_++;
  if (!reachable() || !post(std::string(home), cluster::WireType::Throw, id, ipc::encode(forwarded))) {
    done(503, http::error_body("cluster_unavailable", "the relays cannot reach each other now; retry"));
    return;
  }
  const uint64_t by = t.expires_at_ms > kAnswerMarginMs ? t.expires_at_ms - kAnswerMarginMs : 0;
  pending_.emplace(id, PendingThrow{std::move(done), by, std::string(home)});
}

void ClusterLink::serve_throw(const std::string& from, uint32_t id, std::string_view body) {
  ipc::ThrowMessage t;
  if (!ipc::decode(body, t) || t.expires_at_ms == 0) return;  // malformed, or its worker gave up
  t.expires_at_ms += ipc::monotonic_ms();                     // sent as the milliseconds left
  home_->throw_here(t, [this, from, id](uint16_t status, std::string_view answer) {
    post(from, cluster::WireType::ThrowResult, id, ipc::encode(ipc::ThrowResultMessage{status, answer}));
  });
}

void ClusterLink::on_throw_result(const std::string& from, uint32_t id, std::string_view body) {
  ipc::ThrowResultMessage r;
  if (!ipc::decode(body, r)) return;
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second.home != from) return;  // answered 503 already, or not the relay asked
  ThrowDone done = std::move(it->second.done);
  pending_.erase(it);
  done(r.status, r.body);
}

}  // namespace sprites::master

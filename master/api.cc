// See api.h.
#include "master/api.h"

#include <chrono>

#include "common/http_response.h"
#include "common/http_routes.h"
#include "common/log.h"
#include "master/join_body.h"
#include "master/join_ticket.h"

namespace sprites::master {

using http::EarlyResponse;
using http::HttpConnection;
using http::HttpRequest;
using http::Method;
using http::Route;

Api::Api(Relay& relay, Counters& counters, const RelayIdentity& identity, ClusterLink& cluster,
         std::function<void(Gauges&)> gauges, uint32_t max_body_bytes)
    : relay_(relay),
      counters_(counters),
      identity_(identity),
      cluster_(cluster),
      fill_gauges_(std::move(gauges)),
      max_body_bytes_(max_body_bytes) {
  started_ = std::chrono::steady_clock::now();
}

std::optional<EarlyResponse> Api::on_headers(HttpConnection& conn, const HttpRequest& req) {
  using http::method_bit;
  constexpr uint8_t kGet = method_bit(Method::Get);
  http::RouteMatch match;
  std::optional<EarlyResponse> early;
  if (operators_) {
    early = http::screen({{Route::Nodes, method_bit(Method::Post), false},
                          {Route::Node, static_cast<uint8_t>(kGet | method_bit(Method::Delete)), true},
                          {Route::NodeEvents, kGet, true},
                          {Route::PlayPage, kGet, false},
                          {Route::WebFile, kGet, false},
                          {Route::Healthz, kGet, false},
                          {Route::Stats, kGet, false},
                          {Route::Cluster, kGet, false},
                          {Route::StatusPage, kGet, false},
                          {Route::Metrics, kGet, false}},
                         req, max_body_bytes_, match);
    if (!early && req.method != Method::Options && OperatorApi::is_operator_route(match.route)) {
      early = operators_->check_token(req, match.route);
    }
  } else {  // the operator endpoints have a port of their own
    early = http::screen({{Route::Nodes, method_bit(Method::Post), false},
                          {Route::Node, static_cast<uint8_t>(kGet | method_bit(Method::Delete)), true},
                          {Route::NodeEvents, kGet, true},
                          {Route::PlayPage, kGet, false},
                          {Route::WebFile, kGet, false},
                          {Route::Healthz, kGet, false}},
                         req, max_body_bytes_, match);
  }
  if (early || match.route != Route::Nodes || req.method != Method::Post) return early;
  return screen_join(conn, req);
}

std::optional<EarlyResponse> Api::screen_join(HttpConnection& conn, const HttpRequest& req) {
  if (join_rate_limit_) {
    sockaddr_storage peer{};
    std::optional<SourceKey> source = conn.peer_address(peer) ? source_key(peer) : std::nullopt;
    if (const uint32_t wait_s = source ? join_rate_limit_->admit(*source) : 0; wait_s != 0) {
      ++counters_.joins_rate_limited;
      std::string retry = "Retry-After: ";
      http::append_uint(retry, wait_s);
      retry.append("\r\n");
      return EarlyResponse{429, http::error_body("rate_limited", "too many joins from this address; retry later"),
                           std::move(retry)};
    }
  }
  if (!join_key_.empty() && !http::request_token(req)) {
    ++counters_.joins_invalid_ticket;
    return EarlyResponse{401, http::error_body("invalid_ticket", ticket_fault_message(TicketFault::Missing)), {}};
  }
  return std::nullopt;
}

void Api::on_request(HttpConnection& conn, HttpRequest& req, uint32_t slot) {
  if (req.method == Method::Options) {
    conn.respond(slot, 204, {}, {}, http::kPreflightHeaders);
    return;
  }
  http::RouteMatch m = http::match_route(req.path());
  switch (m.route) {
    case Route::Nodes:
      join(conn, req, slot);
      return;
    case Route::Stats:
    case Route::Cluster:
    case Route::StatusPage:
    case Route::Metrics:
      // on_headers let these through only when the operators' endpoints
      // share this port, their token checked.
      operators_->answer(conn, req, m.route, slot);
      return;
    case Route::PlayPage:
      serve_page(conn, req, pages_, "play.html", slot);
      return;
    case Route::WebFile:
      serve_page(conn, req, pages_, m.file, slot);
      return;
    case Route::Healthz:
      conn.respond(slot, 200, http::kText, "ok");
      return;
    case Route::Node:
    case Route::NodeEvents:
      break;
    default:  // on_headers answered every other route
      conn.respond_error(slot, 404, "not_found", "no such path");
      return;
  }
  std::string_view token = *http::request_token(req);
  const ClusterLink::Home home = cluster_.home_of(m.node);
  if (home.where == ClusterLink::Where::There) {
    redirect(conn, req, home.master_url, slot);
    return;
  }
  if (home.where == ClusterLink::Where::Unreachable) {
    conn.respond_error(slot, 503, "cluster_unavailable", "this relay cannot reach the node's home now; retry",
                       "Retry-After: 1\r\n");
    return;
  }
  Node* node = home.where == ClusterLink::Where::Here ? relay_.find(m.node) : nullptr;
  if (!node) {
    conn.respond_error(slot, 404, "unknown_node", "no node with this id");
    return;
  }
  if (!token_equals(node->token, token)) {
    conn.respond_error(slot, 401, "unauthorized", "the token does not belong to this node");
    return;
  }
  if (m.route == Route::NodeEvents) {
    poll(conn, node, req, slot);
  } else if (req.method == Method::Delete) {
    if (relay_.clustered()) {
      const uint64_t serial = conn.serial();
      cluster_.leave(node, [this, serial, slot] {
        if (http::HttpConnection* later = listener_ ? listener_->find(serial) : nullptr) later->respond(slot, 204, {}, {});
      });
      return;
    }
    relay_.leave(node);
    conn.respond(slot, 204, {}, {});
  } else {
    info(conn, node, slot);
  }
}

void Api::redirect(HttpConnection& conn, const HttpRequest& req, std::string_view master_url, uint32_t slot) {
  // The same path and query at the home (docs/API.md "Clusters"): the
  // target is the one this request carried, checked by the parser.
  std::string location = "Location: ";
  location.append(master_url);
  location.append(req.target);
  location.append("\r\n");
  std::string body = "{\"error\":\"moved\",\"message\":\"this node lives at another relay\",\"location\":";
  http::append_json_string(body, std::string(master_url) + req.target);
  body.push_back('}');
  conn.respond(slot, 307, http::kJson, body, location);
}

void Api::on_close(HttpConnection& conn) {
  if (!conn.user) return;
  auto* node = static_cast<Node*>(conn.user);
  conn.user = nullptr;
  relay_.poll_dropped(*node, ParkedPoll{conn.serial(), 0});
}

HttpConnection* HttpPollAnswerer::release(const ParkedPoll& poll) {
  HttpConnection* conn = listener_ ? listener_->find(poll.holder) : nullptr;
  if (conn) conn->user = nullptr;
  return conn;
}

void HttpPollAnswerer::answer(const ParkedPoll& poll, std::string_view body) {
  if (HttpConnection* conn = release(poll)) conn->respond_json(poll.slot, 200, body);
}

void HttpPollAnswerer::gone(const ParkedPoll& poll) {
  if (HttpConnection* conn = release(poll)) {
    conn->respond_error(poll.slot, 404, "unknown_node", "the node has left the grid");
  }
}

void Api::join(HttpConnection& conn, const HttpRequest& req, uint32_t slot) {
  // The ticket before the body, as a token before anything else elsewhere:
  // who may not join learns nothing about what a join may carry.
  std::optional<JoinTicket> ticket;
  if (!join_key_.empty()) {
    const std::optional<std::string_view> bearer = http::request_token(req);
    const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
    auto checked = bearer ? check_join_ticket(join_key_, *bearer, now_s)
                          : std::variant<JoinTicket, TicketFault>(TicketFault::Missing);
    if (const TicketFault* fault = std::get_if<TicketFault>(&checked)) {
      refuse_ticket(conn, slot, *fault);
      return;
    }
    ticket = std::move(std::get<JoinTicket>(checked));
  }
  auto parsed = parse_join_body(req.body);
  if (auto* error = std::get_if<JoinBodyError>(&parsed)) {
    conn.respond_error(slot, 400, error->code, error->message);
    return;
  }
  JoinBody& body = std::get<JoinBody>(parsed);
  if (ticket) {
    if (std::optional<TicketFault> fault = admit(*ticket, body)) {
      refuse_ticket(conn, slot, *fault);
      return;
    }
  }
  if (relay_.clustered()) {
    // The group's owner seats the node; the answer comes in a later turn,
    // to a connection that may have gone (the node then ends by its TTL).
    const uint64_t serial = conn.serial();
    cluster_.join(body.group, body.name, [this, serial, slot](Node* node, uint16_t status, std::string_view code) {
      http::HttpConnection* later = listener_ ? listener_->find(serial) : nullptr;
      if (later) answer_join(*later, slot, node, status, code);
    });
    return;
  }
  Node* node = relay_.join(body.group, body.name);
  answer_join(conn, slot, node, node ? 201 : 503, node ? std::string_view() : "node_limit");
}

void Api::refuse_ticket(HttpConnection& conn, uint32_t slot, TicketFault fault) {
  ++counters_.joins_invalid_ticket;
  conn.respond_error(slot, 401, "invalid_ticket", ticket_fault_message(fault));
}

void Api::answer_join(HttpConnection& conn, uint32_t slot, const Node* node, uint16_t status, std::string_view code) {
  if (!node) {
    if (code == "node_limit") {
      conn.respond_error(slot, 503, "node_limit", "the relay holds its maximum number of nodes");
    } else {
      conn.respond_error(slot, status, code, "the group's relay cannot be reached now; retry", "Retry-After: 1\r\n");
    }
    return;
  }
  const RelayConfig& config = relay_.config();
  std::string out = "{\"node\":";
  http::append_json_string(out, node->id);
  out.append(",\"token\":");
  http::append_json_string(out, token_text(node->token));
  out.append(",\"group\":");
  http::append_json_string(out, node->group->name);
  out.append(",\"name\":");
  http::append_json_string(out, node->name);
  out.push_back(',');
  relay_.append_place(*node, out);
  out.append(",\"relay\":");
  append_relay_object(out, identity_.id, identity_.master_url, identity_.worker_url);
  out.append("},\"cursor\":0,\"poll_timeout_ms\":");
  http::append_uint(out, config.poll_timeout_ms);
  out.append(",\"node_ttl_ms\":");
  http::append_uint(out, config.node_ttl_ms);
  out.push_back('}');
  conn.respond_json(slot, 201, out);
}

void Api::poll(HttpConnection& conn, Node* node, const HttpRequest& req, uint32_t slot) {
  std::string_view query = req.query();
  uint64_t after = 0;
  if (auto text = http::query_param(query, "after")) {
    if (http::parse_uint(*text, after) != http::UintParse::Ok || after > node->mailbox.last_seq()) {
      conn.respond_error(slot, 400, "invalid_cursor",
                         "after must be a non-negative integer no larger than the last seq issued");
      return;
    }
  }
  uint64_t timeout = relay_.config().poll_timeout_ms;
  if (auto text = http::query_param(query, "timeout_ms")) {
    uint64_t asked = 0;
    http::UintParse r = http::parse_uint(*text, asked);
    if (r == http::UintParse::Invalid) {
      conn.respond_error(slot, 400, "invalid_timeout", "timeout_ms must be a non-negative integer");
      return;
    }
    if (r == http::UintParse::Ok && asked < timeout) timeout = asked;
  }
  if (stopping_) timeout = 0;
  // The connection points at the node while its poll is held, so that its
  // close lets the node go on; the answerer lets go when it answers. (A
  // client that pipelines polls of two nodes on one connection is followed
  // for the last one; the other's poll ends at its timeout, answered to no
  // one.)
  if (relay_.poll(*node, ParkedPoll{conn.serial(), slot}, after, timeout)) conn.user = node;
}

void Api::info(HttpConnection& conn, Node* node, uint32_t slot) {
  std::string out = "{\"node\":";
  http::append_json_string(out, node->id);
  out.append(",\"group\":");
  http::append_json_string(out, node->group->name);
  out.append(",\"name\":");
  http::append_json_string(out, node->name);
  out.push_back(',');
  relay_.append_place(*node, out);
  out.append(",\"pending\":");
  http::append_uint(out, node->mailbox.size());
  out.push_back('}');
  conn.respond_json(slot, 200, out);
}

Gauges Api::gauges() const {
  Gauges g;
  g.nodes = relay_.node_count();
  g.groups = relay_.group_count();
  g.polls_pending = relay_.polls_pending();
  g.uptime_s = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count());
  g.rss_bytes = read_rss_bytes();
  if (fill_gauges_) fill_gauges_(g);
  return g;
}

}  // namespace sprites::master

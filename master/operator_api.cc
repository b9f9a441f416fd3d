// See operator_api.h.
#include "master/operator_api.h"

#include <cstdint>

#include "common/http_response.h"

namespace sprites::master {

using http::EarlyResponse;
using http::HttpConnection;
using http::HttpRequest;
using http::Route;

namespace {

// Every byte compared whatever differs first; the length is not secret.
bool same_secret(std::string_view expected, std::string_view presented) {
  if (expected.size() != presented.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i] ^ presented[i]);
    asm volatile("" : "+r"(diff));
  }
  return diff == 0;
}

}  // namespace

OperatorApi::OperatorApi(Counters& counters, ClusterLink& cluster, std::function<Gauges()> gauges,
                         std::function<void(std::string&)> more_metrics, std::string token)
    : counters_(counters),
      cluster_(cluster),
      gauges_(std::move(gauges)),
      more_metrics_(std::move(more_metrics)),
      token_(std::move(token)) {}

bool OperatorApi::is_operator_route(Route route) {
  return route == Route::Stats || route == Route::Metrics || route == Route::Cluster || route == Route::StatusPage;
}

std::optional<EarlyResponse> OperatorApi::check_token(const HttpRequest& req, Route route) const {
  if (token_.empty() || route == Route::StatusPage) return std::nullopt;
  std::optional<std::string_view> presented = http::request_token(req);
  if (!presented) return http::unauthorized("this endpoint needs the relay's admin token (Authorization: Bearer)");
  if (!same_secret(token_, *presented)) return http::unauthorized("not the relay's admin token");
  return std::nullopt;
}

void OperatorApi::answer(HttpConnection& conn, const HttpRequest& req, Route route, uint32_t slot) {
  switch (route) {
    case Route::Stats:
      conn.respond_json(slot, 200, render_stats_json(counters_, gauges_(), cluster_.render_stats_member()));
      return;
    case Route::Cluster:
      conn.respond_json(slot, 200, cluster_.render_cluster());
      return;
    case Route::Metrics: {
      std::string text = render_metrics(counters_, gauges_()) + cluster_.render_metrics();
      if (more_metrics_) more_metrics_(text);
      conn.respond(slot, 200, "text/plain; version=0.0.4; charset=utf-8", text);
      return;
    }
    case Route::StatusPage:
      serve_page(conn, req, pages_, "status.html", slot);
      return;
    default:
      conn.respond_error(slot, 404, "not_found", "no such path");
      return;
  }
}

std::optional<EarlyResponse> OperatorApi::on_headers(HttpConnection&, const HttpRequest& req) {
  using http::method_bit;
  constexpr uint8_t kGet = method_bit(http::Method::Get);
  http::RouteMatch match;
  if (auto early = http::screen({{Route::Stats, kGet, false},
                                 {Route::Cluster, kGet, false},
                                 {Route::StatusPage, kGet, false},
                                 {Route::Metrics, kGet, false},
                                 {Route::Healthz, kGet, false}},
                                req, 0, match)) {
    return early;
  }
  if (req.method == http::Method::Options || match.route == Route::Healthz) return std::nullopt;
  return check_token(req, match.route);
}

void OperatorApi::on_request(HttpConnection& conn, HttpRequest& req, uint32_t slot) {
  if (req.method == http::Method::Options) {
    conn.respond(slot, 204, {}, {}, http::kPreflightHeaders);
    return;
  }
  const Route route = http::match_route(req.path()).route;
  if (route == Route::Healthz) {
    conn.respond(slot, 200, http::kText, "ok");
    return;
  }
  answer(conn, req, route, slot);
}

}  // namespace sprites::master

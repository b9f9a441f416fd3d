// OperatorApi: the endpoints for the people who run the relay, not for its
// clients: /v1/stats, /metrics, /v1/cluster and the status page at `/`
// (docs/API.md "Operator endpoints").
//
// They answer on the master port by default, as the protocol lists them; with
// --admin-port they move to a port of their own (bound on --admin-host,
// loopback by default) and the master port answers 404 for them, so a relay
// on the internet need not show its figures to everyone. With --admin-token
// they need `Authorization: Bearer <admin token>` wherever they are served
// (401 otherwise, compared in constant time); the status page's HTML does not,
// its figures do. /healthz stays open on every port: load balancers and the
// supervisor ask it.
//
// This is one HttpService for the admin port, and the answerer the client
// port (Api) hands these routes to when they share it, so both ports run the
// same code and the same token check.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/http_connection.h"
#include "common/http_routes.h"
#include "master/cluster_link.h"
#include "master/stats.h"
#include "master/web_pages.h"

namespace sprites::master {

class OperatorApi : public http::HttpService {
 public:
  // `gauges` fills in the figures other parts own (nodes, connections, ...);
  // `more_metrics` appends the samples of parts stats.h does not know (the
  // workers' own figures).
  OperatorApi(Counters& counters, ClusterLink& cluster, std::function<Gauges()> gauges,
              std::function<void(std::string&)> more_metrics, std::string token);

  static bool is_operator_route(http::Route route);

  // For a request to one of the operator routes: the 401 when the admin token
  // is required and not the one presented; nullopt when it may go on. The
  // status page itself shows no figures and needs no token (its script sends
  // the one given in the page's address, docs/API.md).
  std::optional<http::EarlyResponse> check_token(const http::HttpRequest& req, http::Route route) const;
  // Answers a request to an operator route whose token was checked.
  void answer(http::HttpConnection& conn, const http::HttpRequest& req, http::Route route, uint32_t slot);

  void set_pages(const WebPages* pages) { pages_ = pages; }

  // The admin port's own service: operator routes and /healthz only.
  std::optional<http::EarlyResponse> on_headers(http::HttpConnection& conn, const http::HttpRequest& req) override;
  void on_request(http::HttpConnection& conn, http::HttpRequest& req, uint32_t slot) override;
  void on_close(http::HttpConnection&) override {}

 private:
  Counters& counters_;
  ClusterLink& cluster_;
  std::function<Gauges()> gauges_;
  std::function<void(std::string&)> more_metrics_;
  std::string token_;
  const WebPages* pages_ = nullptr;
};

}  // namespace sprites::master

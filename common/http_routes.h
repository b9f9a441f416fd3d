// Route matching shared by both ports: the few path shapes of docs/API.md, the
// answers every port gives alike (OPTIONS preflight, 404, 405) and the bearer
// check order ("a missing or malformed Authorization header gets 401 before
// anything else is checked").
//
// Each port declares its endpoints in a table (route, methods, whether a
// token is needed), and screen() makes the checks that need no body, in the
// protocol's order, once for both ports: OPTIONS passes (every path answers
// it), a route not in the table is 404, a method the endpoint does not take
// is 405 with an Allow header built from the table, a missing token is 401,
// a Content-Length over the body limit is 413.
//
// Paths are matched segment by segment without decoding or normalising: a
// segment that is not a plausible node id simply names no node, and
// "/v1/nodes/../stats" matches no route (it is not the stats path). Likewise
// "/web/{file}" takes exactly one non-empty segment, which the master looks
// up among the names of its pages: "/web/../x" and "/web/a/b" match nothing,
// and "/web/.x" names no page.
#pragma once

#include <initializer_list>
#include <optional>
#include <string_view>

#include "common/http_connection.h"
#include "common/http_request.h"

namespace sprites::http {

enum class Route : uint8_t {
  None,
  Nodes,        // /v1/nodes
  Node,         // /v1/nodes/{id}
  NodeEvents,   // /v1/nodes/{id}/events
  NodeSprites,  // /v1/nodes/{id}/sprites
  Stats,        // /v1/stats
  Cluster,      // /v1/cluster
  StatusPage,   // /
  PlayPage,     // /play
  WebFile,      // /web/{file}
  Metrics,      // /metrics
  Healthz,      // /healthz
};

struct RouteMatch {
  Route route = Route::None;
  std::string_view node;  // the {id} segment, when the route has one
  std::string_view file;  // the {file} segment of /web/{file}
};

RouteMatch match_route(std::string_view path);

// The methods an endpoint takes, as a bit set (OPTIONS is always taken).
constexpr uint8_t method_bit(Method m) { return static_cast<uint8_t>(1u << static_cast<unsigned>(m)); }

struct Endpoint {
  Route route;
  uint8_t methods;  // method_bit(Method::Get) | ...
  bool needs_token;
};

// The checks above for `req` against a port's `endpoints`. nullopt: go on and
// read the body (`match` then holds the route); otherwise the early answer.
std::optional<EarlyResponse> screen(std::initializer_list<Endpoint> endpoints, const HttpRequest& req,
                                    uint64_t max_body_bytes, RouteMatch& match);

// Headers of the 204 answer to OPTIONS on any path.
inline constexpr std::string_view kPreflightHeaders =
    "Access-Control-Allow-Methods: GET, POST, DELETE, OPTIONS\r\n"
    "Access-Control-Allow-Headers: Authorization, Content-Type\r\n"
    "Access-Control-Max-Age: 86400\r\n";

EarlyResponse not_found();
EarlyResponse method_not_allowed(std::string_view allow);  // allow: e.g. "GET, OPTIONS"
EarlyResponse unauthorized(std::string_view message);

// The bearer token, or nullopt when the Authorization header is missing or
// malformed (the caller answers 401).
std::optional<std::string_view> request_token(const HttpRequest& req);

}  // namespace sprites::http

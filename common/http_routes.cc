// See http_routes.h.
#include "common/http_routes.h"

#include "common/http_response.h"

#include <string>
#include <utility>

namespace sprites::http {

RouteMatch match_route(std::string_view path) {
  std::string_view seg[5];
  size_t n = split_path(path, seg, 4);
  RouteMatch m;
  if (path == "/") m.route = Route::StatusPage;
  if (n == 1 && seg[0] == "metrics") m.route = Route::Metrics;
  if (n == 1 && seg[0] == "healthz") m.route = Route::Healthz;
  if (n == 1 && seg[0] == "play") m.route = Route::PlayPage;
  if (n == 2 && seg[0] == "web" && !seg[1].empty()) {
    m.route = Route::WebFile;
    m.file = seg[1];
  }
  if (n < 2 || n > 4 || seg[0] != "v1") return m;
  if (n == 2 && seg[1] == "stats") m.route = Route::Stats;
  if (n == 2 && seg[1] == "cluster") m.route = Route::Cluster;
  if (seg[1] != "nodes") return m;
  if (n == 2) {
    m.route = Route::Nodes;
    return m;
  }
  if (seg[2].empty()) return m;
  m.node = seg[2];
  if (n == 3) m.route = Route::Node;
  if (n == 4 && seg[3] == "events") m.route = Route::NodeEvents;
  if (n == 4 && seg[3] == "sprites") m.route = Route::NodeSprites;
  return m;
}

std::optional<EarlyResponse> screen(std::initializer_list<Endpoint> endpoints, const HttpRequest& req,
                                    uint64_t max_body_bytes, RouteMatch& match) {
  match = match_route(req.path());
  if (req.method == Method::Options) return std::nullopt;
  const Endpoint* endpoint = nullptr;
  for (const Endpoint& e : endpoints) {
    if (e.route == match.route) endpoint = &e;
  }
  if (!endpoint) return not_found();
  if ((endpoint->methods & method_bit(req.method)) == 0) {
    std::string allow;
    for (auto [method, name] : {std::pair{Method::Get, "GET"}, std::pair{Method::Post, "POST"},
                                std::pair{Method::Delete, "DELETE"}}) {
      if (endpoint->methods & method_bit(method)) allow.append(name).append(", ");
    }
    allow.append("OPTIONS");
    return method_not_allowed(allow);
  }
  if (endpoint->needs_token && !request_token(req)) {
    return unauthorized("missing or malformed Authorization: Bearer header");
  }
  if (req.has_content_length && req.content_length > max_body_bytes) {
    return EarlyResponse{413, error_body("too_large", "the request body exceeds the limit"), {}};
  }
  return std::nullopt;
}

EarlyResponse not_found() { return {404, error_body("not_found", "no such path"), {}}; }

EarlyResponse method_not_allowed(std::string_view allow) {
  std::string headers = "Allow: ";
  headers.append(allow);
  headers.append("\r\n");
  return {405, error_body("method_not_allowed", "this path does not take that method"), std::move(headers)};
}

EarlyResponse unauthorized(std::string_view message) { return {401, error_body("unauthorized", message), {}}; }

std::optional<std::string_view> request_token(const HttpRequest& req) {
  if (!req.has_authorization) return std::nullopt;
  return bearer_token(req.authorization);
}

}  // namespace sprites::http

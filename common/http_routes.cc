// See http_routes.h.
#include "common/http_routes.h"

#include "common/http_response.h"

namespace sprites::http {

RouteMatch match_route(std::string_view path) {
  std::string_view seg[5];
  size_t n = split_path(path, seg, 4);
  RouteMatch m;
  if (n == 1 && seg[0] == "metrics") m.route = Route::Metrics;
  if (n == 1 && seg[0] == "healthz") m.route = Route::Healthz;
  if (n < 2 || n > 4 || seg[0] != "v1") return m;
  if (n == 2 && seg[1] == "stats") m.route = Route::Stats;
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

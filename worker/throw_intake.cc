// See throw_intake.h.
#include "worker/throw_intake.h"

#include "common/http_response.h"
#include "common/http_routes.h"
#include "worker/throw_body.h"

namespace sprites::worker {

using http::EarlyResponse;
using http::HttpConnection;
using http::HttpRequest;
using http::Method;
using http::Route;

namespace {
constexpr std::string_view kRetryAfter = "Retry-After: 1\r\n";
constexpr size_t kMaxNodeIdBytes = 32;  // docs/API.md "Identifiers": a longer id is no node's
}  // namespace

ThrowIntake::ThrowIntake(MasterLink& link, uint32_t max_body_bytes) : link_(link), max_body_bytes_(max_body_bytes) {}

std::optional<EarlyResponse> ThrowIntake::on_headers(HttpConnection&, const HttpRequest& req) {
  http::RouteMatch match;
  std::optional<EarlyResponse> early =
      http::screen({{Route::Healthz, http::method_bit(Method::Get), false},
                    {Route::NodeSprites, http::method_bit(Method::Post), true}},
                   req, max_body_bytes_, match);
  // A throw refused for its token or its size is a rejected throw (stats).
  if (match.route == Route::NodeSprites && req.method == Method::Post) ++throws_;
  if (early && match.route == Route::NodeSprites && (early->status == 401 || early->status == 413)) {
    link_.count_rejected(early->status == 401 ? RejectCode::Unauthorized : RejectCode::TooLarge);
  }
  return early;
}

void ThrowIntake::reject(HttpConnection& conn, uint32_t slot, uint16_t status, std::string_view code,
                         std::string_view message) {
  link_.count_rejected(reject_code_of(code));
  conn.respond_error(slot, status, code, message);
}

void ThrowIntake::on_request(HttpConnection& conn, HttpRequest& req, uint32_t slot) {
  if (req.method == Method::Options) {
    conn.respond(slot, 204, {}, {}, http::kPreflightHeaders);
    return;
  }
  http::RouteMatch m = http::match_route(req.path());
  if (m.route == Route::Healthz) {
    if (link_.healthy()) {
      conn.respond(slot, 200, http::kText, "ok");
    } else {
      conn.respond_error(slot, 503, "master_unavailable",
                         link_.connected() ? "the master does not answer in time" : "this worker is not connected to the master",
                         kRetryAfter);
    }
    return;
  }
  // on_headers let only POST /v1/nodes/{id}/sprites with a bearer token through.
  std::string_view token = *http::request_token(req);
  auto parsed = parse_throw_body(req.body);
  if (auto* error = std::get_if<ThrowBodyError>(&parsed)) {
    reject(conn, slot, 400, error->code, error->message);
    return;
  }
  const ThrowBody& body = std::get<ThrowBody>(parsed);
  if (m.node.size() > kMaxNodeIdBytes) {
    reject(conn, slot, 404, "unknown_node", "no node with this id");
    return;
  }
  // Any token reaches the master, which alone knows whether the node exists
  // (404 whatever the token) and whose token it is. The header limit keeps
  // it within what a Throw frame carries; the check guards the encoder.
  if (token.size() > ipc::kMaxTokenBytes) {
    reject(conn, slot, 401, "unauthorized", "the token does not belong to this node");
    return;
  }
  ipc::ThrowMessage message;
  message.direction = body.direction;
  message.node = m.node;
  message.token = token;
  message.has_id = body.has_id;
  message.sprite_id = body.id;
  message.sprite = body.sprite;
  if (!link_.forward(message, MasterLink::Waiter{conn.serial(), slot})) {
    conn.respond_error(slot, 503, "master_unavailable", "the master cannot be reached now; retry", kRetryAfter);
  }
}

void ThrowIntake::on_close(HttpConnection&) {
  // Throws in flight for this connection stay in the link's table; their
  // answers find no connection (HttpListener::find) and are dropped.
}

void ThrowIntake::on_refused(const HttpRequest* req, uint16_t status) {
  // A chunked throw body that outgrew the limit is a rejected throw too.
  if (req && status >= 400 && status < 500 && http::match_route(req->path()).route == Route::NodeSprites) {
    link_.count_rejected(status == 413 ? RejectCode::TooLarge : RejectCode::Other);
  }
}

void ThrowIntake::on_result(const MasterLink::Waiter& waiter, uint16_t status, std::string_view body) {
  HttpConnection* conn = listener_ ? listener_->find(waiter.connection) : nullptr;
  if (!conn) return;
  conn->respond(waiter.slot, status, http::kJson, body, status == 503 ? kRetryAfter : std::string_view{});
}

}  // namespace sprites::worker

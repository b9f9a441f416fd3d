// HTTP itself, on both ports: keep-alive, Connection: close, HTTP/1.0,
// pipelining, Expect: 100-continue, chunked bodies, unparseable requests,
// unknown paths and methods, CORS, and the framing of JSON answers
// (docs/API.md "Transport").
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

std::string chunked(std::string_view body, std::size_t piece) {
  std::string out;
  for (std::size_t at = 0; at < body.size(); at += piece) {
    std::string_view part = body.substr(at, piece);
    char size[16];
    std::snprintf(size, sizeof size, "%zx", part.size());
    out += std::string(size) + "\r\n" + std::string(part) + "\r\n";
  }
  return out + "0\r\n\r\n";
}

TEST_CASE("two requests share one keep-alive connection on each port") {
  RelayProcess relay;
  for (std::uint16_t port : {relay.master_port(), relay.worker_port()}) {
    Connection c(port);
    for (int i = 0; i < 3; ++i) {
      Response r = c.request("GET", "/healthz");
      REQUIRE_STATUS(r, 200);
      CHECK(r.version == "HTTP/1.1");
    }
  }
  Connection c(relay.master_port());
  Node a = join(relay.master_port(), "g", "a");
  CHECK_STATUS(c.request("GET", "/v1/nodes/" + a.id, bearer(a.token)), 200);
  CHECK_STATUS(c.request("GET", "/v1/stats"), 200);
  CHECK_FALSE(c.is_closed_by_peer(std::chrono::milliseconds(0)));
}

TEST_CASE("Connection: close is honoured") {
  RelayProcess relay;
  for (std::uint16_t port : {relay.master_port(), relay.worker_port()}) {
    Connection c(port);
    Response r = c.request("GET", "/healthz", {{"Connection", "close"}});
    REQUIRE_STATUS(r, 200);
    CHECK(c.is_closed_by_peer());
  }
  Node a = join(relay.master_port(), "g", "a");
  Connection w(relay.worker_port());
  HeaderList headers = bearer(a.token);
  headers.emplace_back("Connection", "close");
  REQUIRE_STATUS(w.request("POST", "/v1/nodes/" + a.id + "/sprites", headers, throw_body("up", "{}")), 202);
  CHECK(w.is_closed_by_peer());
}

TEST_CASE("an HTTP/1.0 request is answered and the connection closed") {
  RelayProcess relay;
  for (std::uint16_t port : {relay.master_port(), relay.worker_port()}) {
    Connection c(port);
    c.send_raw("GET /healthz HTTP/1.0\r\n\r\n");
    Response r = c.read_response();
    REQUIRE_STATUS(r, 200);
    CHECK(c.is_closed_by_peer());
  }
}

TEST_CASE("pipelined requests are answered in order") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  Connection m(relay.master_port());
  const std::string join_body = R"({"group":"g","name":"pip"})";
  m.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
             "POST /v1/nodes HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(join_body.size()) +
             "\r\n\r\n" + join_body +
             "GET /v1/stats HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /v1/nodes/" + a.id + " HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK_STATUS(m.read_response(), 200);
  check_error(m.read_response(), 404, "not_found");
  Response joined = m.read_response();
  REQUIRE_STATUS(joined, 201);
  CHECK(joined.json()["name"] == "pip");
  Response s = m.read_response();
  REQUIRE_STATUS(s, 200);
  CHECK(s.json()["nodes"] == 2);
  check_error(m.read_response(), 401, "unauthorized");

  // On the worker port, throws answered in the order sent.
  Connection w(relay.worker_port());
  std::string batch;
  for (int i = 0; i < 5; ++i) {
    std::string body = throw_body("up", "{}", "p" + std::to_string(i));
    batch += "POST /v1/nodes/" + a.id + "/sprites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a.token +
             "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  w.send_raw(batch);
  for (int i = 0; i < 5; ++i) {
    Response r = w.read_response();
    REQUIRE_STATUS(r, 202);
  }
  // a is alone in its column: "up" lands on itself.
  std::vector<Json> sprites = of_type(poll(relay.master_port(), a, 0, 0).json()["events"].get<std::vector<Json>>(),
                                      "sprite");
  REQUIRE(sprites.size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(sprites[static_cast<std::size_t>(i)]["id"] == "p" + std::to_string(i));
}

TEST_CASE("Expect: 100-continue gets 100 Continue, then the final answer") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  const std::string body = throw_body("left", R"({"e":1})", "expect");
  Connection w(relay.worker_port());
  w.send_raw("POST /v1/nodes/" + a.id + "/sprites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a.token +
             "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n");
  Response interim = w.read_response(true);
  REQUIRE(interim.status == 100);
  w.send_raw(body);
  Response final_answer = w.read_response(true);
  REQUIRE_STATUS(final_answer, 202);
  CHECK(final_answer.json()["to"]["node"] == a.id);

  // The same on the master port for a join.
  const std::string join_body = R"({"group":"g","name":"expecting"})";
  Connection m(relay.master_port());
  m.send_raw("POST /v1/nodes HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
             std::to_string(join_body.size()) + "\r\n\r\n");
  REQUIRE(m.read_response(true).status == 100);
  m.send_raw(join_body);
  Response joined = m.read_response(true);
  REQUIRE_STATUS(joined, 201);
  CHECK(joined.json()["name"] == "expecting");
}

TEST_CASE("a pipelined throw with Expect: 100-continue behind another throw gets its 100, then its 202") {
  // The first throw is answered only once the master has it, so the second
  // one's headers are read while an answer is still owed ahead of it.
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  const std::string first = throw_body("left", "{}", "first");
  const std::string second = throw_body("left", "{}", "second");
  const std::string head = "POST /v1/nodes/" + a.id + "/sprites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                           a.token + "\r\nContent-Type: application/json\r\n";
  Connection w(relay.worker_port());
  w.send_raw(head + "Content-Length: " + std::to_string(first.size()) + "\r\n\r\n" + first + head +
             "Expect: 100-continue\r\nContent-Length: " + std::to_string(second.size()) + "\r\n\r\n");
  REQUIRE_STATUS(w.read_response(true), 202);
  REQUIRE_STATUS(w.read_response(true), 100);
  w.send_raw(second);
  REQUIRE_STATUS(w.read_response(true), 202);
  std::vector<Json> sprites = of_type(Inbox(relay.master_port(), a).drain(), "sprite");
  REQUIRE(sprites.size() == 2);
  CHECK(sprites[0]["id"] == "first");
  CHECK(sprites[1]["id"] == "second");
}

TEST_CASE("Expect: 100-continue with a body over the limit gets 413 and no 100") {
  RelayProcess relay({"--max-body-bytes", "1024"});
  Node a = join(relay.master_port(), "g", "a");
  Connection w(relay.worker_port());
  w.send_raw("POST /v1/nodes/" + a.id + "/sprites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a.token +
             "\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n");
  Response r = w.read_response(true);
  check_error(r, 413, "too_large");
  CHECK(w.is_closed_by_peer());
}

TEST_CASE("Expect: 100-continue without Authorization gets 401 and no 100") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  Connection w(relay.worker_port());
  w.send_raw("POST /v1/nodes/" + a.id + "/sprites HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 40\r\n\r\n");
  check_error(w.read_response(true), 401, "unauthorized");
  CHECK(w.is_closed_by_peer());
}

TEST_CASE("Expect: 100-continue with another node's token ends in 401") {
  // The worker may send 100 before the master checked the token.
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  Node b = join(relay.master_port(), "g", "b");
  const std::string body = throw_body("left", "{}");
  Connection w(relay.worker_port());
  w.send_raw("POST /v1/nodes/" + a.id + "/sprites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b.token +
             "\r\nExpect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  Response first = w.read_response(true);
  if (first.status == 100) {
    w.try_send_raw(body);
    check_error(w.read_response(true), 401, "unauthorized");
  } else {
    check_error(first, 401, "unauthorized");
  }
  CHECK(poll(relay.master_port(), b, 0, 0).json()["events"].empty());
}

TEST_CASE("chunked request bodies are accepted") {
  RelayProcess relay;
  Connection m(relay.master_port());
  const std::string join_body = R"({"group":"chunky","name":"in pieces"})";
  m.send_raw("POST /v1/nodes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
             chunked(join_body, 5));
  Response joined = m.read_response();
  REQUIRE_STATUS(joined, 201);
  CHECK(joined.json()["group"] == "chunky");
  CHECK(joined.json()["name"] == "in pieces");
  const std::string id = joined.json()["node"].get<std::string>();
  const std::string token = joined.json()["token"].get<std::string>();

  const std::string sprite = R"({"big":18446744073709551615,"text":"chunked"})";
  const std::string body = throw_body("down", sprite, "chunked-1");
  Connection w(relay.worker_port());
  // Sent in two writes, the second in the middle of a chunk.
  std::string framed = "POST /v1/nodes/" + id + "/sprites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                       "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body, 7);
  w.send_raw(std::string_view(framed).substr(0, framed.size() / 2));
  w.send_raw(std::string_view(framed).substr(framed.size() / 2));
  REQUIRE_STATUS(w.read_response(), 202);
  // And the connection stays usable after a chunked request.
  REQUIRE_STATUS(w.request("GET", "/healthz"), 200);

  Node me{id, token, "in pieces", "chunky", joined.json()};
  Json events = poll(relay.master_port(), me, 0, 0).json()["events"];
  REQUIRE(events.size() == 1);
  CHECK(events[0]["sprite"] == Json::parse(sprite));
}

TEST_CASE("a request that is not HTTP gets 400 bad_request and a close") {
  RelayProcess relay;
  for (std::uint16_t port : {relay.master_port(), relay.worker_port()}) {
    for (const char* garbage : {"THIS IS NOT HTTP\r\n\r\n",
                                "GET /healthz HTTP/1.1\r\nBad Header Line\r\n\r\n",
                                "POST /v1/nodes HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
      INFO("port " << port << ", request: " << garbage);
      Connection c(port);
      c.send_raw(garbage);
      check_error(c.read_response(), 400, "bad_request");
      CHECK(c.is_closed_by_peer());
    }
  }
}

TEST_CASE("an unknown path is 404 not_found") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  // ("/" is the master's status page: pages_test.cc.)
  for (const char* path : {"/nope", "/v1", "/v1/node", "/v2/nodes", "/healthz/more", "//", "/status.html"}) {
    INFO("master " << path);
    check_error(Connection(relay.master_port()).request("GET", path, bearer(a.token)), 404, "not_found");
  }
  check_error(Connection(relay.master_port()).request("GET", "/v1/nodes/" + a.id + "/events/more", bearer(a.token)),
              404, "not_found");
  for (const char* path : {"/", "/nope", "/v1/stats", "/metrics", "/v1/nodes"}) {
    INFO("worker " << path);
    check_error(Connection(relay.worker_port()).request("GET", path, bearer(a.token)), 404, "not_found");
  }
  check_error(Connection(relay.worker_port()).request("POST", "/v1/nodes/" + a.id + "/sprite", bearer(a.token),
                                                      throw_body("up", "{}")),
              404, "not_found");
}

TEST_CASE("a known path with another method is 405 method_not_allowed") {
  RelayProcess relay;
  std::uint16_t master = relay.master_port();
  Node a = join(master, "g", "a");
  struct Case {
    std::uint16_t port;
    std::string method;
    std::string path;
  };
  const std::vector<Case> cases{
      {master, "GET", "/v1/nodes"},
      {master, "PUT", "/v1/nodes"},
      {master, "POST", "/v1/nodes/" + a.id},
      {master, "PATCH", "/v1/nodes/" + a.id},
      {master, "POST", "/v1/nodes/" + a.id + "/events"},
      {master, "DELETE", "/v1/nodes/" + a.id + "/events"},
      {master, "POST", "/v1/stats"},
      {master, "DELETE", "/metrics"},
      {master, "POST", "/healthz"},
      {relay.worker_port(), "GET", "/v1/nodes/" + a.id + "/sprites"},
      {relay.worker_port(), "PUT", "/v1/nodes/" + a.id + "/sprites"},
      {relay.worker_port(), "POST", "/healthz"},
  };
  for (const Case& c : cases) {
    INFO(c.method << " " << c.path << " on port " << c.port);
    check_error(Connection(c.port).request(c.method, c.path, bearer(a.token), c.method == "GET" ? "" : "{}"), 405,
                "method_not_allowed");
  }
  CHECK_STATUS(node_info(master, a), 200);
}

TEST_CASE("OPTIONS on any path answers 204 with the CORS headers") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  for (std::uint16_t port : {relay.master_port(), relay.worker_port()}) {
    for (const std::string& path :
         std::vector<std::string>{"/v1/nodes", "/v1/nodes/" + a.id + "/events", "/v1/nodes/" + a.id + "/sprites",
                                  "/v1/stats", "/healthz", "/anything/at/all"}) {
      INFO("OPTIONS " << path << " on port " << port);
      Connection c(port);
      Response r = c.request("OPTIONS", path,
                             {{"Origin", "http://example.test"},
                              {"Access-Control-Request-Method", "POST"},
                              {"Access-Control-Request-Headers", "authorization, content-type"}});
      REQUIRE_STATUS(r, 204);
      CHECK(r.body.empty());
      CHECK(r.header("Access-Control-Allow-Origin") == "*");
      CHECK_FALSE(r.header("Access-Control-Allow-Methods").empty());
      CHECK(r.header("Access-Control-Allow-Methods").find("POST") != std::string::npos);
      CHECK(r.header("Access-Control-Allow-Headers") == "Authorization, Content-Type");
      CHECK(r.header("Access-Control-Max-Age") == "86400");
      // Keep-alive survives a preflight.
      CHECK_STATUS(c.request("GET", "/healthz"), 200);
    }
  }
}

TEST_CASE("every response carries Access-Control-Allow-Origin star") {
  RelayProcess relay({"--max-body-bytes", "1024", "--mailbox-limit", "2", "--max-nodes", "3"});
  std::uint16_t master = relay.master_port();
  std::uint16_t worker = relay.worker_port();
  Node a = join(master, "g", "a");
  Node b = join(master, "g", "b");
  std::vector<Response> answers;
  answers.push_back(join_raw(master, "[]"));                                              // 400
  answers.push_back(join_raw(master, R"({"group":"g","name":"c"})"));                   // 201, a holds 1 event
  answers.push_back(join_raw(master, ""));                                                // 503 node_limit
  answers.push_back(throw_sprite(worker, b, "right", "{}"));                              // 202 to c
  answers.push_back(throw_sprite(worker, b, "left", "{}"));                               // 202 to a: 2 events
  answers.push_back(throw_sprite(worker, b, "left", "{}"));                               // 429 mailbox_full at a
  answers.push_back(poll(master, a, 0, 0));                                               // 200
  answers.push_back(poll(master, a, 2, 200));                                             // 200
  answers.push_back(node_info(master, a));                                                // 200
  answers.push_back(Connection(master).request("GET", "/v1/nodes/" + a.id));              // 401
  answers.push_back(Connection(master).request("GET", "/nope"));                          // 404
  answers.push_back(Connection(master).request("PUT", "/v1/stats", {}, "{}"));            // 405
  answers.push_back(Connection(master).request("GET", "/v1/stats"));                      // 200
  answers.push_back(Connection(master).request("GET", "/metrics"));                       // 200 text
  answers.push_back(Connection(master).request("GET", "/healthz"));                       // 200 text
  answers.push_back(Connection(worker).request("GET", "/healthz"));                       // 200 text
  answers.push_back(Connection(worker).request("POST", "/v1/nodes/x/sprites", bearer("t"), std::string(2000, ' ')));  // 413
  answers.push_back(Connection(worker).request("POST", "/v1/nodes/x/sprites", bearer("t"), "[]"));  // 400
  answers.push_back(Connection(worker).request("GET", "/nope"));                          // 404
  {
    Connection c(master);
    c.send_raw("NOT HTTP AT ALL\r\n\r\n");
    answers.push_back(c.read_response());                                                 // 400 bad_request
  }
  answers.push_back(leave(master, b));                                                    // 204
  std::vector<int> statuses;
  for (const Response& r : answers) {
    INFO(r.summary());
    CHECK(r.header("Access-Control-Allow-Origin") == "*");
    statuses.push_back(r.status);
  }
  CHECK(statuses == std::vector<int>{400, 201, 503, 202, 202, 429, 200, 200, 200, 401, 404, 405, 200, 200, 200, 200,
                                     413, 400, 404, 400, 204});
}

TEST_CASE("JSON answers carry Content-Type application/json and a Content-Length, errors {error, message}") {
  RelayProcess relay;
  std::uint16_t master = relay.master_port();
  Node a = join(master, "g", "a");
  std::vector<Response> answers;
  answers.push_back(join_raw(master, ""));
  answers.push_back(poll(master, a, 0, 0));
  answers.push_back(node_info(master, a));
  answers.push_back(Connection(master).request("GET", "/v1/stats"));
  answers.push_back(throw_sprite(relay.worker_port(), a, "up", "{}"));
  answers.push_back(poll(master, a, 0, 0));
  for (const Response& r : answers) {
    INFO(r.summary());
    CHECK(r.status < 300);
    CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
    CHECK(r.headers.has("Content-Length"));
    CHECK_FALSE(r.chunked);
    CHECK(r.header("Content-Length") == std::to_string(r.body.size()));
    CHECK(r.json().is_object());
  }
  std::vector<Response> errors;
  errors.push_back(join_raw(master, "nope"));
  errors.push_back(Connection(master).request("GET", "/nope"));
  errors.push_back(Connection(master).request("PUT", "/v1/nodes", {}, "{}"));
  errors.push_back(Connection(master).request("GET", "/v1/nodes/" + a.id));
  errors.push_back(throw_sprite(relay.worker_port(), a, "sideways", "{}"));
  errors.push_back(Connection(relay.worker_port()).request("GET", "/nope"));
  for (const Response& r : errors) {
    INFO(r.summary());
    CHECK(r.status >= 400);
    CHECK(r.header("Content-Length") == std::to_string(r.body.size()));
    Json j = r.json();
    REQUIRE(j.is_object());
    CHECK(j["error"].is_string());
    CHECK(j["message"].is_string());
    CHECK_FALSE(j.value("message", "").empty());
  }
}

}  // namespace
}  // namespace sprites::test

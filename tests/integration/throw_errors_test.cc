// Every refusal of a throw in the worker's table, and the order in which the
// checks run: header (401), size (413), body (400), node (404), token (401),
// rate (429), mailbox (429) (docs/API.md "throw").
//
// Each order test builds a request that fails two checks at once and expects
// the earlier one's answer.
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

Response post_throw(std::uint16_t worker_port, const std::string& node, const HeaderList& headers,
                    std::string_view body) {
  return Connection(worker_port).request("POST", "/v1/nodes/" + node + "/sprites", headers, body);
}

// A valid throw body of exactly `size` bytes.
std::string body_of_size(std::size_t size) {
  std::string body = throw_body("right", R"({"pad":""})");
  REQUIRE(size >= body.size());
  std::string padded = throw_body("right", "{\"pad\":\"" + std::string(size - body.size(), 'p') + "\"}");
  REQUIRE(padded.size() == size);
  return padded;
}

TEST_CASE("a throw without a well-formed Authorization header is unauthorized before anything else") {
  RelayProcess relay({"--max-body-bytes", "1024"});
  Node a = join(relay.master_port(), "g", "a");
  const std::string big = body_of_size(2000);
  check_error(post_throw(relay.worker_port(), a.id, {}, throw_body("left", "{}")), 401, "unauthorized");
  check_error(post_throw(relay.worker_port(), a.id, {}, "not json"), 401, "unauthorized");
  check_error(post_throw(relay.worker_port(), "nosuchnode", {}, "{}"), 401, "unauthorized");
  check_error(post_throw(relay.worker_port(), a.id, {}, big), 401, "unauthorized");
  for (const std::string& value : std::vector<std::string>{"Basic " + a.token, "Bearer", a.token}) {
    INFO("Authorization: " << value);
    check_error(post_throw(relay.worker_port(), a.id, {{"Authorization", value}}, throw_body("left", "{}")), 401,
                "unauthorized");
  }
  CHECK(poll(relay.master_port(), a, 0, 0).json()["events"].empty());
}

TEST_CASE("a throw body over --max-body-bytes is too_large, one at the limit is accepted") {
  RelayProcess relay({"--max-body-bytes", "1024", "--rate-limit", "0"});
  Node a = join(relay.master_port(), "g", "a");
  CHECK_STATUS(post_throw(relay.worker_port(), a.id, bearer(a.token), body_of_size(1024)), 202);
  check_error(post_throw(relay.worker_port(), a.id, bearer(a.token), body_of_size(1025)), 413, "too_large");
  // Size comes before body, node and token.
  check_error(post_throw(relay.worker_port(), a.id, bearer(a.token), std::string(3000, 'x')), 413, "too_large");
  check_error(post_throw(relay.worker_port(), "nosuchnode", bearer(a.token), body_of_size(2000)), 413, "too_large");
  check_error(post_throw(relay.worker_port(), a.id, bearer("wrong-token-wrong-token"), body_of_size(2000)), 413,
              "too_large");
}

TEST_CASE("a Content-Length over the limit is refused before the body is sent, and the connection closed") {
  RelayProcess relay({"--max-body-bytes", "1024"});
  Node a = join(relay.master_port(), "g", "a");
  Connection c(relay.worker_port());
  c.send_raw("POST /v1/nodes/" + a.id + "/sprites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a.token +
             "\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n");
  check_error(c.read_response(), 413, "too_large");
  CHECK(c.is_closed_by_peer());
}

TEST_CASE("a chunked throw body over the limit is too_large") {
  RelayProcess relay({"--max-body-bytes", "1024"});
  Node a = join(relay.master_port(), "g", "a");
  const std::string body = body_of_size(1400);
  std::string request = "POST /v1/nodes/" + a.id + "/sprites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a.token +
                        "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t at = 0; at < body.size(); at += 700) {
    std::string chunk = body.substr(at, 700);
    char size[16];
    std::snprintf(size, sizeof size, "%zx", chunk.size());
    request += std::string(size) + "\r\n" + chunk + "\r\n";
  }
  request += "0\r\n\r\n";
  Connection c(relay.worker_port());
  c.try_send_raw(request);  // the server may close before reading it all
  check_error(c.read_response(), 413, "too_large");
  CHECK(poll(relay.master_port(), a, 0, 0).json()["events"].empty());
  // The worker answered it alone, and still reports it to the master's count.
  Json s = stats_when(relay.master_port(), [](Json& j) { return j["sprites"]["rejected"] == 1; });
  CHECK(s["sprites"]["rejected"] == 1);
}

TEST_CASE("a throw body that is not a JSON object is invalid_json") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  for (std::string body : {"not json", "", "[]", "null", "\"right\"", "42", "{", "{\"direction\":\"left\",}"}) {
    INFO("body: '" << body << "'");
    check_error(post_throw(relay.worker_port(), a.id, bearer(a.token), body), 400, "invalid_json");
  }
  // The body is checked before the node and the token.
  check_error(post_throw(relay.worker_port(), "nosuchnode", bearer(a.token), "[]"), 400, "invalid_json");
  check_error(post_throw(relay.worker_port(), a.id, bearer("wrong-token-wrong-token"), "[]"), 400, "invalid_json");
}

TEST_CASE("a throw without one of the four directions is invalid_direction") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  for (std::string body : {R"({"sprite":{}})", R"({"direction":"north","sprite":{}})",
                           R"({"direction":"Left","sprite":{}})", R"({"direction":"","sprite":{}})",
                           R"({"direction":5,"sprite":{}})", R"({"direction":null,"sprite":{}})",
                           R"({"direction":["left"],"sprite":{}})",
                           // direction comes before sprite
                           R"({"direction":"north"})", R"({"direction":"north","sprite":[]})"}) {
    INFO("body: " << body);
    check_error(post_throw(relay.worker_port(), a.id, bearer(a.token), body), 400, "invalid_direction");
  }
  check_error(post_throw(relay.worker_port(), "nosuchnode", bearer(a.token), R"({"sprite":{}})"), 400,
              "invalid_direction");
}

TEST_CASE("a throw without a sprite object or with a bad id is invalid_sprite") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  const std::string long_id(65, 'i');
  for (const std::string& body : std::vector<std::string>{
           R"({"direction":"left"})", R"({"direction":"left","sprite":[]})", R"({"direction":"left","sprite":"x"})",
           R"({"direction":"left","sprite":5})", R"({"direction":"left","sprite":null})",
           R"({"direction":"left","sprite":{},"id":5})", R"({"direction":"left","sprite":{},"id":null})",
           R"({"direction":"left","sprite":{},"id":{}})", throw_body("left", "{}", long_id)}) {
    INFO("body: " << body);
    check_error(post_throw(relay.worker_port(), a.id, bearer(a.token), body), 400, "invalid_sprite");
  }
  check_error(post_throw(relay.worker_port(), "nosuchnode", bearer(a.token), R"({"direction":"left"})"), 400,
              "invalid_sprite");
  CHECK(poll(relay.master_port(), a, 0, 0).json()["events"].empty());
}

TEST_CASE("a throw from an unknown node is unknown_node whatever the token") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  // Tokens of any length, up to what the header limit lets through: only the
  // master knows the node does not exist.
  for (const std::string& token : {a.token, std::string("garbage-token-garbage-token"), std::string(256, 't'),
                                   std::string(7000, 'T')}) {
    INFO("token of " << token.size() << " characters");
    check_error(throw_sprite(relay.worker_port(), "nosuchnode", token, "left", "{}"), 404, "unknown_node");
    check_error(Connection(relay.master_port()).request("GET", "/v1/nodes/nosuchnode", bearer(token)), 404,
                "unknown_node");
  }
  // And an existing node with such a token is 401, on both ports.
  check_error(throw_sprite(relay.worker_port(), a.id, std::string(300, 't'), "left", "{}"), 401, "unauthorized");
  check_error(Connection(relay.master_port()).request("GET", "/v1/nodes/" + a.id, bearer(std::string(300, 't'))), 401,
              "unauthorized");
  Node gone = join(relay.master_port(), "g", "gone");
  REQUIRE_STATUS(leave(relay.master_port(), gone), 204);
  check_error(throw_sprite(relay.worker_port(), gone, "left", "{}"), 404, "unknown_node");
}

TEST_CASE("a throw with another node's token is unauthorized") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  Node b = join(relay.master_port(), "g", "b");
  check_error(throw_sprite(relay.worker_port(), a.id, b.token, "left", "{}"), 401, "unauthorized");
  check_error(throw_sprite(relay.worker_port(), a.id, a.token + "x", "left", "{}"), 401, "unauthorized");
  check_error(throw_sprite(relay.worker_port(), a.id, a.token.substr(1), "left", "{}"), 401, "unauthorized");
  // Nothing reached b.
  CHECK(poll(relay.master_port(), b, 0, 0).json()["events"].empty());
}

TEST_CASE("a thrower over its rate is rate_limited after its burst") {
  // 1 throw/s, burst 2: of six quick throws the first two pass and at least
  // one of the rest is refused (no assertion on when the bucket refills).
  RelayProcess relay({"--rate-limit", "1"});
  Node a = join(relay.master_port(), "g", "a");
  Node b = join(relay.master_port(), "g", "b");
  Connection c(relay.worker_port());
  std::vector<Response> answers;
  for (int i = 0; i < 6; ++i) {
    answers.push_back(c.request("POST", "/v1/nodes/" + a.id + "/sprites", bearer(a.token), throw_body("up", "{}")));
  }
  CHECK_STATUS(answers[0], 202);
  CHECK_STATUS(answers[1], 202);
  int limited = 0;
  for (const Response& r : answers) {
    if (r.status == 429) {
      check_error(r, 429, "rate_limited");
      ++limited;
    } else {
      CHECK_STATUS(r, 202);
    }
  }
  CHECK(limited >= 1);
  // The rate is checked after the token, and per node.
  check_error(throw_sprite(relay.worker_port(), a.id, b.token, "up", "{}"), 401, "unauthorized");
  CHECK_STATUS(throw_sprite(relay.worker_port(), b, "up", "{}"), 202);
}

TEST_CASE("the default rate lets a burst of 100 through, then limits") {
  // 50/s with a full bucket of 100 at the start: the first 100 quick throws
  // pass; of the next 100 some must wait for tokens that refill at 50/s.
  RelayProcess relay({"--mailbox-limit", "1000"});
  Node a = join(relay.master_port(), "g", "a");
  Connection c(relay.worker_port());
  int limited = 0;
  for (int i = 0; i < 200; ++i) {
    Response r = c.request("POST", "/v1/nodes/" + a.id + "/sprites", bearer(a.token), throw_body("up", "{}"));
    if (i < 100) {
      REQUIRE_STATUS(r, 202);
    } else if (r.status == 429) {
      check_error(r, 429, "rate_limited");
      ++limited;
    } else {
      REQUIRE_STATUS(r, 202);
    }
  }
  CHECK(limited >= 1);
}

TEST_CASE("the rate is checked before the mailbox") {
  // A alone throws at itself: after two throws its mailbox (limit 2) is full
  // for good. A relay checking the mailbox first answers mailbox_full every
  // time; the protocol's order makes the emptied bucket show.
  RelayProcess relay({"--rate-limit", "1", "--mailbox-limit", "2"});
  Node a = join(relay.master_port(), "g", "a");
  Connection c(relay.worker_port());
  int limited = 0;
  for (int i = 0; i < 6; ++i) {
    Response r = c.request("POST", "/v1/nodes/" + a.id + "/sprites", bearer(a.token), throw_body("up", "{}"));
    if (i < 2) {
      CHECK_STATUS(r, 202);
    } else {
      CHECK_STATUS(r, 429);
      if (r.json().value("error", "") == "rate_limited") ++limited;
    }
  }
  CHECK(limited >= 1);
}

TEST_CASE("a full mailbox refuses throws with mailbox_full until the receiver acknowledges") {
  RelayProcess relay({"--mailbox-limit", "3", "--rate-limit", "0"});
  std::uint16_t port = relay.master_port();
  Node a = join(port, "g", "a");
  Node b = join(port, "g", "b");  // a now holds 1 event
  CHECK_STATUS(throw_sprite(relay.worker_port(), b, "left", "{}", "1"), 202);
  CHECK_STATUS(throw_sprite(relay.worker_port(), b, "left", "{}", "2"), 202);
  check_error(throw_sprite(relay.worker_port(), b, "left", "{}", "3"), 429, "mailbox_full");
  check_error(throw_sprite(relay.worker_port(), b, "left", "{}", "4"), 429, "mailbox_full");
  CHECK(node_info(port, a).json()["pending"] == 3);

  // A newer neighbors event replaces the unread one: still 3.
  Node c = join(port, "g", "c");
  CHECK(node_info(port, a).json()["pending"] == 3);

  Inbox inbox(port, a);
  std::vector<Json> events = inbox.drain();
  REQUIRE(events.size() == 3);
  std::vector<Json> sprites = of_type(events, "sprite");
  REQUIRE(sprites.size() == 2);
  CHECK(sprites[0]["id"] == "1");
  CHECK(sprites[1]["id"] == "2");
  CHECK(events[2]["type"] == "neighbors");
  CHECK(events[2]["neighbors"]["left"]["node"] == c.id);  // the latest set
  inbox.poll(0);  // acknowledges the last one too
  CHECK(node_info(port, a).json()["pending"] == 0);

  // A full mailbox without a neighbors event still gets one, past the limit.
  for (const char* id : {"5", "6", "7"}) CHECK_STATUS(throw_sprite(relay.worker_port(), b, "left", "{}", id), 202);
  check_error(throw_sprite(relay.worker_port(), b, "left", "{}", "8"), 429, "mailbox_full");
  REQUIRE_STATUS(leave(port, c), 204);
  CHECK(node_info(port, a).json()["pending"] == 4);
}

}  // namespace
}  // namespace sprites::test

// Slow and idle clients: a request trickled slower than the request
// timeout is cut off with 408, an idle keep-alive connection is closed after
// the idle timeout, and a held long-poll is never taken for idle. Every wait
// here is a read of what the server does, with a guard only for failure.
#include <string>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

TEST_CASE("headers trickled past the request timeout get 408 request_timeout and a close") {
  RelayProcess relay({"--request-timeout-ms", "300"});
  for (std::uint16_t port : {relay.master_port(), relay.worker_port()}) {
    Connection c(port);
    c.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");  // and nothing more
    check_error(c.read_response(), 408, "request_timeout");
    CHECK(c.is_closed_by_peer());
  }
}

TEST_CASE("a body trickled past the request timeout gets 408 request_timeout and a close") {
  RelayProcess relay({"--request-timeout-ms", "300"});
  Node a = join(relay.master_port(), "g", "a");
  Connection c(relay.worker_port());
  c.send_raw("POST /v1/nodes/" + a.id + "/sprites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a.token +
             "\r\nContent-Length: 100\r\n\r\n{\"direction\":");
  check_error(c.read_response(), 408, "request_timeout");
  CHECK(c.is_closed_by_peer());
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout") {
  RelayProcess relay({"--idle-timeout-ms", "300"});
  for (std::uint16_t port : {relay.master_port(), relay.worker_port()}) {
    Connection c(port);
    REQUIRE(c.request("GET", "/healthz").status == 200);
    CHECK(c.is_closed_by_peer());  // waits for the server's FIN
  }
  // A connection that never sends a byte is idle too.
  Connection silent(relay.worker_port());
  CHECK(silent.is_closed_by_peer());
}

TEST_CASE("a held long-poll is not idle: it outlives the idle timeout and is answered") {
  RelayProcess relay({"--idle-timeout-ms", "200"});
  Node a = join(relay.master_port(), "g", "a");
  Connection c(relay.master_port());
  // Held for 1 s, five idle timeouts: the answer still comes, on the same connection.
  send_poll(c, a, 0, 1000);
  Response r = c.read_response();
  REQUIRE(r.status == 200);
  CHECK(r.json()["events"].empty());
  CHECK(r.json()["cursor"] == 0);
  CHECK(c.request("GET", "/healthz").status == 200);
}

}  // namespace
}  // namespace sprites::test

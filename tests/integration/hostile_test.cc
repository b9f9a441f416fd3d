// Hostile input at scale: thousands of pipelined throws on one
// connection are all answered, in order, with the server reading only as fast
// as it answers (32 in flight); a sprite id of 64 four-byte characters (256
// bytes of UTF-8) survives the IPC hop; a huge Content-Length is refused
// before anything is read; thousands of tiny header lines are refused with 431
// on both ports.
#include <cstdint>
#include <string>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

TEST_CASE("two thousand pipelined throws on one connection are all answered in order") {
  RelayProcess relay({"--rate-limit", "0", "--mailbox-limit", "100000"});
  Node a = join(relay.master_port(), "g", "a");
  constexpr int kThrows = 2000;
  std::string batch;
  for (int i = 0; i < kThrows; ++i) {
    std::string body = throw_body("up", "{}", "p" + std::to_string(i));
    batch += "POST /v1/nodes/" + a.id + "/sprites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a.token +
             "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  Connection w(relay.worker_port());
  w.send_raw(batch);  // ~400 KB in one go: the server stops reading while 32 are in flight
  int accepted = 0;
  for (int i = 0; i < kThrows; ++i) {
    if (w.read_response().status == 202) ++accepted;
  }
  CHECK(accepted == kThrows);
  Inbox inbox(relay.master_port(), a);  // alone: a receives its own throws
  std::vector<Json> sprites = of_type(inbox.drain(), "sprite");
  REQUIRE(sprites.size() == static_cast<size_t>(kThrows));
  for (int i = 0; i < kThrows; ++i) CHECK(sprites[static_cast<size_t>(i)]["id"] == "p" + std::to_string(i));
}

TEST_CASE("a sprite id of 64 four-byte characters is relayed intact") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  std::string id;
  for (int i = 0; i < 64; ++i) id += "\xF0\x9F\x98\x80";  // U+1F600, 4 bytes of UTF-8
  REQUIRE(id.size() == 256);
  REQUIRE_STATUS(throw_sprite(relay.worker_port(), a, "left", "{}", id), 202);
  Inbox inbox(relay.master_port(), a);
  std::vector<Json> sprites = of_type(inbox.drain(), "sprite");
  REQUIRE(sprites.size() == 1);
  CHECK(sprites[0]["id"] == id);
}

TEST_CASE("a huge or negative Content-Length is refused without reading a body") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  for (std::string length : {"99999999999999999999", "18446744073709551616", "-1"}) {
    INFO("Content-Length: " << length);
    Connection c(relay.worker_port());
    c.send_raw("POST /v1/nodes/" + a.id + "/sprites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a.token +
               "\r\nContent-Length: " + length + "\r\n\r\n");
    Response r = c.read_response();
    CHECK((r.status == 413 || r.status == 400));
    CHECK(c.is_closed_by_peer());
  }
}

TEST_CASE("three thousand tiny headers get 431 headers_too_large and a close on both ports") {
  RelayProcess relay;
  std::string headers;
  for (int i = 0; i < 3000; ++i) headers += "a:b\r\n";  // 6,000 bytes of names and values
  for (std::uint16_t port : {relay.master_port(), relay.worker_port()}) {
    INFO("port " << port);
    Connection c(port);
    c.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
    Response r = c.read_response();
    check_error(r, 431, "headers_too_large");
    CHECK(r.header("Connection") == "close");
    CHECK(c.is_closed_by_peer());
  }
}

}  // namespace
}  // namespace sprites::test

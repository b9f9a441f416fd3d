// What relays say to each other (cluster/messages.h): subjects, heartbeats
// read as hostile input, and the home a node id names.
#include "cluster/messages.h"

#include <catch2/catch.hpp>

using namespace sprites::cluster;

TEST_CASE("a heartbeat survives its encoding", "[cluster]") {
  Heartbeat h;
  h.id = "r1";
  h.incarnation = 1733350000123456;
  h.master = "http://127.0.1.1:8000";
  h.worker = "http://127.0.1.1:8001";
  h.nodes = 19000;
  auto back = decode_heartbeat(encode_heartbeat(h));
  REQUIRE(back);
  CHECK(back->id == h.id);
  CHECK(back->incarnation == h.incarnation);
  CHECK(back->master == h.master);
  CHECK(back->worker == h.worker);
  CHECK(back->nodes == h.nodes);
}

TEST_CASE("a heartbeat that is not exactly one of ours is refused", "[cluster]") {
  const std::string good = R"({"v":1,"id":"r1","inc":5,"master":"http://a:1","worker":"http://a:2","nodes":0})";
  REQUIRE(decode_heartbeat(good));
  // A relay that speaks TLS hands out https:// URLs.
  CHECK(decode_heartbeat(R"({"v":1,"id":"r1","inc":5,"master":"https://a:1","worker":"https://a:2","nodes":0})"));
  for (const char* bad : {
           "", "null", "[]", "{}", "not json",
           R"({"v":2,"id":"r1","inc":5,"master":"http://a:1","worker":"http://a:2","nodes":0})",
           R"({"v":1,"id":"R1","inc":5,"master":"http://a:1","worker":"http://a:2","nodes":0})",
           R"({"v":1,"id":"r1-x","inc":5,"master":"http://a:1","worker":"http://a:2","nodes":0})",
           R"({"v":1,"id":"r1","inc":-5,"master":"http://a:1","worker":"http://a:2","nodes":0})",
           R"({"v":1,"id":"r1","inc":5.5,"master":"http://a:1","worker":"http://a:2","nodes":0})",
           R"({"v":1,"id":"r1","inc":5,"master":"http://a:1/","worker":"http://a:2","nodes":0})",
           R"({"v":1,"id":"r1","inc":5,"master":"ftp://a:1","worker":"http://a:2","nodes":0})",
           R"({"v":1,"id":"r1","inc":5,"master":"httpss://a:1","worker":"http://a:2","nodes":0})",
           R"({"v":1,"id":"r1","inc":5,"master":"http://a:1\r\nX: y","worker":"http://a:2","nodes":0})",
           R"({"v":1,"id":"r1","inc":5,"master":"http://a:1","worker":null,"nodes":0})",
           R"({"v":1,"id":"r1","inc":5,"master":"http://a:1","worker":"http://a:2"})",
       }) {
    INFO(bad);
    CHECK_FALSE(decode_heartbeat(bad));
  }
  CHECK_FALSE(decode_heartbeat(std::string(kMaxHeartbeatBytes + 1, ' ') + good));
}

TEST_CASE("a node id names its home relay, a plain id names none", "[cluster]") {
  CHECK(home_of("r1-AbC123xyz") == "r1");
  CHECK(home_of("abcdef-12345678") == "abcdef");
  CHECK(home_of("AbC123xyz0").empty());  // a relay without a cluster
  CHECK(home_of("-abc").empty());
  CHECK(home_of("R1-abc").empty());       // not a relay id
  CHECK(home_of("abcdefghijklmnopq-x").empty());  // 17 characters
}

TEST_CASE("relay subjects name their relay, and only relays of the same cluster", "[cluster]") {
  CHECK(relay_subject("c1", "r1") == "sprites.c1.relay.r1");
  CHECK(relay_of_subject("c1", "sprites.c1.relay.r1") == "r1");
  CHECK(relay_of_subject("c2", "sprites.c1.relay.r1").empty());
  CHECK(relay_of_subject("c1", "sprites.c1.relay.").empty());
  CHECK(relay_of_subject("c1", "sprites.c1.relay.r1.x").empty());
  CHECK(relay_of_subject("c1", "_INBOX.abc").empty());
  CHECK(heartbeat_subject("c1") == "sprites.c1.relays");
}

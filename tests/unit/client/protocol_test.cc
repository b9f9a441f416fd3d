// The client's readers of a cluster's answers (client/protocol.h): a relay's
// public URL and a 307's location.
#include "client/protocol.h"

#include <catch2/catch.hpp>

using namespace sprites::client;

TEST_CASE("a relay URL gives its host:port, anything else gives nothing", "[client]") {
  CHECK(url_host_port("http://127.0.1.2:8000") == "127.0.1.2:8000");
  CHECK(url_host_port("http://127.0.1.2:8000/v1/nodes/x/events?after=1") == "127.0.1.2:8000");
  CHECK_FALSE(url_host_port("https://127.0.1.2:8000"));
  CHECK_FALSE(url_host_port("http://127.0.1.2"));
  CHECK_FALSE(url_host_port("http:///x"));
  CHECK_FALSE(url_host_port(""));
}

TEST_CASE("a 307 answer's location names the home, other answers name none", "[client]") {
  Response moved{307, R"({"error":"moved","message":"m","location":"http://127.0.1.3:8000/v1/nodes/a-b"})", {}};
  CHECK(redirect_host_port(moved) == "127.0.1.3:8000");
  Response ok{200, R"({"location":"http://127.0.1.3:8000/"})", {}};
  CHECK_FALSE(redirect_host_port(ok));
  Response broken{307, "not json", {}};
  CHECK_FALSE(redirect_host_port(broken));
  Response no_location{307, R"({"error":"moved"})", {}};
  CHECK_FALSE(redirect_host_port(no_location));
}

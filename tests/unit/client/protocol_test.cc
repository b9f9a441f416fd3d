// The client's readers of a cluster's answers (client/protocol.h): a relay's
// public URL and a 307's location, http or https.
#include "client/protocol.h"

#include <catch2/catch.hpp>

using namespace sprites::client;

TEST_CASE("a relay URL gives its address with its scheme, anything else gives nothing", "[client]") {
  CHECK(url_address("http://127.0.1.2:8000") == "http://127.0.1.2:8000");
  CHECK(url_address("http://127.0.1.2:8000/v1/nodes/x/events?after=1") == "http://127.0.1.2:8000");
  CHECK(url_address("https://relay.example.com:8443/v1/nodes/x") == "https://relay.example.com:8443");
  CHECK(url_address("https://[::1]:8443") == "https://[::1]:8443");
  CHECK_FALSE(url_address("ftp://127.0.1.2:8000"));
  CHECK_FALSE(url_address("http://127.0.1.2"));
  CHECK_FALSE(url_address("https://127.0.1.2/x"));
  CHECK_FALSE(url_address("http:///x"));
  CHECK_FALSE(url_address(""));
}

TEST_CASE("a 307 answer's location names the home, other answers name none", "[client]") {
  Response moved{307, R"({"error":"moved","message":"m","location":"http://127.0.1.3:8000/v1/nodes/a-b"})", {}};
  CHECK(redirect_address(moved) == "http://127.0.1.3:8000");
  Response moved_tls{307, R"({"error":"moved","message":"m","location":"https://relay.example.com:8443/v1/nodes/a-b"})",
                     {}};
  CHECK(redirect_address(moved_tls) == "https://relay.example.com:8443");
  Response ok{200, R"({"location":"http://127.0.1.3:8000/"})", {}};
  CHECK_FALSE(redirect_address(ok));
  Response broken{307, "not json", {}};
  CHECK_FALSE(redirect_address(broken));
  Response no_location{307, R"({"error":"moved"})", {}};
  CHECK_FALSE(redirect_address(no_location));
}

// client/endpoint: what --master, --worker and a redirect's location may say,
// what each becomes (a literal its one address, a name kept unresolved with
// the Host text as written), and what is refused with a reason.
#include <catch2/catch.hpp>

#include <string>

#include "client/endpoint.h"

using sprites::client::Address;
using sprites::client::address_text;
using sprites::client::Endpoint;
using sprites::client::parse_endpoint;

namespace {

Endpoint parsed(const std::string& text) {
  std::string error;
  std::optional<Endpoint> e = parse_endpoint(text, &error);
  INFO(text << ": " << error);
  REQUIRE(e);
  return *e;
}

// The reason `text` is refused (a failed check when it is accepted).
std::string refusal(const std::string& text) {
  std::string error;
  std::optional<Endpoint> e = parse_endpoint(text, &error);
  INFO(text << " was accepted as " << (e ? e->text : ""));
  REQUIRE_FALSE(e);
  REQUIRE_FALSE(error.empty());
  return error;
}

}  // namespace

TEST_CASE("an IPv4 literal is its own address", "[client][endpoint]") {
  Endpoint e = parsed("127.0.0.1:8000");
  CHECK(e.host == "127.0.0.1");
  CHECK(e.port == 8000);
  CHECK(e.text == "127.0.0.1:8000");
  REQUIRE(e.addresses.size() == 1);
  CHECK(e.addresses[0].family() == AF_INET);
  CHECK(address_text(e.addresses[0]) == "127.0.0.1:8000");
  CHECK_FALSE(e.is_name());
  CHECK(e.is_loopback());
  CHECK_FALSE(parsed("10.0.0.1:8000").is_loopback());
}

TEST_CASE("an IPv6 literal in brackets is its own address and keeps its brackets in the Host text",
          "[client][endpoint]") {
  Endpoint e = parsed("[::1]:8000");
  CHECK(e.host == "::1");
  CHECK(e.port == 8000);
  CHECK(e.text == "[::1]:8000");
  REQUIRE(e.addresses.size() == 1);
  CHECK(e.addresses[0].family() == AF_INET6);
  CHECK(e.addresses[0].port() == 8000);
  CHECK(address_text(e.addresses[0]) == "[::1]:8000");
  CHECK(e.is_loopback());
  CHECK_FALSE(parsed("[2001:db8::1]:8000").is_loopback());
}

TEST_CASE("a name is kept as written, unresolved, for the resolver", "[client][endpoint]") {
  Endpoint e = parsed("relay.example.com:8000");
  CHECK(e.host == "relay.example.com");
  CHECK(e.port == 8000);
  CHECK(e.text == "relay.example.com:8000");
  CHECK(e.is_name());
  CHECK_FALSE(e.resolved());
  CHECK_FALSE(e.is_loopback());  // nothing is known of it yet
  CHECK(parsed("localhost:8000").is_name());
  CHECK(parsed("relay_1:9").text == "relay_1:9");
}

TEST_CASE("an http:// URL names the same endpoint, a trailing slash included", "[client][endpoint]") {
  CHECK(parsed("http://localhost:8000").text == "localhost:8000");
  CHECK(parsed("http://127.0.1.2:8000").text == "127.0.1.2:8000");
  CHECK(parsed("HTTP://relay.example.com:8000/").text == "relay.example.com:8000");
  Endpoint v6 = parsed("http://[::1]:8001");
  CHECK(v6.text == "[::1]:8001");
  CHECK(v6.resolved());
}

TEST_CASE("an address without a usable port is refused", "[client][endpoint]") {
  CHECK(refusal("relay:0").find("not a port") != std::string::npos);
  CHECK(refusal("relay:65536").find("not a port") != std::string::npos);
  CHECK(refusal("relay:80x").find("not a port") != std::string::npos);
  CHECK(refusal("host:").find("not host:port") != std::string::npos);
  CHECK(refusal(":80").find("not host:port") != std::string::npos);
  CHECK(refusal("relay").find("not host:port") != std::string::npos);
  CHECK(refusal("http://relay.example.com").find("not host:port") != std::string::npos);
  CHECK(refusal("").find("not host:port") != std::string::npos);
}

TEST_CASE("IPv6 must be a literal in brackets", "[client][endpoint]") {
  CHECK(refusal("[::1").find("[IPv6 address]:port") != std::string::npos);
  CHECK(refusal("[::1]").find("[IPv6 address]:port") != std::string::npos);
  CHECK(refusal("[::1]:").find("[IPv6 address]:port") != std::string::npos);
  CHECK(refusal("[::1]8000").find("[IPv6 address]:port") != std::string::npos);
  CHECK(refusal("::1:8000").find("in brackets") != std::string::npos);
  CHECK(refusal("[127.0.0.1]:8000").find("not an IPv6 address") != std::string::npos);
  CHECK(refusal("[localhost]:8000").find("not an IPv6 address") != std::string::npos);
}

TEST_CASE("schemes other than http and https are refused", "[client][endpoint]") {
  CHECK(refusal("ftp://x:1").find("http and https only") != std::string::npos);
  CHECK(refusal("ws://relay:8000").find("http and https only") != std::string::npos);
  CHECK(refusal("wss://relay:8000").find("http and https only") != std::string::npos);
}

TEST_CASE("https:// marks a TLS endpoint, any other form is plain http", "[client][endpoint]") {
  Endpoint named = parsed("https://relay.example.com:8443");
  CHECK(named.tls);
  CHECK(named.host == "relay.example.com");
  CHECK(named.port == 8443);
  CHECK(named.text == "relay.example.com:8443");
  CHECK_FALSE(named.resolved());
  CHECK(named.written() == "https://relay.example.com:8443");

  Endpoint v6 = parsed("HTTPS://[::1]:8443/");
  CHECK(v6.tls);
  CHECK(v6.host == "::1");  // the name the certificate is checked against: no brackets
  CHECK(v6.text == "[::1]:8443");
  REQUIRE(v6.resolved());
  CHECK(address_text(v6.addresses[0]) == "[::1]:8443");

  Endpoint v4 = parsed("https://127.0.0.1:8443");
  CHECK(v4.tls);
  CHECK(v4.host == "127.0.0.1");

  CHECK_FALSE(parsed("relay.example.com:8443").tls);
  CHECK_FALSE(parsed("http://relay.example.com:8443").tls);
  CHECK(parsed("http://relay.example.com:8443").written() == "relay.example.com:8443");

  // The rules of the address stay the same behind https://.
  CHECK(refusal("https://relay.example.com").find("not host:port") != std::string::npos);
  CHECK(refusal("https://relay.example.com:8443/v1").find("has a path") != std::string::npos);
  CHECK(refusal("https://::1:8443").find("in brackets") != std::string::npos);
  CHECK(refusal("https://relay:0").find("not a port") != std::string::npos);
}

TEST_CASE("a host that could be no name is refused", "[client][endpoint]") {
  CHECK(refusal("http://relay:8000/v1/nodes").find("has a path") != std::string::npos);
  CHECK(refusal("relay/x:8000").find("has a path") != std::string::npos);
  CHECK(refusal("user@relay:8000").find("neither an IPv4 address nor a host name") != std::string::npos);
  CHECK(refusal("re lay:8000").find("neither") != std::string::npos);
  CHECK(refusal(".relay:8000").find("neither") != std::string::npos);
  CHECK(refusal(std::string(254, 'a') + ":8000").find("neither") != std::string::npos);
}

TEST_CASE("IPv4-mapped loopback counts as loopback, other IPv6 does not", "[client][endpoint]") {
  CHECK(parsed("[::ffff:127.0.0.1]:8000").is_loopback());
  CHECK_FALSE(parsed("[::ffff:10.0.0.1]:8000").is_loopback());
  CHECK_FALSE(parsed("[::]:8000").is_loopback());
}

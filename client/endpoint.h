// Endpoint: a relay address the client talks to ("host:port"), parsed once
// from the command line (--master, --worker, SPRITES_MASTER, SPRITES_WORKER)
// or from a 307's location, and resolved once before it is used.
//
// Accepted: `host:port` with host an IPv4 literal or a name, `[v6]:port` with
// an IPv6 literal in brackets, each optionally written as a URL with
// `http://` or `https://` in front (and at most a `/` after), the forms the
// relay's join answer and its 307s use. `https://` sets `tls`: the connection
// speaks TLS and checks the relay's certificate against the host as written
// (client/http_client.h); without a scheme the address is plain http, as
// before TLS existed, so no existing command line changes meaning. Every
// other scheme is a usage error. The port is always required: https has no
// default port here either, a relay's ports are its own choice.
//
// Parsing is pure: a literal becomes its one address at once, a name is kept
// as given with no address yet (resolved() is false); client/resolver.h turns
// names into addresses on the loop. `text` is what the Host header and every
// message show: the host as written plus the port ("relay.example.com:8000",
// "[::1]:8000"), never the address a name resolved to.
//
// A name may resolve to several addresses (IPv4 and IPv6): they are kept in
// the resolver's order and HttpClient tries them in turn, a failed connect
// falling through to the next. The swarm further insists that every address
// is loopback (is_loopback): it opens thousands of connections and must never
// point them at another machine.
//
// Dropped alternatives: keeping the text and resolving at connect time. It
// would put a resolver call on every one of the swarm's thousands of
// connections and turn a typo into thousands of identical connect errors
// instead of one clear error before anything starts; so names are resolved
// once per endpoint, before the run (and once per redirect), and the
// addresses are kept. Accepting only IPv4 literals and "localhost", which
// spared the client a resolver: a relay's public URL (in join answers and
// 307s) may name a host, and a tool that cannot follow it cannot reach it.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sprites::client {

// One socket address, IPv4 or IPv6 (a sockaddr_storage cut to the two
// families a relay listens on: 28 bytes instead of 128 in every connection).
union Address {
  sockaddr any;
  sockaddr_in v4;
  sockaddr_in6 v6;

  int family() const { return any.sa_family; }
  socklen_t size() const { return family() == AF_INET6 ? sizeof v6 : sizeof v4; }
  uint16_t port() const;
  bool is_loopback() const;  // 127.0.0.0/8, ::1 (and ::ffff:127.x.y.z)
};

// nullopt unless `address` is AF_INET or AF_INET6; the port is kept.
std::optional<Address> address_of(const sockaddr* address);

// "127.0.0.1:8000", "[::1]:8000".
std::string address_text(const Address& address);

struct Endpoint {
  std::string host;  // as written, without brackets: "relay.example.com", "127.0.0.1", "::1"
  uint16_t port = 0;
  std::string text;  // "relay.example.com:8000", "[::1]:8000": the Host header and messages
  std::vector<Address> addresses;  // tried in this order; empty until resolved
  bool tls = false;  // https://: TLS, the certificate checked against `host`

  bool resolved() const { return !addresses.empty(); }
  bool is_name() const;      // host is a name (resolved by client/resolver.h), not a literal
  bool is_loopback() const;  // resolved, and every address is loopback
  // "https://" + text for a TLS endpoint, else text: what parse_endpoint reads
  // back as this endpoint.
  std::string written() const { return tls ? "https://" + text : text; }
};

// "host:port", "[v6]:port", "http://host:port", "https://host:port" (a URL
// optionally ending in "/"), port 1..65535. On failure returns nullopt and says why in `error`.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string* error);

// An IPv4 literal ("127.0.0.2") as a source address with port 0.
std::optional<sockaddr_in> parse_ipv4(std::string_view text);

// "127.0.0.2" for an address (the port is not shown).
std::string ipv4_text(const sockaddr_in& address);

}  // namespace sprites::client

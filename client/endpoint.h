// Endpoint: an IPv4 "host:port" the client talks to, parsed once from the
// command line (--master, --worker, SPRITES_MASTER, SPRITES_WORKER).
//
// Only IPv4 literals and the name "localhost" are accepted: a client that
// resolved names would need a resolver on the loop (getaddrinfo is blocking)
// for no gain on the loopback setups these tools are for. The swarm further
// insists on 127.0.0.0/8 (is_loopback): it opens thousands of connections and
// must never point them at another machine.
//
// Dropped alternative: keeping the text and resolving at connect time. It would
// turn a typo into thousands of identical connect errors instead of one usage
// error before anything starts.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sprites::client {

struct Endpoint {
  sockaddr_in address{};
  std::string text;  // "127.0.0.1:8000": what the Host header and messages show

  uint16_t port() const;
  bool is_loopback() const;  // 127.0.0.0/8
};

// "host:port" with host an IPv4 literal or "localhost" and port 1..65535.
// On failure returns nullopt and says why in `error`.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string* error);

// An IPv4 literal ("127.0.0.2") as a source address with port 0.
std::optional<sockaddr_in> parse_ipv4(std::string_view text);

// "127.0.0.2" for an address (the port is not shown).
std::string ipv4_text(const sockaddr_in& address);

}  // namespace sprites::client

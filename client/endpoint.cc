// See endpoint.h.
#include "client/endpoint.h"

#include <arpa/inet.h>

#include <charconv>

namespace sprites::client {
namespace {

// 'text' (built with append: GCC 12 warns falsely on "'" + std::string).
std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  out.append(text);
  out.push_back('\'');
  return out;
}

}  // namespace

uint16_t Endpoint::port() const { return ntohs(address.sin_port); }

bool Endpoint::is_loopback() const { return (ntohl(address.sin_addr.s_addr) >> 24) == 127; }

std::optional<sockaddr_in> parse_ipv4(std::string_view text) {
  if (text == "localhost") text = "127.0.0.1";
  std::string host(text);
  sockaddr_in out{};
  out.sin_family = AF_INET;
  if (::inet_pton(AF_INET, host.c_str(), &out.sin_addr) != 1) return std::nullopt;
  return out;
}

std::string ipv4_text(const sockaddr_in& address) {
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address.sin_addr, buf, sizeof buf);
  return buf;
}

std::optional<Endpoint> parse_endpoint(std::string_view text, std::string* error) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    if (error) *error = quoted(text) + " is not host:port";
    return std::nullopt;
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    if (error) *error = quoted(port_text) + " is not a port (1-65535)";
    return std::nullopt;
  }
  std::optional<sockaddr_in> address = parse_ipv4(host);
  if (!address) {
    if (error) *error = quoted(host) + " is not an IPv4 address (names other than localhost are not resolved)";
    return std::nullopt;
  }
  address->sin_port = htons(static_cast<uint16_t>(port));
  Endpoint out;
  out.address = *address;
  out.text = ipv4_text(*address) + ":" + std::to_string(port);
  return out;
}

}  // namespace sprites::client

// See endpoint.h.
#include "client/endpoint.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace sprites::client {
namespace {

constexpr size_t kMaxNameBytes = 253;  // the longest DNS name

// 'text' (built with append: GCC 12 warns falsely on "'" + std::string).
std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  out.append(text);
  out.push_back('\'');
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Letters, digits, '-', '.' and '_' (which /etc/hosts allows): nothing that
// could be a path, a user, a port or a space.
bool name_like(std::string_view host) {
  if (host.empty() || host.size() > kMaxNameBytes || host.front() == '.' || host.front() == '-') return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
  });
}

std::optional<Address> literal(const std::string& host, uint16_t port) {
  Address out{};
  if (::inet_pton(AF_INET, host.c_str(), &out.v4.sin_addr) == 1) {
    out.v4.sin_family = AF_INET;
    out.v4.sin_port = htons(port);
    return out;
  }
  out = Address{};
  if (::inet_pton(AF_INET6, host.c_str(), &out.v6.sin6_addr) == 1) {
    out.v6.sin6_family = AF_INET6;
    out.v6.sin6_port = htons(port);
    return out;
  }
  return std::nullopt;
}

std::optional<Endpoint> fail(std::string* error, std::string why) {
  if (error) *error = std::move(why);
  return std::nullopt;
}

}  // namespace

uint16_t Address::port() const { return ntohs(family() == AF_INET6 ? v6.sin6_port : v4.sin_port); }

bool Address::is_loopback() const {
  if (family() == AF_INET) return (ntohl(v4.sin_addr.s_addr) >> 24) == 127;
  if (family() != AF_INET6) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6.sin6_addr)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr) && v6.sin6_addr.s6_addr[12] == 127;
}

std::optional<Address> address_of(const sockaddr* address) {
  Address out{};
  if (address->sa_family == AF_INET) std::memcpy(&out.v4, address, sizeof out.v4);
  else if (address->sa_family == AF_INET6) std::memcpy(&out.v6, address, sizeof out.v6);
  else return std::nullopt;
  return out;
}

std::string address_text(const Address& address) {
  char buf[INET6_ADDRSTRLEN] = {};
  std::string out;
  if (address.family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &address.v6.sin6_addr, buf, sizeof buf);
    out.append("[").append(buf).append("]");
  } else {
    ::inet_ntop(AF_INET, &address.v4.sin_addr, buf, sizeof buf);
    out.append(buf);
  }
  return out.append(":").append(std::to_string(address.port()));
}

bool Endpoint::is_name() const { return !literal(host, port).has_value(); }

bool Endpoint::is_loopback() const {
  return resolved() && std::all_of(addresses.begin(), addresses.end(), [](const Address& a) { return a.is_loopback(); });
}

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
  const std::string_view given = text;
  bool tls = false;
  if (size_t scheme_end = text.find("://"); scheme_end != std::string_view::npos) {
    const std::string scheme = lower(text.substr(0, scheme_end));
    if (scheme != "http" && scheme != "https") {
      return fail(error, quoted(given) + ": the relay speaks http and https only; give https://host:port, "
                                         "http://host:port or host:port");
    }
    tls = scheme == "https";
    text.remove_prefix(scheme_end + 3);
    if (!text.empty() && text.back() == '/') text.remove_suffix(1);  // http://host:port/ is the same relay
  }
  if (text.find('/') != std::string_view::npos) {
    return fail(error, quoted(given) + " has a path: give host:port or http://host:port");
  }

  std::string_view host;
  std::string_view port_text;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':' ||
        close + 2 == text.size()) {
      return fail(error, quoted(given) + " is not [IPv6 address]:port");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    bracketed = true;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
      return fail(error, quoted(given) + " is not host:port");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail(error, quoted(given) + ": write an IPv6 address in brackets, as in [::1]:8000");
    }
  }

  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    return fail(error, quoted(port_text) + " is not a port (1-65535)");
  }

  Endpoint out;
  out.tls = tls;
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(port);
  std::optional<Address> address = literal(out.host, out.port);
  if (bracketed) {
    if (!address || address->family() != AF_INET6) return fail(error, quoted(host) + " is not an IPv6 address");
    out.text.append("[").append(out.host).append("]:").append(std::to_string(port));
  } else {
    if (!address && !name_like(host)) return fail(error, quoted(host) + " is neither an IPv4 address nor a host name");
    out.text = out.host + ":" + std::to_string(port);
  }
  if (address) out.addresses.push_back(*address);
  return out;
}

}  // namespace sprites::client

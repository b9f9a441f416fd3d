// See refusal_log.h.
#include "common/refusal_log.h"

#include <time.h>

#include "common/log.h"

namespace sprites::http {
namespace {

uint64_t this_second = 0;
uint32_t lines_this_second = 0;
uint64_t suppressed = 0;

std::string_view code_of(std::string_view body) {
  constexpr std::string_view kPrefix = "{\"error\":\"";
  if (body.substr(0, kPrefix.size()) != kPrefix) return {};
  body.remove_prefix(kPrefix.size());
  const size_t end = body.find('"');
  return end == std::string_view::npos ? std::string_view() : body.substr(0, end);
}

}  // namespace

void log_refusal(uv_tcp_t* tcp, uint16_t status, std::string_view body) {
  const log::Level level = status >= 500 ? log::Level::Warn : log::Level::Info;
  if (!log::enabled(level)) return;
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  const uint64_t second = static_cast<uint64_t>(ts.tv_sec);
  if (second != this_second) {
    this_second = second;
    lines_this_second = 0;
    if (suppressed > 0) {
      log::Event(log::Level::Warn, "refused_suppressed").num("count", suppressed);
      suppressed = 0;
    }
  }
  if (lines_this_second >= kRefusalLinesPerSecond) {
    ++suppressed;
    return;
  }
  ++lines_this_second;
  sockaddr_storage peer{};
  int len = sizeof peer;
  char address[64] = "?";
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
    if (peer.ss_family == AF_INET) {
      uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&peer), address, sizeof address);
    } else if (peer.ss_family == AF_INET6) {
      uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&peer), address, sizeof address);
    }
  }
  log::Event(level, "refused").num("status", status).str("code", code_of(body)).str("peer", address);
}

}  // namespace sprites::http

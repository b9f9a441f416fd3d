// A client that pipelines requests and never reads the answers, against the
// real relay: the server stops reading from it once the answers it holds for
// that client pass its queued-bytes bound, so the process's memory stays flat
// however much the client sends, and other clients are still served.
//
// The flooding client is a raw non-blocking socket with small kernel buffers
// (so the kernel absorbs little on either side): it sends until a bounded
// count of requests is out or the server stops taking bytes, which shows as
// POLLOUT not becoming ready within a guard. That guard only ends the sending
// loop; the assertion is on the resident set of the process (/proc/<pid>/statm),
// read while the flooding connection is still open.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.h"
#include "support/process_tools.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

constexpr std::size_t kMaxRequests = 200000;
constexpr int kStalledGuardMs = 2000;
constexpr int kSocketBuffer = 64 * 1024;
// The old server kept every answer it could not write: 200,000 answers were
// hundreds of MB on the master (/metrics) and ~70 MB on a worker (OPTIONS).
// Bounded, one connection costs the server well under a MB.
constexpr long kMaxGrowthBytes = 16L << 20;

// A connected non-blocking socket that never reads.
class Flood {
 public:
  explicit Flood(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    int size = kSocketBuffer;
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::fcntl(fd_, F_SETFL, O_NONBLOCK) == 0);
  }
  ~Flood() { ::close(fd_); }
  Flood(const Flood&) = delete;
  Flood& operator=(const Flood&) = delete;

  // Sends `request` up to `max_requests` times; returns how many were sent
  // whole when the count was reached or the server stopped taking bytes.
  std::size_t send(std::string_view request, std::size_t max_requests) {
    std::string batch;
    for (int i = 0; i < 1000; ++i) batch += request;
    const std::size_t total = request.size() * max_requests;
    std::size_t sent = 0;
    while (sent < total) {
      const std::size_t at = sent % batch.size();
      const std::size_t want = std::min(batch.size() - at, total - sent);
      ssize_t n = ::send(fd_, batch.data() + at, want, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        continue;
      }
      REQUIRE(n < 0);
      if (errno == EINTR) continue;
      REQUIRE(errno == EAGAIN);
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, kStalledGuardMs) == 0) break;  // the server stopped taking bytes
    }
    return sent / request.size();
  }

 private:
  int fd_ = -1;
};

void check_flood_is_bounded(std::uint16_t port, pid_t pid, std::string_view request,
                            const std::function<void()>& still_served) {
  still_served();  // warm: the first requests of a process allocate what every later one reuses
  const long before = static_cast<long>(rss_bytes(pid));
  Flood flood(port);
  const std::size_t sent = flood.send(request, kMaxRequests);
  still_served();
  const long after = static_cast<long>(rss_bytes(pid));
  INFO("requests sent: " << sent << ", resident before: " << before << " B, after: " << after
                         << " B, growth: " << (after - before) << " B");
  CHECK(sent > 0);
  CHECK(after - before < kMaxGrowthBytes);
}

TEST_CASE("a client pipelining GET /metrics without reading does not grow the master") {
  RelayOptions options;
  options.env.push_back(measurable_memory_env());
  RelayProcess relay(options);
  std::vector<pid_t> masters = relay.processes_named("sprites-master");
  REQUIRE(masters.size() == 1);
  check_flood_is_bounded(relay.master_port(), masters[0], "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", [&] {
    Connection c(relay.master_port());
    REQUIRE_STATUS(c.request("GET", "/metrics"), 200);
    REQUIRE_STATUS(c.request("GET", "/v1/stats"), 200);
  });
}

TEST_CASE("a client pipelining OPTIONS without reading does not grow a worker") {
  RelayOptions options;
  options.workers = 1;  // the one process the worker port leads to
  options.env.push_back(measurable_memory_env());
  RelayProcess relay(options);
  std::vector<pid_t> workers = relay.processes_named("sprites-worker");
  REQUIRE(workers.size() == 1);
  check_flood_is_bounded(relay.worker_port(), workers[0], "OPTIONS /v1/nodes/x/sprites HTTP/1.1\r\nHost: x\r\n\r\n",
                         [&] {
                           Connection c(relay.worker_port());
                           REQUIRE_STATUS(c.request("OPTIONS", "/v1/nodes/x/sprites"), 204);
                           REQUIRE_STATUS(c.request("GET", "/healthz"), 200);
                         });
}

}  // namespace
}  // namespace sprites::test

// File descriptors exhausted: a master whose file limit is far below
// the connections it is offered keeps serving the poll it holds, sheds the
// excess (libuv accepts and closes them with its spare descriptor instead of
// spinning on EMFILE), uses little CPU meanwhile, and accepts again once
// connections close. The CPU bound is loose on purpose (half a core, where a
// spin takes a whole one): it cannot fail on a slow machine, only on a spin.
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

// utime + stime of a process, in clock ticks.
long cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(all.substr(all.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

TEST_CASE("a master out of file descriptors sheds the excess, keeps its polls and does not spin") {
  RelayProcess relay;
  std::uint16_t port = relay.master_port();
  std::vector<pid_t> masters = relay.processes_named("sprites-master");
  REQUIRE(masters.size() == 1);
  const pid_t master = masters[0];
  Node a = join(port, "g", "a");
  Connection held(port);  // opened before the limit: it stays

  rlimit low{64, 64};
  REQUIRE(::prlimit(master, RLIMIT_NOFILE, &low, nullptr) == 0);

  // Far more connections than the master may hold.
  std::vector<Connection> flood;
  for (int i = 0; i < 200; ++i) flood.emplace_back(port);

  // The window: a poll held for one second on the old connection.
  long before = cpu_ticks(master);
  send_poll(held, a, 0, 1000);
  Response r = held.read_response();
  long used = cpu_ticks(master) - before;
  REQUIRE(r.status == 200);
  CHECK(r.json()["cursor"] == 0);
  CHECK(used < sysconf(_SC_CLK_TCK) / 2);

  // Some of the flood was shed with a close; none of it hangs the master.
  int shed = 0;
  for (Connection& c : flood) {
    if (c.is_closed_by_peer(std::chrono::milliseconds(50))) ++shed;
  }
  CHECK(shed > 0);

  // Once connections close, it accepts and serves again.
  flood.clear();
  bool serves = retry_until(
      [&] {
        try {
          return Connection(port).request("GET", "/healthz").status == 200;
        } catch (...) {
          return false;
        }
      },
      std::chrono::seconds(30));
  CHECK(serves);
  CHECK(node_info(port, a).status == 200);
}

}  // namespace
}  // namespace sprites::test

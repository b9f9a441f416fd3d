// The snapshot file against things put in its way (README "Security"): a
// symlink at the name the snapshot is written under does not redirect it; a
// FIFO or a symlink to /dev/zero at the snapshot path does not stop the next
// master (it is refused, moved aside once, and the master starts empty); a
// refused file is kept owner-only.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "support/files.h"
#include "support/http_client.h"
#include "support/process_tools.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

TEST_CASE("a symlink at the snapshot's temporary name does not redirect a planned restart's snapshot") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  const std::string snapshot = relay.ipc_path() + ".snapshot";
  char victim[] = "/tmp/sprites-victim-XXXXXX";
  const int fd = ::mkstemp(victim);
  REQUIRE(::write(fd, "victim", 6) == 6);
  ::close(fd);
  ::chmod(victim, 0644);
  REQUIRE(::symlink(victim, (snapshot + ".tmp").c_str()) == 0);
  const pid_t old = relay.master_pid();
  REQUIRE(::kill(relay.pid(), SIGHUP) == 0);
  relay.wait_for_master_after(old);
  CHECK(read_file(victim) == "victim");
  CHECK_STATUS(node_info(relay.master_port(), a), 200);  // the snapshot was written and loaded all the same
  ::unlink(victim);
}

TEST_CASE("a FIFO or a symlink to /dev/zero at the snapshot path does not stop the next master") {
  RelayProcess relay;
  const std::string snapshot = relay.ipc_path() + ".snapshot";
  Node a = join(relay.master_port(), "g", "a");
  SECTION("a FIFO") { REQUIRE(::mkfifo(snapshot.c_str(), 0600) == 0); }
  SECTION("a symlink to /dev/zero") { REQUIRE(::symlink("/dev/zero", snapshot.c_str()) == 0); }
  const pid_t old = relay.master_pid();
  REQUIRE(::kill(old, SIGKILL) == 0);  // a crash: the next master looks for a snapshot
  relay.wait_for_master_after(old);
  check_error(node_info(relay.master_port(), a), 404, "unknown_node");  // started empty
  struct stat st {};
  CHECK(::lstat(snapshot.c_str(), &st) != 0);                // moved aside, once
  CHECK(::lstat((snapshot + ".refused").c_str(), &st) == 0);
  CHECK_STATUS(throw_sprite(relay.worker_port(), join(relay.master_port(), "g", "b"), "up", "{}"), 202);
  ::unlink((snapshot + ".refused").c_str());
}

TEST_CASE("a refused snapshot is kept owner-only") {
  RelayProcess relay;
  join(relay.master_port(), "g", "a");
  const std::string snapshot = relay.ipc_path() + ".snapshot";
  {
    std::ofstream out(snapshot, std::ios::binary);
    out << "sprites-snapshot 1 2 0000000000000000\n{}";  // a wrong checksum
  }
  ::chmod(snapshot.c_str(), 0644);
  const pid_t old = relay.master_pid();
  REQUIRE(::kill(old, SIGKILL) == 0);
  relay.wait_for_master_after(old);
  struct stat st {};
  REQUIRE(::lstat((snapshot + ".refused").c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
  ::unlink((snapshot + ".refused").c_str());
}

}  // namespace
}  // namespace sprites::test

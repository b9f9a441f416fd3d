// The IPC socket against another local user and against hostile peers
// (README "Security"). Another user can neither take the socket's path (it
// lives in a directory only the relay's user can write, and the supervisor
// keeps the listening socket across master restarts, so the path is never
// free), nor connect to it, nor feed the master a frame even when it gets
// past the file permissions (the master checks the peer's credentials); a
// worker sends nothing to a listener of another user. A peer of the relay's
// own user must still say hello first, keep to the frame sizes a valid throw
// needs and send honest counts. A master that cannot listen says why and
// exits 1.
//
// Attacks run in child processes under uid 65534 (support/process_tools.h).
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "ipc/frame.h"
#include "ipc/messages.h"
#include "support/http_client.h"
#include "support/ipc_frames.h"
#include "support/process_tools.h"
#include "support/program.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

TEST_CASE("the IPC socket lives in a directory only the relay's user can write, and only it may connect") {
  RelayProcess relay;
  const std::string path = relay.ipc_path();
  const std::string dir = path.substr(0, path.rfind('/'));
  struct stat st {};
  REQUIRE(::lstat(dir.c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK(st.st_uid == ::geteuid());
  CHECK((st.st_mode & (S_IWGRP | S_IWOTH)) == 0);
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 077) == 0);

  // Another user can neither connect nor bind there.
  const int as_nobody = as_user(Identity::Nobody, [&] {
    if (connect_unix(path) >= 0) return 1;
    if (errno != EACCES) return 2;
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return 3;
    return 0;
  });
  CHECK(as_nobody == 0);
}

TEST_CASE("a master restart never frees the IPC path: the supervisor keeps the listening socket") {
  RelayProcess relay;
  const std::string path = relay.ipc_path();
  struct stat before {};
  REQUIRE(::stat(path.c_str(), &before) == 0);
  const pid_t old = relay.master_pid();
  REQUIRE(::kill(old, SIGKILL) == 0);
  // While the master is gone the socket still accepts connections (they wait
  // in its backlog for the next master), so the path cannot be bound.
  const int fd = connect_unix(path);
  CHECK(fd >= 0);
  if (fd >= 0) ::close(fd);
  relay.wait_for_master_after(old);
  struct stat after {};
  REQUIRE(::stat(path.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  CHECK(throw_sprite(relay.worker_port(), join(relay.master_port(), "g", "a"), "up", "{}").status == 202);
}

TEST_CASE("a process of another user that gets past the file permissions still cannot feed the master a frame") {
  RelayProcess relay;
  const std::string path = relay.ipc_path();
  Node a = join(relay.master_port(), "g", "a");
  const std::string frames = hello_frame() + throw_frame(a, "intruder", ipc::monotonic_ms() + 60000);
  const int result = as_user(Identity::NobodyRootFiles, [&] {
    const int fd = connect_unix(path);
    if (fd < 0) return 10;
    write_all(fd, frames);
    Drained d = read_until_eof(fd);
    if (!d.eof) return 11;
    return d.bytes.empty() ? 0 : 12;
  });
  CHECK(result == 0);  // closed without a byte back
  Json s = stats(relay.master_port());
  CHECK(s["workers"]["connected"] == relay.workers());
  CHECK(s["sprites"]["accepted"] == 0);
  CHECK(node_info(relay.master_port(), a).json()["pending"] == 0);
}

TEST_CASE("a worker sends nothing to a listener of another user") {
  char dir_template[] = "/tmp/sprites-fake-master-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string path = std::string(dir_template) + "/ipc.sock";
  // The fake master binds as root (so the worker may connect) but listens
  // as uid 65534: the credentials a client sees are the listener's.
  const int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  Program worker({std::string(SPRITES_BIN_DIR) + "/sprites-worker", "--ipc-path", path, "--worker-port", "0",
                  "--host", "127.0.0.1"});
  const int heard = as_user(Identity::Nobody, [&] {
    if (::listen(listener, 4) != 0) return 20;
    const int conn = ::accept(listener, nullptr, nullptr);
    if (conn < 0) return 21;
    Drained d = read_until_eof(conn);
    if (!d.eof) return 22;
    return d.bytes.empty() ? 0 : 23;
  });
  CHECK(heard == 0);  // the worker connected, saw the listener's uid and hung up
  Program::Finished done = worker.terminate();
  CHECK(done.err.find("refusing the IPC socket") != std::string::npos);
  CHECK(done.err.find("uid 65534") != std::string::npos);
  ::close(listener);
  ::unlink(path.c_str());
  ::rmdir(dir_template);
}

TEST_CASE("a master that cannot listen on its IPC socket says why and exits 1") {
  const std::string master = std::string(SPRITES_BIN_DIR) + "/sprites-master";
  SECTION("the socket's directory is writable by other users") {
    char dir_template[] = "/tmp/sprites-open-dir-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    REQUIRE(::chmod(dir_template, 01777) == 0);
    Program::Finished run = run_program({master, "--master-port", "0", "--host", "127.0.0.1", "--ipc-path",
                                         std::string(dir_template) + "/ipc.sock"});
    CHECK(run.exited);
    CHECK(run.code == 1);
    CHECK(run.err.find("writable by other users") != std::string::npos);
    ::rmdir(dir_template);
  }
  SECTION("another master listens there") {
    RelayProcess relay;
    Program::Finished run =
        run_program({master, "--master-port", "0", "--host", "127.0.0.1", "--ipc-path", relay.ipc_path()});
    CHECK(run.exited);
    CHECK(run.code == 1);
    CHECK(run.err.find("another master listens there") != std::string::npos);
    CHECK(throw_sprite(relay.worker_port(), join(relay.master_port(), "g", "a"), "up", "{}").status == 202);
  }
}

}  // namespace
}  // namespace sprites::test

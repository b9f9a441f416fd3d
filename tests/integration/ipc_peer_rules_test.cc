// The master's IPC listener is as strict with a peer of the relay's own user
// as the HTTP side is with a client: the first frame must be a Hello, within a
// bound and no longer than a Hello; after it, no frame longer than the
// largest valid throw; a worker whose body limit exceeds the master's is
// refused at its Hello; a Rejected count out of range is refused, not added
// up. A peer that breaks a rule is disconnected and nothing it sent takes
// effect.
#include <unistd.h>

#include <string>
#include <vector>

#include "ipc/frame.h"
#include "ipc/messages.h"
#include "support/http_client.h"
#include "support/ipc_frames.h"
#include "support/process_tools.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

// Connects to the IPC socket, sends `bytes`, reads until the master closes.
Drained send_and_drain(const std::string& path, const std::string& bytes) {
  const int fd = connect_unix(path);
  REQUIRE(fd >= 0);
  write_all(fd, bytes);
  Drained d = read_until_eof(fd);
  ::close(fd);
  return d;
}

TEST_CASE("a peer that throws before its hello is disconnected and its sprite is not delivered") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  Drained d = send_and_drain(relay.ipc_path(), throw_frame(a, "early", ipc::monotonic_ms() + 60000));
  CHECK(d.eof);
  CHECK(d.bytes.empty());
  CHECK(node_info(relay.master_port(), a).json()["pending"] == 0);
  CHECK(stats(relay.master_port())["sprites"]["accepted"] == 0);
}

TEST_CASE("a peer may not start a frame longer than a hello before its hello") {
  RelayProcess relay;
  const std::string header = frame_header(1u << 20);
  // Only the header is sent: the master hangs up without waiting for the
  // megabyte it announces.
  Drained d = send_and_drain(relay.ipc_path(), header);
  CHECK(d.eof);
  CHECK(d.bytes.empty());
}

TEST_CASE("a peer that never says hello is disconnected") {
  RelayProcess relay;
  Drained d = send_and_drain(relay.ipc_path(), "");
  CHECK(d.eof);
  CHECK(stats(relay.master_port())["workers"]["connected"] == relay.workers());
}

TEST_CASE("after its hello a worker's frames may be as long as the largest valid throw and no longer") {
  RelayProcess relay({"--max-body-bytes", "1024"});
  const std::string path = relay.ipc_path();
  Node a = join(relay.master_port(), "g", "a");
  const std::string too_long = frame_header(ipc::max_throw_frame_length(1024) + 1, 2);
  Drained d = send_and_drain(path, hello_frame(1024) + throw_frame(a, "ok", ipc::monotonic_ms() + 60000) + too_long);
  CHECK(d.eof);
  // The valid throw before it was answered (a ThrowResult came back) and delivered.
  CHECK_FALSE(d.bytes.empty());
  CHECK(node_info(relay.master_port(), a).json()["pending"] == 1);
}

TEST_CASE("a worker whose body limit exceeds the master's is refused at its hello") {
  RelayProcess relay({"--max-body-bytes", "1024"});
  Node a = join(relay.master_port(), "g", "a");
  Drained d =
      send_and_drain(relay.ipc_path(), hello_frame(4096) + throw_frame(a, "big", ipc::monotonic_ms() + 60000));
  CHECK(d.eof);
  CHECK(d.bytes.empty());
  CHECK(node_info(relay.master_port(), a).json()["pending"] == 0);
  CHECK(stats(relay.master_port())["workers"]["connected"] == relay.workers());
}

TEST_CASE("a Rejected count out of range disconnects the peer and does not reach the stats") {
  RelayProcess relay;
  std::string bogus = ipc_frame(ipc::FrameType::Rejected, 0, std::string("\x00\xff\xff\xff\xff", 5));
  Drained d = send_and_drain(relay.ipc_path(), hello_frame() + bogus);
  CHECK(d.eof);
  CHECK(stats(relay.master_port())["sprites"]["rejected"] == 0);
}

TEST_CASE("a throw that reaches the master after its worker gave up is dropped, and a ping is answered") {
  RelayProcess relay;
  Node a = join(relay.master_port(), "g", "a");
  const int fd = connect_unix(relay.ipc_path());
  REQUIRE(fd >= 0);
  REQUIRE(write_all(fd, hello_frame() + throw_frame(a, "late", ipc::monotonic_ms() - 1) +
                            ipc_frame(ipc::FrameType::Ping, 99, "")));
  // Frames are handled in order: once the Pong is back, the throw before it
  // has been handled, and no ThrowResult came for it.
  ipc::FrameDecoder decoder;
  std::vector<ipc::FrameType> types;
  bool pong = false;
  while (!pong) {
    const std::string bytes = read_some(fd);
    REQUIRE_FALSE(bytes.empty());
    decoder.feed(bytes.data(), bytes.size());
    ipc::FrameView view{};
    while (decoder.next(view) == ipc::FrameDecoder::Status::Frame) {
      types.push_back(view.type);
      if (view.type == ipc::FrameType::Pong) {
        CHECK(view.id == 99);
        pong = true;
      }
    }
  }
  ::close(fd);
  CHECK(types == std::vector<ipc::FrameType>{ipc::FrameType::Pong});
  CHECK(node_info(relay.master_port(), a).json()["pending"] == 0);
}

}  // namespace
}  // namespace sprites::test

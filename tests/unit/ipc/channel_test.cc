// Behaviour of ipc::Channel on a real libuv loop: two Channels joined by a
// socketpair (uv_pipe_open on each end) exchange frames; no sleeps, every test
// ends with all handles closed and uv_loop_close() == 0.
//
// A watchdog timer (unreferenced, so it never keeps the loop alive by itself)
// closes everything if a test would otherwise hang, turning a hang into a
// failure.
#include "ipc/channel.h"

#include "common/uv_handle.h"

#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <csignal>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using sprites::ipc::Channel;
using sprites::ipc::FrameType;
using sprites::ipc::FrameView;
using sprites::ipc::kFrameHeaderBytes;

struct Received {
  FrameType type;
  uint32_t id;
  std::string body;
  bool operator==(const Received&) const = default;
};

// One end of the socketpair: the Channel, what it received and how often it closed.
struct End {
  std::unique_ptr<Channel> channel;
  std::vector<Received> frames;
  int closed_calls = 0;
  std::function<void(End&, const FrameView&)> on_frame;  // optional extra reaction
};

sprites::UvHandle<uv_pipe_t> open_pipe(uv_loop_t* loop, int fd) {
  auto pipe = sprites::make_pipe(loop, nullptr);
  REQUIRE(uv_pipe_open(pipe.get(), fd) == 0);
  return pipe;
}

// Builds a Channel whose on_closed counts and then destroys the Channel from
// inside the callback, as an owner is allowed to.
void attach(End& end, uv_loop_t* loop, int fd) {
  Channel::Callbacks callbacks;
  callbacks.on_frame = [&end](const FrameView& f) {
    end.frames.push_back({f.type, f.id, std::string(f.body)});
    if (end.on_frame) end.on_frame(end, f);
  };
  callbacks.on_closed = [&end] {
    ++end.closed_calls;
    end.channel.reset();
  };
  end.channel = std::make_unique<Channel>(loop, open_pipe(loop, fd), std::move(callbacks));
}

// A loop plus socketpairs. Declare the Ends before the fixture: its teardown
// closes whatever channels are still open and runs the loop until they are gone.
class LoopFixture {
 public:
  LoopFixture() {
    REQUIRE(uv_loop_init(&loop_) == 0);
    REQUIRE(uv_timer_init(&loop_, &watchdog_) == 0);
    watchdog_.data = this;
    REQUIRE(uv_timer_start(&watchdog_, on_watchdog, 10000, 0) == 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&watchdog_));
  }

  ~LoopFixture() {
    // Whatever a test left open is closed here so the loop can be torn down.
    close_all();
    uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    for (int fd : raw_fds_) ::close(fd);
    CHECK(uv_loop_close(&loop_) == 0);
  }

  LoopFixture(const LoopFixture&) = delete;
  LoopFixture& operator=(const LoopFixture&) = delete;

  uv_loop_t* loop() { return &loop_; }

  // Two connected Channels on this loop.
  void connect(End& a, End& b) {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    attach(a, &loop_, fds[0]);
    attach(b, &loop_, fds[1]);
    ends_.push_back(&a);
    ends_.push_back(&b);
  }

  // One Channel; the other socket stays raw for the test to write bytes into.
  int connect_raw(End& end) {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    attach(end, &loop_, fds[1]);
    ends_.push_back(&end);
    raw_fds_.push_back(fds[0]);
    return fds[0];
  }

  // Closes a raw socket from connect_raw before the test ends.
  void close_raw(int fd) {
    std::erase(raw_fds_, fd);
    ::close(fd);
  }

  void run() { uv_run(&loop_, UV_RUN_DEFAULT); }
  bool timed_out() const { return timed_out_; }

 private:
  static void on_watchdog(uv_timer_t* timer) {
    auto* self = static_cast<LoopFixture*>(timer->data);
    self->timed_out_ = true;
    self->close_all();
  }

  void close_all() {
    for (End* end : ends_) {
      if (end->channel) end->channel->close();
    }
  }

  uv_loop_t loop_{};
  uv_timer_t watchdog_{};
  std::vector<End*> ends_;
  std::vector<int> raw_fds_;
  bool timed_out_ = false;
};

std::string patterned(size_t size, uint32_t seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 31 + seed) & 0xff);
  return s;
}

void write_raw(int fd, std::string_view bytes) {
  REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
}

}  // namespace

TEST_CASE("many frames sent in one loop turn arrive intact and in order") {
  End a;
  End b;
  LoopFixture fixture;
  fixture.connect(a, b);

  std::vector<Received> sent;
  size_t queued = 0;
  for (uint32_t i = 0; i < 2000; ++i) {
    const FrameType type = i % 2 == 0 ? FrameType::Throw : FrameType::Rejected;
    sent.push_back({type, i, patterned(i % 50, i)});
    a.channel->send(type, i, sent.back().body);
    queued += kFrameHeaderBytes + sent.back().body.size();
  }
  // Nothing leaves during the turn that queued it: all of it waits for one write.
  CHECK(a.channel->queued_bytes() == queued);

  b.on_frame = [&](End& self, const FrameView&) {
    if (self.frames.size() == sent.size()) {
      a.channel->close();
      self.channel->close();
    }
  };
  fixture.run();

  CHECK_FALSE(fixture.timed_out());
  CHECK(b.frames == sent);
  CHECK(a.frames.empty());
  CHECK(a.closed_calls == 1);
  CHECK(b.closed_calls == 1);
}

TEST_CASE("the queue is handed to the kernel on the next loop turn") {
  End a;
  End b;
  LoopFixture fixture;
  fixture.connect(a, b);
  b.on_frame = [&](End& self, const FrameView&) {
    if (self.frames.size() == 2) self.channel->close();
  };
  a.channel->send(FrameType::Hello, 1, "one");
  a.channel->send(FrameType::Hello, 2, "two");
  CHECK(a.channel->queued_bytes() == 2 * kFrameHeaderBytes + 6);
  uv_run(fixture.loop(), UV_RUN_NOWAIT);
  CHECK(a.channel->queued_bytes() == 0);
  fixture.run();

  CHECK_FALSE(fixture.timed_out());
  CHECK(b.frames ==
        std::vector<Received>{{FrameType::Hello, 1, "one"}, {FrameType::Hello, 2, "two"}});
  CHECK(a.closed_calls == 1);  // saw EOF when b closed
  CHECK(b.closed_calls == 1);
}

TEST_CASE("a big frame arrives whole, and frames queued behind it follow in order") {
  End a;
  End b;
  LoopFixture fixture;
  fixture.connect(a, b);

  const std::string big = patterned(512 * 1024, 5);
  a.channel->send(FrameType::ThrowResult, 77, big);
  // Starts the write; 512 KiB exceeds the socket buffer, so it is still in flight.
  uv_run(fixture.loop(), UV_RUN_NOWAIT);
  a.channel->send(FrameType::Hello, 78, "after");
  a.channel->send(FrameType::Rejected, 79, "");

  b.on_frame = [&](End& self, const FrameView&) {
    if (self.frames.size() == 3) self.channel->close();
  };
  fixture.run();

  CHECK_FALSE(fixture.timed_out());
  REQUIRE(b.frames.size() == 3);
  CHECK(b.frames[0].type == FrameType::ThrowResult);
  CHECK(b.frames[0].id == 77);
  CHECK(b.frames[0].body == big);
  CHECK(b.frames[1] == Received{FrameType::Hello, 78, "after"});
  CHECK(b.frames[2] == Received{FrameType::Rejected, 79, ""});
  CHECK(a.closed_calls == 1);
  CHECK(b.closed_calls == 1);
}

TEST_CASE("a frame sent from inside on_frame reaches the peer") {
  End worker;
  End master;
  LoopFixture fixture;
  fixture.connect(worker, master);

  master.on_frame = [](End& self, const FrameView& f) {
    self.channel->send(FrameType::ThrowResult, f.id, "{\"status\":\"ok\"}");
  };
  worker.on_frame = [](End& self, const FrameView&) {
    if (self.frames.size() == 3) self.channel->close();
  };
  for (uint32_t id = 1; id <= 3; ++id) worker.channel->send(FrameType::Throw, id, "{}");
  fixture.run();

  CHECK_FALSE(fixture.timed_out());
  REQUIRE(worker.frames.size() == 3);
  for (uint32_t i = 0; i < 3; ++i) {
    CHECK(worker.frames[i] == Received{FrameType::ThrowResult, i + 1, "{\"status\":\"ok\"}"});
  }
  CHECK(worker.closed_calls == 1);
  CHECK(master.closed_calls == 1);
}

TEST_CASE("closing one end makes the other's on_closed fire once") {
  End a;
  End b;
  LoopFixture fixture;
  fixture.connect(a, b);

  a.channel->close();
  CHECK_FALSE(a.channel->open());
  a.channel->close();  // idempotent
  a.channel->send(FrameType::Hello, 1, "ignored");  // a no-op once closing
  CHECK(a.channel->queued_bytes() == 0);
  CHECK(a.closed_calls == 0);  // only after the handles have closed

  fixture.run();

  CHECK_FALSE(fixture.timed_out());
  CHECK(a.closed_calls == 1);
  CHECK(b.closed_calls == 1);
  CHECK(b.frames.empty());
  CHECK_FALSE(a.channel);  // destroyed from inside on_closed
  CHECK_FALSE(b.channel);
}

TEST_CASE("a frame queued just before close still leaves") {
  End a;
  End b;
  LoopFixture fixture;
  fixture.connect(a, b);

  a.channel->send(FrameType::Rejected, 9, "last words");
  a.channel->close();
  fixture.run();
  CHECK_FALSE(fixture.timed_out());

  CHECK(b.frames == std::vector<Received>{{FrameType::Rejected, 9, "last words"}});
  CHECK(a.closed_calls == 1);
  CHECK(b.closed_calls == 1);
}

namespace {

// Reads what the raw end of a socketpair receives, turning the loop meanwhile,
// until EOF; returns the frames.
std::vector<Received> drain_raw(LoopFixture& fixture, int raw) {
  std::vector<Received> frames;
  sprites::ipc::FrameDecoder decoder;
  char buf[65536];
  for (int turns = 0; turns < 100000; ++turns) {
    uv_run(fixture.loop(), UV_RUN_NOWAIT);
    const ssize_t n = ::recv(raw, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) break;  // EOF: the channel has closed
    if (n < 0) continue;
    decoder.feed(buf, static_cast<size_t>(n));
    FrameView f{};
    while (decoder.next(f) == sprites::ipc::FrameDecoder::Status::Frame) {
      frames.push_back({f.type, f.id, std::string(f.body)});
    }
  }
  return frames;
}

}  // namespace

TEST_CASE("a close hands the peer everything sent before it, a write in flight included") {
  End a;
  LoopFixture fixture;
  const int raw = fixture.connect_raw(a);
  // A frame far larger than the socket buffer: one loop turn later most of it
  // waits in a write in flight, since the raw end reads nothing yet.
  const std::string big = patterned(600 * 1024, 3);
  a.channel->send(FrameType::Throw, 1, big);
  uv_run(fixture.loop(), UV_RUN_NOWAIT);
  REQUIRE(a.channel->unsent_bytes() > 0);
  REQUIRE(a.channel->queued_bytes() == 0);  // it is all in the write
  a.channel->send(FrameType::Rejected, 2, "last words");
  a.channel->close();
  CHECK(a.closed_calls == 0);  // never from inside close()
  std::vector<Received> got = drain_raw(fixture, raw);
  REQUIRE(got.size() == 2);
  CHECK(got[0] == Received{FrameType::Throw, 1, big});
  CHECK(got[1] == Received{FrameType::Rejected, 2, "last words"});
  fixture.run();
  CHECK(a.closed_calls == 1);
  CHECK_FALSE(fixture.timed_out());
}

TEST_CASE("a Channel destroyed with a write in flight is simply gone") {
  End a;
  LoopFixture fixture;
  fixture.connect_raw(a);
  a.channel->send(FrameType::Throw, 1, patterned(600 * 1024, 5));
  uv_run(fixture.loop(), UV_RUN_NOWAIT);
  REQUIRE(a.channel->unsent_bytes() > 0);
  a.channel.reset();  // its handles close, the write is cancelled later
  fixture.run();
  CHECK(a.closed_calls == 0);
  CHECK_FALSE(fixture.timed_out());
}

TEST_CASE("both ends closing at once each report on_closed once") {
  End a;
  End b;
  LoopFixture fixture;
  fixture.connect(a, b);
  a.channel->close();
  b.channel->close();
  fixture.run();
  CHECK_FALSE(fixture.timed_out());
  CHECK(a.closed_calls == 1);
  CHECK(b.closed_calls == 1);
}

TEST_CASE("garbage bytes from the peer close the channel") {
  End end;
  LoopFixture fixture;
  const int raw = fixture.connect_raw(end);

  SECTION("an impossible length") { write_raw(raw, std::string("\xff\xff\xff\xff", 4)); }
  SECTION("an unknown frame type") { write_raw(raw, std::string("\x05\x00\x00\x00\x09", 5)); }
  SECTION("a length below the header size") {
    write_raw(raw, std::string("\x01\x00\x00\x00", 4));
  }
  fixture.run();

  CHECK_FALSE(fixture.timed_out());
  CHECK(end.closed_calls == 1);
  CHECK(end.frames.empty());
}

TEST_CASE("valid frames before garbage are delivered, then the channel closes") {
  End end;
  LoopFixture fixture;
  const int raw = fixture.connect_raw(end);

  std::string bytes;
  sprites::ipc::append_frame(bytes, FrameType::Hello, 1, std::string("\x2a\x00\x00\x00", 4));
  bytes += "GET / HTTP/1.1\r\n\r\n";
  write_raw(raw, bytes);
  fixture.run();
  CHECK_FALSE(fixture.timed_out());

  CHECK(end.frames ==
        std::vector<Received>{{FrameType::Hello, 1, std::string("\x2a\x00\x00\x00", 4)}});
  CHECK(end.closed_calls == 1);
}

TEST_CASE("EOF from the peer closes the channel") {
  End end;
  LoopFixture fixture;
  const int raw = fixture.connect_raw(end);
  ::shutdown(raw, SHUT_WR);
  fixture.run();
  CHECK_FALSE(fixture.timed_out());
  CHECK(end.closed_calls == 1);
}

TEST_CASE("an exception thrown by on_frame closes the channel instead of escaping") {
  End a;
  End b;
  LoopFixture fixture;
  fixture.connect(a, b);
  b.on_frame = [](End&, const FrameView&) { throw std::runtime_error("handler bug"); };
  a.channel->send(FrameType::Hello, 1, "boom");
  a.channel->send(FrameType::Hello, 2, "never handled");
  fixture.run();
  CHECK_FALSE(fixture.timed_out());
  CHECK(b.frames.size() == 1);
  CHECK(b.closed_calls == 1);
  CHECK(a.closed_calls == 1);
}

TEST_CASE("a write to a peer that has gone closes the channel") {
  // libuv writes to pipes without MSG_NOSIGNAL; processes ignore SIGPIPE (as
  // the master and workers must), so the failure arrives as EPIPE.
  struct IgnoreSigpipe {
    void (*previous)(int) = std::signal(SIGPIPE, SIG_IGN);
    ~IgnoreSigpipe() { std::signal(SIGPIPE, previous); }
  } ignore_sigpipe;

  End end;
  LoopFixture fixture;
  const int raw = fixture.connect_raw(end);
  fixture.close_raw(raw);
  end.channel->send(FrameType::Rejected, 1, std::string(1024, 'x'));
  fixture.run();
  CHECK_FALSE(fixture.timed_out());
  CHECK(end.closed_calls == 1);
}

// LineChannel: newline-delimited JSON between the swarm's parent and one
// child, over two pipes (the child's standard input carries the parent's
// messages, its standard output the child's).
//
// Messages, one JSON object per line, "type" first:
//   parent -> child  {"type":"plan", ...ChildPlan}  then  {"type":"go","start_ns":T}
//                    {"type":"stop"} (end the window now: interrupted) and {"type":"finish"}
//   child -> parent  {"type":"joined", ...}  {"type":"progress", ...}  {"type":"report", ...}
//                    {"type":"fatal","message":...}
// CLOCK_MONOTONIC (uv_hrtime) is shared by every process of one machine, so a
// time sent in a message means the same instant in parent and child.
//
// It owns the two uv_pipe_t handles. close() waits for queued writes to go out
// before closing (a child's final report must not be cut off), and the object
// is freed in the last close callback (Ptr's deleter). Lines are bounded
// (kMaxLine); a longer one ends the channel as if the peer had closed.
//
// Dropped alternative: a binary frame codec like ipc/. The messages are few
// (a handful per second per child) and JSON lines can be read by a person
// running a child by hand.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace sprites::swarm {

class LineChannel {
 public:
  struct Closer {
    void operator()(LineChannel* channel) const { channel->close(); }
  };
  using Ptr = std::unique_ptr<LineChannel, Closer>;
  using LineHandler = std::function<void(std::string_view line)>;
  using EndHandler = std::function<void()>;

  static constexpr size_t kMaxLine = 256u << 20;

  // Two fresh pipes for uv_spawn's stdio (the parent's side).
  static Ptr for_spawn(uv_loop_t* loop);
  // Wraps descriptors that are already open (the child's stdin and stdout).
  static Ptr for_fds(uv_loop_t* loop, int read_fd, int write_fd);

  uv_pipe_t* read_pipe() { return &read_; }
  uv_pipe_t* write_pipe() { return &write_; }

  // Handlers run from libuv callbacks; exceptions they throw are caught and
  // end the channel. `on_end` runs once, when the peer closed its side.
  void start(LineHandler on_line, EndHandler on_end);
  void send(std::string line);  // a newline is added
  bool open() const { return !closing_; }

 private:
  LineChannel() = default;
  ~LineChannel() = default;
  void close();
  void maybe_close_handles();
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_closed(uv_handle_t* handle);

  uv_pipe_t read_{};
  uv_pipe_t write_{};
  std::string buffer_;
  LineHandler on_line_;
  EndHandler on_end_;
  size_t writes_pending_ = 0;
  int handles_open_ = 0;
  bool closing_ = false;
  bool handles_closing_ = false;
  bool ended_ = false;
};

}  // namespace sprites::swarm

// Channel: one IPC connection (a connected uv_pipe_t) that sends and receives
// frames. Used by the master for each worker and by each worker for its master.
//
// Writes are batched: send() appends the frame to an output buffer and arms a
// uv_idle handle; the idle callback (next loop turn, after every callback of the
// current turn has run) writes everything accumulated with one uv_write. While a
// write is in flight, new frames wait in the buffer and go out together when it
// completes. So a burst of N throws costs one syscall, not N.
//
// Reads use the channel's own 64 KiB buffer (there are few channels, unlike HTTP
// connections) and a FrameDecoder; each whole frame is handed to the owner's
// on_frame callback. A decode error, a read error or EOF closes the channel and
// calls on_closed once.
//
// Lifetime: the owner holds the Channel in a std::unique_ptr. close() starts an
// orderly uv_close of its handles; once both are closed, on_closed is called as
// the very last thing the Channel does, so the owner may destroy it from inside
// on_closed. Destroying a Channel whose handles are still open is a bug and
// aborts.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ipc/frame.h"

namespace sprites::ipc {

class Channel {
 public:
  struct Callbacks {
    std::function<void(const FrameView&)> on_frame;
    std::function<void()> on_closed;  // once, after all handles are closed
  };

  // Takes over `pipe`, which must be connected (accepted by a server or connected
  // by uv_pipe_connect) and heap-allocated by the caller with new uv_pipe_t; the
  // Channel frees it when closed. Starts reading at once.
  Channel(uv_loop_t* loop, uv_pipe_t* pipe, Callbacks callbacks);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Queues one frame. Frames queued in the same loop turn leave in one write.
  // A no-op once the channel is closing.
  void send(FrameType type, uint32_t id, std::string_view body);

  // Starts closing: pending output that was already handed to uv_write may still
  // leave; nothing queued afterwards does. Idempotent.
  void close();

  bool open() const { return state_ == State::Open; }
  // The longest frame accepted from the peer from now on (frame.h).
  void set_max_frame_length(uint32_t length) { decoder_.set_max_length(length); }
  // The connected socket's descriptor, for peer credentials; -1 once closed.
  int fd() const;
  // Bytes queued but not yet handed to the kernel.
  size_t queued_bytes() const { return queued_.size(); }
  // The same, plus what an unfinished write still holds: all this channel's
  // output that the peer has not taken.
  size_t unsent_bytes() const { return queued_.size() + in_flight_.size(); }

 private:
  enum class State { Open, Closing, Closed };
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_idle(uv_idle_t* idle);
  static void on_write(uv_write_t* req, int status);
  static void on_handle_closed(uv_handle_t* handle);
  void flush();

  uv_loop_t* loop_;
  uv_pipe_t* pipe_;
  uv_idle_t* idle_;
  uv_write_t write_req_{};
  Callbacks callbacks_;
  FrameDecoder decoder_;
  std::string queued_;     // frames not yet handed to uv_write
  std::string in_flight_;  // bytes of the uv_write in progress
  bool writing_ = false;
  int handles_open_ = 0;
  State state_ = State::Open;
  std::unique_ptr<char[]> read_buffer_;
};

}  // namespace sprites::ipc

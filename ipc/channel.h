// Channel: one IPC connection (a connected uv_pipe_t) that sends and receives
// frames. Used by the master for each worker and by each worker for its master.
//
// Writes are batched: send() appends the frame to an output buffer and arms a
// uv_idle handle; the idle callback (next loop turn, after every callback of the
// current turn has run) writes everything accumulated at once. While a write is
// in flight, new frames wait in the buffer and go out together when it
// completes. So a burst of N throws costs one syscall, not N.
//
// Reads use the channel's own 64 KiB buffer (there are few channels, unlike HTTP
// connections) and a FrameDecoder; each whole frame is handed to the owner's
// on_frame callback.
//
// Closing. close() is graceful: reading stops, and everything sent before it
// still leaves, a write in flight included, for at most kDrainMs (a peer that
// does not read cannot hold the close up longer); then the channel closes.
// EOF, a malformed frame and an exception from on_frame close it the same way;
// a read or write error closes it at once, dropping unsent output. Either way on_closed is called once, from a callback of the
// channel's own (never from inside close()), as the last thing the Channel
// does, so the owner may destroy it there. Destroying a Channel at any other
// time is safe too: its handles are closed and freed by libuv later, and a
// write still in flight is cancelled without touching it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/uv_handle.h"
#include "ipc/frame.h"

namespace sprites::ipc {

class Channel {
 public:
  static constexpr uint64_t kDrainMs = 2000;

  struct Callbacks {
    std::function<void(const FrameView&)> on_frame;
    std::function<void()> on_closed;  // once, when the channel has closed
  };

  // Takes over `pipe`, which must be connected (accepted by a server or
  // connected by uv_pipe_connect) and initialised on `loop`. Starts reading at
  // once.
  Channel(uv_loop_t* loop, UvHandle<uv_pipe_t> pipe, Callbacks callbacks);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Queues one frame. Frames queued in the same loop turn leave in one write.
  // A no-op once the channel is closing.
  void send(FrameType type, uint32_t id, std::string_view body);

  // Starts a graceful close (see above). Idempotent.
  void close();

  bool open() const { return state_ == State::Open; }
  // The longest frame accepted from the peer from now on (frame.h).
  void set_max_frame_length(uint32_t length) { decoder_.set_max_length(length); }
  // Bytes queued but not yet handed to the kernel.
  size_t queued_bytes() const { return queued_.size(); }
  // The same, plus what an unfinished write still holds: all this channel's
  // output that the peer has not taken.
  size_t unsent_bytes() const;

 private:
  enum class State : uint8_t { Open, Draining, Finishing, Closed };
  struct WriteOp;

  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_idle(uv_idle_t* idle);
  static void on_write(uv_write_t* req, int status);
  static void on_timer(uv_timer_t* timer);
  void flush();
  void guarded_flush();  // flush() from a libuv callback
  // Closes now, dropping unsent output (errors, EOF).
  void fail();
  // Ends draining when nothing is left to write.
  void drained_if_done();
  // Schedules the end: handles closed and on_closed called from the timer.
  void finish_soon();

  uv_loop_t* loop_;
  UvHandle<uv_pipe_t> pipe_;
  UvHandle<uv_idle_t> idle_;
  UvHandle<uv_timer_t> timer_;  // the drain bound, then the call to on_closed
  Callbacks callbacks_;
  FrameDecoder decoder_;
  std::string queued_;          // frames not yet handed to the kernel
  WriteOp* writing_ = nullptr;  // the one write in flight, if any
  State state_ = State::Open;
  std::unique_ptr<char[]> read_buffer_;
};

}  // namespace sprites::ipc

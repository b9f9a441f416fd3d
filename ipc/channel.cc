// Channel: frames over one connected uv_pipe_t (see channel.h for the contract).
//
// Owns: the pipe and a uv_idle_t, both heap-allocated and freed in their close
// callbacks (handle->data points at the Channel until then), the read buffer,
// the FrameDecoder, and two output strings that swap roles: `queued_` collects
// frames, `in_flight_` is what the single outstanding uv_write points at. Leaves
// out: what the frames mean (the master's worker link and the worker's master
// link decode messages.h bodies) and reconnection.
//
// Why an idle handle and not a write per send(): a burst of throws arrives in
// one loop turn; the idle callback runs once after that turn's callbacks and
// writes all of it at once (uv_try_write, and a uv_write for whatever the
// socket did not take). At most one write is outstanding, so bytes leave in
// send() order and `in_flight_` stays valid until on_write.
//
// Closing: close() hands anything still queued to a last uv_write (libuv tries
// it at once, so a final frame usually leaves; if the socket is full, uv_close
// cancels the rest), then closes both handles. libuv runs a cancelled write's
// callback before the pipe's close callback, so when the second close callback
// runs nothing refers to the Channel any more and on_closed may delete it.
//
// No exception crosses into libuv: an exception from on_frame is logged and
// closes the channel (the owner could not handle the frame, so it is no longer
// in step with the peer); one from on_closed is logged and swallowed.
//
// Dropped alternative: uv_try_write straight from send(). It saves the idle
// turn for a lone frame but pays one syscall per frame in a burst, which is the
// case the throw path cares about.
#include "ipc/channel.h"

#include <cstdlib>
#include <exception>

#include "common/log.h"

namespace sprites::ipc {
namespace {

constexpr size_t kReadBufferBytes = 64 * 1024;

// After a burst, an output string larger than this is freed rather than kept.
constexpr size_t kRetainedOutputCapacity = 256 * 1024;

uv_stream_t* as_stream(uv_pipe_t* pipe) { return reinterpret_cast<uv_stream_t*>(pipe); }
uv_handle_t* as_handle(uv_pipe_t* pipe) { return reinterpret_cast<uv_handle_t*>(pipe); }
uv_handle_t* as_handle(uv_idle_t* idle) { return reinterpret_cast<uv_handle_t*>(idle); }

void release_if_large(std::string& buffer) {
  if (buffer.capacity() > kRetainedOutputCapacity) std::string().swap(buffer);
}

}  // namespace

Channel::Channel(uv_loop_t* loop, uv_pipe_t* pipe, Callbacks callbacks)
    : loop_(loop),
      pipe_(pipe),
      idle_(new uv_idle_t),
      callbacks_(std::move(callbacks)),
      read_buffer_(new char[kReadBufferBytes]) {
  pipe_->data = this;
  ++handles_open_;
  // uv_idle_init cannot fail on a valid loop; it only fills in the handle.
  uv_idle_init(loop_, idle_);
  idle_->data = this;
  ++handles_open_;
  write_req_.data = this;

  const int rc = uv_read_start(as_stream(pipe_), on_alloc, on_read);
  if (rc != 0) {
    LOG_WARN("ipc: cannot read from channel: %s", uv_strerror(rc));
    close();
  }
}

Channel::~Channel() {
  if (handles_open_ != 0) {
    LOG_ERROR("ipc: Channel destroyed with %d handle(s) still open", handles_open_);
    std::abort();
  }
}

int Channel::fd() const {
  uv_os_fd_t fd = -1;
  if (!pipe_ || uv_fileno(reinterpret_cast<const uv_handle_t*>(pipe_), &fd) != 0) return -1;
  return fd;
}

void Channel::send(FrameType type, uint32_t id, std::string_view body) {
  if (state_ != State::Open) return;
  append_frame(queued_, type, id, body);
  // While a write is in flight, on_write flushes; otherwise the idle callback does.
  if (!writing_ && uv_is_active(as_handle(idle_)) == 0) uv_idle_start(idle_, on_idle);
}

void Channel::close() {
  if (state_ != State::Open) return;
  flush();
  if (state_ != State::Open) return;  // flush failed and already closed us
  state_ = State::Closing;
  queued_.clear();
  uv_close(as_handle(pipe_), on_handle_closed);
  uv_close(as_handle(idle_), on_handle_closed);
}

void Channel::flush() {
  if (state_ != State::Open || writing_ || queued_.empty()) return;
  // Most batches fit the socket buffer: written here, they need no write
  // request, whose callback libuv would defer to a zero-timeout loop turn
  // (one more epoll_wait per batch, measured with perf stat).
  uv_buf_t whole = uv_buf_init(queued_.data(), static_cast<unsigned int>(queued_.size()));
  const int sent = uv_try_write(as_stream(pipe_), &whole, 1);
  if (sent == static_cast<int>(queued_.size())) {
    queued_.clear();
    release_if_large(queued_);
    return;
  }
  if (sent < 0 && sent != UV_EAGAIN) {
    LOG_WARN("ipc: channel write failed: %s", uv_strerror(sent));
    queued_.clear();  // so that close() has nothing left to flush
    close();
    return;
  }
  in_flight_.assign(queued_, sent > 0 ? static_cast<size_t>(sent) : 0);
  queued_.clear();
  uv_buf_t buf = uv_buf_init(in_flight_.data(), static_cast<unsigned int>(in_flight_.size()));
  const int rc = uv_write(&write_req_, as_stream(pipe_), &buf, 1, on_write);
  if (rc != 0) {
    LOG_WARN("ipc: channel write failed: %s", uv_strerror(rc));
    in_flight_.clear();
    close();
    return;
  }
  writing_ = true;
}

void Channel::on_alloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  auto* self = static_cast<Channel*>(handle->data);
  *buf = uv_buf_init(self->read_buffer_.get(), static_cast<unsigned int>(kReadBufferBytes));
}

void Channel::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Channel*>(stream->data);
  if (nread == 0) return;  // EAGAIN: nothing this time
  if (nread < 0) {
    if (nread != UV_EOF) {
      LOG_WARN("ipc: channel read failed: %s", uv_strerror(static_cast<int>(nread)));
    }
    self->close();
    return;
  }
  if (self->state_ != State::Open) return;

  self->decoder_.feed(buf->base, static_cast<size_t>(nread));
  FrameView frame{};
  FrameDecoder::Status status;
  while ((status = self->decoder_.next(frame)) == FrameDecoder::Status::Frame) {
    try {
      if (self->callbacks_.on_frame) self->callbacks_.on_frame(frame);
    } catch (const std::exception& e) {
      LOG_ERROR("ipc: frame handler threw: %s", e.what());
      self->close();
    } catch (...) {
      LOG_ERROR("ipc: frame handler threw a non-standard exception");
      self->close();
    }
    // The owner may have closed the channel from on_frame; the rest is unwanted.
    if (self->state_ != State::Open) return;
  }
  if (status == FrameDecoder::Status::Error) {
    LOG_WARN("ipc: malformed frame from peer, closing channel");
    self->close();
  }
}

void Channel::on_idle(uv_idle_t* idle) {
  auto* self = static_cast<Channel*>(idle->data);
  uv_idle_stop(idle);
  self->flush();
}

void Channel::on_write(uv_write_t* req, int status) {
  auto* self = static_cast<Channel*>(req->data);
  self->writing_ = false;
  self->in_flight_.clear();
  release_if_large(self->in_flight_);
  if (status != 0) {
    // ECANCELED is uv_close discarding the write: expected while closing.
    if (status != UV_ECANCELED) {
      LOG_WARN("ipc: channel write failed: %s", uv_strerror(status));
    }
    self->queued_.clear();  // a broken pipe will not take a retry either
    self->close();
    return;
  }
  self->flush();  // frames queued while this write was in flight
}

void Channel::on_handle_closed(uv_handle_t* handle) {
  auto* self = static_cast<Channel*>(handle->data);
  if (handle == as_handle(self->pipe_)) {
    delete self->pipe_;
    self->pipe_ = nullptr;
  } else {
    delete self->idle_;
    self->idle_ = nullptr;
  }
  if (--self->handles_open_ > 0) return;

  self->state_ = State::Closed;
  release_if_large(self->queued_);
  // Moved out so that the owner may destroy the Channel (and with it callbacks_)
  // while on_closed runs; nothing below touches `self`.
  std::function<void()> on_closed = std::move(self->callbacks_.on_closed);
  if (!on_closed) return;
  try {
    on_closed();
  } catch (const std::exception& e) {
    LOG_ERROR("ipc: channel close handler threw: %s", e.what());
  } catch (...) {
    LOG_ERROR("ipc: channel close handler threw a non-standard exception");
  }
}

}  // namespace sprites::ipc

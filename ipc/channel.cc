// Channel: frames over one connected uv_pipe_t (see channel.h for the contract).
//
// Owns: the pipe, a uv_idle_t (the batching) and a uv_timer_t (the drain
// bound, and the call to on_closed from a callback of its own), all through
// UvHandle; the read buffer; the FrameDecoder; the output buffer `queued_`;
// and at most one write in flight, a heap WriteOp holding its bytes. Leaves
// out: what the frames mean (the master's worker link and the worker's master
// link decode messages.h bodies) and reconnection.
//
// Why an idle handle and not a write per send(): a burst of throws arrives in
// one loop turn; the idle callback runs once after that turn's callbacks and
// writes all of it at once (uv_try_write, and a uv_write for whatever the
// socket did not take). At most one write is outstanding, so bytes leave in
// send() order.
//
// A WriteOp points back at its Channel only while the Channel lives: the
// destructor clears that pointer, so a write that libuv cancels (or finishes)
// after the Channel is gone frees itself and touches nothing else.
//
// No exception crosses into libuv: an exception from on_frame is logged and
// closes the channel (the owner could not handle the frame, so it is no longer
// in step with the peer); one from on_closed is logged and swallowed.
//
// Dropped alternative: uv_try_write straight from send(). It saves the idle
// turn for a lone frame but pays one syscall per frame in a burst, which is the
// case the throw path cares about.
#include "ipc/channel.h"

#include <exception>

#include "common/callback_guard.h"
#include "common/log.h"

namespace sprites::ipc {

struct Channel::WriteOp {
  uv_write_t req{};
  std::string bytes;
  Channel* owner = nullptr;  // cleared when the Channel goes first
};

namespace {

constexpr size_t kReadBufferBytes = 64 * 1024;

// After a burst, an output string larger than this is freed rather than kept.
constexpr size_t kRetainedOutputCapacity = 256 * 1024;

void release_if_large(std::string& buffer) {
  if (buffer.capacity() > kRetainedOutputCapacity) std::string().swap(buffer);
}

}  // namespace

Channel::Channel(uv_loop_t* loop, UvHandle<uv_pipe_t> pipe, Callbacks callbacks)
    : loop_(loop),
      pipe_(std::move(pipe)),
      idle_(make_idle(loop, this)),
      timer_(make_timer(loop, this)),
      callbacks_(std::move(callbacks)),
      read_buffer_(new char[kReadBufferBytes]) {
  pipe_->data = this;
  const int rc = uv_read_start(pipe_.stream(), on_alloc, on_read);
  if (rc != 0) {
    LOG_WARN("ipc: cannot read from channel: %s", uv_strerror(rc));
    fail();
  }
}

Channel::~Channel() {
  if (writing_) writing_->owner = nullptr;
  // The handles close with their owners (UvHandle); libuv frees them later.
}

size_t Channel::unsent_bytes() const { return queued_.size() + (writing_ ? writing_->bytes.size() : 0); }

void Channel::send(FrameType type, uint32_t id, std::string_view body) {
  if (state_ != State::Open) return;
  append_frame(queued_, type, id, body);
  // While a write is in flight, on_write flushes; otherwise the idle callback does.
  if (!writing_ && uv_is_active(idle_.handle()) == 0) uv_idle_start(idle_.get(), on_idle);
}

void Channel::close() {
  if (state_ != State::Open) return;
  state_ = State::Draining;
  uv_read_stop(pipe_.stream());
  uv_idle_stop(idle_.get());
  flush();
  if (state_ != State::Draining) return;  // the flush failed and closed us
  drained_if_done();
  if (state_ == State::Draining) uv_timer_start(timer_.get(), on_timer, kDrainMs, 0);
}

void Channel::fail() {
  if (state_ == State::Finishing || state_ == State::Closed) return;
  queued_.clear();  // a broken pipe will not take the rest either
  finish_soon();
}

void Channel::drained_if_done() {
  if (state_ == State::Draining && !writing_ && queued_.empty()) finish_soon();
}

void Channel::finish_soon() {
  state_ = State::Finishing;
  if (pipe_) uv_read_stop(pipe_.stream());
  uv_idle_stop(idle_.get());
  uv_timer_start(timer_.get(), on_timer, 0, 0);
}

void Channel::flush() {
  if ((state_ != State::Open && state_ != State::Draining) || writing_ || queued_.empty()) return;
  // Most batches fit the socket buffer: written here, they need no write
  // request, whose callback libuv would defer to a zero-timeout loop turn
  // (one more epoll_wait per batch).
  uv_buf_t whole = uv_buf_init(queued_.data(), static_cast<unsigned int>(queued_.size()));
  const int sent = uv_try_write(pipe_.stream(), &whole, 1);
  if (sent == static_cast<int>(queued_.size())) {
    queued_.clear();
    release_if_large(queued_);
    return;
  }
  if (sent < 0 && sent != UV_EAGAIN) {
    LOG_WARN("ipc: channel write failed: %s", uv_strerror(sent));
    fail();
    return;
  }
  auto* op = new WriteOp;
  op->owner = this;
  op->bytes.assign(queued_, sent > 0 ? static_cast<size_t>(sent) : 0);
  queued_.clear();
  uv_buf_t buf = uv_buf_init(op->bytes.data(), static_cast<unsigned int>(op->bytes.size()));
  const int rc = uv_write(&op->req, pipe_.stream(), &buf, 1, on_write);
  if (rc != 0) {
    LOG_WARN("ipc: channel write failed: %s", uv_strerror(rc));
    delete op;
    fail();
    return;
  }
  writing_ = op;
}

void Channel::guarded_flush() {
  // A write buffer that cannot be allocated ends the channel like a failed
  // write.
  if (!guarded("ipc: channel flush", [this] { flush(); })) fail();
}

void Channel::on_alloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  auto* self = static_cast<Channel*>(handle->data);
  *buf = uv_buf_init(self->read_buffer_.get(), static_cast<unsigned int>(kReadBufferBytes));
}

void Channel::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Channel*>(stream->data);
  if (nread == 0) return;  // EAGAIN: nothing this time
  if (nread < 0) {
    if (nread == UV_EOF) {
      self->close();  // the peer is done sending; what it is owed still goes
    } else {
      LOG_WARN("ipc: channel read failed: %s", uv_strerror(static_cast<int>(nread)));
      self->fail();
    }
    return;
  }
  if (self->state_ != State::Open) return;

  self->decoder_.feed(buf->base, static_cast<size_t>(nread));
  FrameView frame{};
  FrameDecoder::Status status;
  while ((status = self->decoder_.next(frame)) == FrameDecoder::Status::Frame) {
    if (!guarded("ipc: frame handler", [&] {
          if (self->callbacks_.on_frame) self->callbacks_.on_frame(frame);
        })) {
      self->close();
    }
    // The owner may have closed the channel from on_frame; the rest is unwanted.
    if (self->state_ != State::Open) return;
  }
  if (status == FrameDecoder::Status::Error) {
    // The peer is out of step; the answers to its frames before the bad one
    // still go.
    LOG_WARN("ipc: malformed frame from peer, closing channel");
    self->close();
  }
}

void Channel::on_idle(uv_idle_t* idle) {
  auto* self = static_cast<Channel*>(idle->data);
  uv_idle_stop(idle);
  self->guarded_flush();
}

void Channel::on_write(uv_write_t* req, int status) {
  auto* op = reinterpret_cast<WriteOp*>(req);
  Channel* self = op->owner;
  delete op;
  if (!self) return;  // the Channel is gone
  self->writing_ = nullptr;
  if (status != 0) {
    // ECANCELED is the close discarding the write: expected while closing.
    if (status != UV_ECANCELED) LOG_WARN("ipc: channel write failed: %s", uv_strerror(status));
    self->fail();
    return;
  }
  self->guarded_flush();  // frames queued while this write was in flight
  self->drained_if_done();
}

void Channel::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<Channel*>(timer->data);
  if (self->state_ == State::Draining) {
    LOG_WARN("ipc: the peer took no more output for %llu ms; closing with %zu bytes unsent",
             static_cast<unsigned long long>(kDrainMs), self->unsent_bytes());
    self->queued_.clear();
    self->finish_soon();
    return;
  }
  if (self->state_ != State::Finishing) return;
  self->state_ = State::Closed;
  // A write still in flight is cancelled by the pipe's close; its WriteOp
  // then finds no owner if the owner drops this Channel in on_closed.
  self->pipe_.close();
  self->idle_.close();
  self->timer_.close();
  self->queued_.clear();
  release_if_large(self->queued_);
  // Moved out so that the owner may destroy the Channel (and with it
  // callbacks_) while on_closed runs; nothing below touches `self`.
  std::function<void()> on_closed = std::move(self->callbacks_.on_closed);
  if (on_closed) guarded("ipc: channel close handler", on_closed);
}

}  // namespace sprites::ipc

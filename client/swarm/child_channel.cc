// See child_channel.h.
#include "client/swarm/child_channel.h"

#include <exception>

#include "common/log.h"

namespace sprites::swarm {
namespace {

struct WriteRequest {
  uv_write_t req;
  std::string bytes;
};

}  // namespace

LineChannel::Ptr LineChannel::for_spawn(uv_loop_t* loop) {
  Ptr c(new LineChannel);
  uv_pipe_init(loop, &c->read_, 0);
  uv_pipe_init(loop, &c->write_, 0);
  c->read_.data = c->write_.data = c.get();
  c->handles_open_ = 2;
  return c;
}

LineChannel::Ptr LineChannel::for_fds(uv_loop_t* loop, int read_fd, int write_fd) {
  Ptr c = for_spawn(loop);
  int a = uv_pipe_open(&c->read_, read_fd);
  int b = uv_pipe_open(&c->write_, write_fd);
  if (a != 0 || b != 0) c->closing_ = true;  // sends are dropped; start() reports the end
  return c;
}

void LineChannel::start(LineHandler on_line, EndHandler on_end) {
  on_line_ = std::move(on_line);
  on_end_ = std::move(on_end);
  int rc = uv_read_start(
      reinterpret_cast<uv_stream_t*>(&read_),
      [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
        buf->base = new char[suggested];
        buf->len = suggested;
      },
      &LineChannel::on_read);
  if (rc != 0 && on_end_ && !ended_) {
    ended_ = true;
    on_end_();
  }
}

void LineChannel::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<LineChannel*>(stream->data);
  std::unique_ptr<char[]> owned(buf->base);
  if (nread == 0) return;
  bool end = nread < 0;
  try {
    if (!end) {
      c->buffer_.append(buf->base, static_cast<size_t>(nread));
      size_t start = 0;
      for (size_t nl; (nl = c->buffer_.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (c->ended_ || c->closing_) break;
        if (c->on_line_) c->on_line_(std::string_view(c->buffer_).substr(start, nl - start));
      }
      c->buffer_.erase(0, start);
      if (c->buffer_.size() > kMaxLine) {
        LOG_ERROR("swarm channel: a line over %zu bytes", kMaxLine);
        end = true;
      }
    }
  } catch (const std::exception& e) {
    LOG_ERROR("swarm channel: a message handler threw: %s", e.what());
    end = true;
  } catch (...) {
    LOG_ERROR("swarm channel: a message handler threw");
    end = true;
  }
  if (end && !c->ended_) {
    c->ended_ = true;
    uv_read_stop(stream);
    if (c->on_end_ && !c->closing_) {
      try {
        c->on_end_();
      } catch (...) {
        LOG_ERROR("swarm channel: the end handler threw");
      }
    }
  }
}

void LineChannel::send(std::string line) {
  if (closing_) return;
  auto* w = new WriteRequest;
  w->bytes = std::move(line);
  w->bytes.push_back('\n');
  w->req.data = this;
  uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&write_), &buf, 1, &LineChannel::on_write) != 0) {
    delete w;
    return;
  }
  ++writes_pending_;
}

void LineChannel::on_write(uv_write_t* req, int) {
  auto* w = reinterpret_cast<WriteRequest*>(req);
  auto* c = static_cast<LineChannel*>(req->data);
  delete w;
  --c->writes_pending_;
  c->maybe_close_handles();
}

void LineChannel::close() {
  // The handlers stay (one may be running now) but are not called again.
  closing_ = true;
  maybe_close_handles();
}

void LineChannel::maybe_close_handles() {
  if (!closing_ || handles_closing_ || writes_pending_ != 0) return;
  handles_closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&read_), &LineChannel::on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&write_), &LineChannel::on_closed);
}

void LineChannel::on_closed(uv_handle_t* handle) {
  auto* c = static_cast<LineChannel*>(handle->data);
  if (--c->handles_open_ == 0) delete c;
}

}  // namespace sprites::swarm

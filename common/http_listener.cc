// See http_listener.h.
#include "common/http_listener.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>

#include "common/callback_guard.h"
#include "common/log.h"

namespace sprites::http {
namespace {

constexpr size_t kReadBufferBytes = 64 * 1024;

uint64_t now_ms(uv_loop_t* loop) { return uv_now(loop); }

}  // namespace

uv_buf_t lend_read_buffer() {
  static char* buffer = new char[kReadBufferBytes];
  return uv_buf_init(buffer, kReadBufferBytes);
}

HttpListener::HttpListener(uv_loop_t* loop, HttpService& service, HttpLimits limits)
    : loop_(loop), service_(service), limits_(limits) {
  idle_.timeout_ms = limits_.idle_timeout_ms;
  receiving_.timeout_ms = limits_.request_timeout_ms;
  lingering_.timeout_ms = limits_.linger_ms;
  sweep_ = make_timer(loop_, this);
  uv_timer_start(sweep_.get(), &HttpListener::on_sweep, kSweepMs, kSweepMs);
  uv_unref(sweep_.handle());  // never keeps the loop alive by itself
}

HttpListener::~HttpListener() {
  // Connections still open (or closing) are closed and orphaned: their close
  // callbacks free them without coming back here. Handles close with their
  // owners.
  close_all();
  for (HttpConnection* c : slots_) {
    if (c) c->state_ = HttpConnection::State::Orphaned;
  }
}

void HttpListener::close() {
  stop_accepting();
  close_all();
  sweep_.close();
}

int HttpListener::adopt(int fd) {
  server_ = UvHandle<uv_tcp_t>::allocate();
  uv_tcp_init(loop_, server_.get());
  server_->data = this;
  int rc = uv_tcp_open(server_.get(), fd);
  if (rc != 0) return rc;
  return start_listening();
}

int HttpListener::bind(const std::string& host, uint16_t port, bool reuseport) {
  sockaddr_storage addr{};
  int rc;
  bool v6 = host.find(':') != std::string::npos;
  if (v6) {
    rc = uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr));
  } else {
    rc = uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr));
  }
  if (rc != 0) return rc;
  auto server = UvHandle<uv_tcp_t>::allocate();
  rc = uv_tcp_init_ex(loop_, server.get(), v6 ? AF_INET6 : AF_INET);
  if (rc != 0) {
    delete server.release();  // never initialised: nothing for libuv to close
    return rc;
  }
  server_ = std::move(server);
  server_->data = this;
  if (reuseport) {
    uv_os_fd_t fd;
    uv_fileno(server_.handle(), &fd);
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) return uv_translate_sys_error(errno);
  }
  rc = uv_tcp_bind(server_.get(), reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc != 0) return rc;
  return start_listening();
}

int HttpListener::start_listening() {
  return uv_listen(server_.stream(), kBacklog, &HttpListener::on_connection);
}

uint16_t HttpListener::port() const {
  if (!server_) return 0;
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getsockname(server_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

std::unique_ptr<HttpConnection::Incoming> HttpListener::take_request() {
  if (request_pool_.empty()) return std::make_unique<HttpConnection::Incoming>();
  std::unique_ptr<HttpConnection::Incoming> r = std::move(request_pool_.back());
  request_pool_.pop_back();
  return r;
}

void HttpListener::recycle_request(std::unique_ptr<HttpConnection::Incoming> r) {
  if (!r || request_pool_.size() >= kPooledRequests || r->body.capacity() > kKeptRequestBodyCapacity) return;
  r->reset();
  request_pool_.push_back(std::move(r));
}

HttpConnection* HttpListener::find(uint64_t serial) const {
  const uint32_t slot = slot_of(serial);
  if (slot >= slots_.size()) return nullptr;
  HttpConnection* conn = slots_[slot];
  return conn && conn->serial() == serial ? conn : nullptr;
}

void HttpListener::on_connection(uv_stream_t* server, int status) {
  guarded("http listener: on_connection", [&] {
    auto* self = static_cast<HttpListener*>(server->data);
    if (status < 0) {
      uint64_t now = now_ms(self->loop_);
      if (now - self->last_accept_error_log_ms_ >= 1000) {
        self->last_accept_error_log_ms_ = now;
        LOG_WARN("accept failed: %s (%zu connections open)", uv_strerror(status), self->connections_);
      }
      return;
    }
    uint32_t slot;
    if (self->free_slots_.empty()) {
      slot = static_cast<uint32_t>(self->slots_.size());
      self->slots_.push_back(nullptr);
    } else {
      slot = self->free_slots_.back();
      self->free_slots_.pop_back();
    }
    auto* conn = new HttpConnection(*self, self->next_generation_++ << 32 | slot);  // see slot_of()
    uv_tcp_init(self->loop_, conn->handle());
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(conn->handle())) != 0) {
      // Never registered: free it without telling the service or the lists.
      conn->state_ = HttpConnection::State::Closed;
      self->free_slots_.push_back(slot);
      uv_close(reinterpret_cast<uv_handle_t*>(conn->handle()),
               [](uv_handle_t* h) { delete static_cast<HttpConnection*>(h->data); });
      return;
    }
    self->slots_[slot] = conn;
    ++self->connections_;
    conn->start();
  });
}

void HttpListener::forget(HttpConnection* conn) {
  const uint32_t slot = slot_of(conn->serial());
  if (slot < slots_.size() && slots_[slot] == conn) {
    slots_[slot] = nullptr;
    free_slots_.push_back(slot);
  }
  --connections_;
}

namespace {
HttpConnection* owner_of(TimeoutHook* h) {
  return static_cast<HttpConnection*>(h->owner);
}
}  // namespace

void HttpListener::on_sweep(uv_timer_t* timer) {
  guarded("http listener: on_sweep", [&] {
    auto* self = static_cast<HttpListener*>(timer->data);
    uint64_t now = now_ms(self->loop_);
    while (TimeoutHook* h = self->lingering_.pop_expired(now)) owner_of(h)->close();
    while (TimeoutHook* h = self->idle_.pop_expired(now)) owner_of(h)->close();
    while (TimeoutHook* h = self->receiving_.pop_expired(now)) {
      owner_of(h)->fail(408, "request_timeout", "the request was not received in time");
    }
  });
}

void HttpListener::stop_accepting() { server_.close(); }

void HttpListener::close_all() {
  std::vector<HttpConnection*> open;
  for (HttpConnection* c : slots_) {
    if (c) open.push_back(c);
  }
  for (HttpConnection* c : open) c->close();
}

}  // namespace sprites::http

// HttpListener: a listening TCP socket and the HttpConnections it accepted.
//
// It owns what all connections of one port share: the service, the limits, the
// read buffer lent to every read (reads are consumed synchronously by llhttp, so
// one buffer per process serves every connection), the timeouts (three FIFO
// queues: idle, receiving a request, lingering, swept by one coarse timer), the
// buffer every answer is built in, and a small pool of request objects. The
// last two make an answered request cost no allocation once warm: most answers
// leave in the write that offers them, and only what the socket refuses is
// copied into a write request. The socket is either bound here or adopted from
// the supervisor (--master-fd/--worker-fd), so port 0 resolves once for the
// whole relay and a restarted process keeps the port without dropping queued
// SYNs.
//
// TLS: with a context set (set_tls), every connection accepted from then on
// speaks TLS with it (common/tls.h); a new context (the worker reloads its
// certificate on SIGHUP) serves new connections while the open ones keep
// theirs.
//
// Accepting on a full fd table: libuv keeps a spare descriptor and, on EMFILE,
// accepts and closes the pending connections instead of spinning; we only log
// (at most once a second).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/http_connection.h"
#include "common/kept_buffer.h"
#include "common/tls.h"
#include "common/uv_handle.h"
#include "common/timeout_queue.h"

namespace sprites::http {

class HttpListener {
 public:
  HttpListener(uv_loop_t* loop, HttpService& service, HttpLimits limits);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Takes over a socket that is already bound (and maybe listening). Returns 0
  // or a libuv error code.
  int adopt(int fd);
  // Binds host:port with SO_REUSEADDR (and SO_REUSEPORT when asked) and listens.
  int bind(const std::string& host, uint16_t port, bool reuseport);

  uint16_t port() const;
  size_t connection_count() const { return connections_; }
  // The connection with this serial, or nullptr once it has closed: services
  // keep serials, not pointers, across loop turns (the worker does, to answer a
  // throw when the master acknowledges it). O(1): a serial names its slot.
  HttpConnection* find(uint64_t serial) const;

  // Stops accepting; established connections stay.
  void stop_accepting();
  // Closes every connection now.
  void close_all();
  // Stops accepting, closes every connection and the sweep timer. Destroying
  // the listener does the same (connections still closing are let go).
  void close();

  // Connections accepted from now on speak TLS with `context` (null: plain).
  void set_tls(std::shared_ptr<const tls::TlsContext> context) { tls_ = std::move(context); }

  uv_loop_t* loop() const { return loop_; }
  HttpService& service() { return service_; }
  const HttpLimits& limits() const { return limits_; }

 private:
  friend class HttpConnection;
  static constexpr int kBacklog = 65535;  // the kernel clamps it to net.core.somaxconn
  static constexpr uint64_t kSweepMs = 250;
  // Most requests arrive whole in one read, so few are ever being received at
  // once; the pool keeps 16, each with a body of at most 16 KiB (the default
  // body limit): at most ~400 KiB per listener, header limits included.
  static constexpr size_t kPooledRequests = 16;
  static constexpr size_t kKeptRequestBodyCapacity = 16 * 1024;

  static void on_connection(uv_stream_t* server, int status);
  static void on_sweep(uv_timer_t* timer);
  int start_listening();
  void forget(HttpConnection* conn);
  // Requests being received come from a small pool (kPooledRequests): a
  // recycled one keeps the capacity of its target, Authorization and body
  // strings, so a request costs no allocation once the pool is warm.
  std::unique_ptr<HttpConnection::Incoming> take_request();
  void recycle_request(std::unique_ptr<HttpConnection::Incoming> request);

  uv_loop_t* loop_;
  HttpService& service_;
  HttpLimits limits_;
  UvHandle<uv_tcp_t> server_;
  UvHandle<uv_timer_t> sweep_;
  uint64_t next_generation_ = 1;  // upper 32 bits of the next serial
  size_t connections_ = 0;
  uint64_t last_accept_error_log_ms_ = 0;
  // A serial is generation << 32 | slot: the slot finds the connection, the
  // generation tells it from an earlier one in the same slot.
  static uint32_t slot_of(uint64_t serial) { return static_cast<uint32_t>(serial); }
  // Open connections by slot; freed slots are reused.
  std::vector<HttpConnection*> slots_;
  std::vector<uint32_t> free_slots_;
  TimeoutQueue idle_;
  TimeoutQueue receiving_;
  TimeoutQueue lingering_;
  // Every answer is built here before the socket is offered it (most answers
  // leave at once, so they cost no allocation).
  KeptBuffer answer_buffer_{64 * 1024};
  std::vector<std::unique_ptr<HttpConnection::Incoming>> request_pool_;
  std::shared_ptr<const tls::TlsContext> tls_;
};

// The buffer every read lands in (see the file comment).
uv_buf_t lend_read_buffer();

}  // namespace sprites::http

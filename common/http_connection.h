// HttpConnection: one accepted TCP connection speaking HTTP/1.1 server-side,
// shared by the master port and the worker port.
//
// It owns framing, not meaning: llhttp parses, the connection bounds what it
// takes in (header block bytes and fields, body bytes, requests in flight),
// hands each complete request to an HttpService, and writes the answers back
// in request order even when the service answers them out of order (a parked
// long-poll followed by a pipelined request, or throws acknowledged by the
// master in any order); a pipelined request with `Expect: 100-continue` gets
// its 100 Continue when the answers before it have been written. It also
// bounds what it holds for a peer that does not read: while more than
// max_queued_bytes of answers wait for the socket, it reads no further
// request (at most that plus the answers to the requests in flight are held:
// one answer when the service answers at once).
//
// Cost while idle (a held long-poll is idle): the uv_tcp_t, the llhttp_t and a
// few words. There is no per-connection read buffer (the listener lends one
// shared buffer to every read; a request split across reads is kept by llhttp's
// own state plus the partial HttpRequest, which exists only while a request is
// being received) and no per-connection timer.
//
// Errors: a request llhttp cannot parse gets 400 bad_request and a close; a
// header block over the limits (its bytes as sent, whitespace and line ends
// included, or its number of fields) gets 431 headers_too_large; a body over
// the limit gets 413 too_large; a request not received whole within the
// request timeout gets 408 request_timeout. A connection with nothing owed
// and nothing being received is closed after the idle timeout (a held
// long-poll is owed an answer, so it is never idle). An answer sent before
// the request body was read (an early answer from HttpService::on_headers) is
// followed by a close, as is any response to a request with
// `Connection: close` or HTTP/1.0. Closing is
// "lingering": once the last answer has left, the write side is shut down and
// input is drained for a short while (linger_ms from the FIN), so the peer
// reads the answer instead of a reset; until then a slow reader is bounded by
// the idle timeout, as on an open connection.
//
// TLS: on a port with a TLS context the connection holds a TlsStream
// (common/tls.h) between the socket and llhttp: reads are decrypted before
// they are parsed, answers encrypted as they are written, and close_notify
// precedes the FIN. The stream is the only thing TLS adds to a connection; a
// plain connection pays one null pointer. A peer that speaks plain HTTP to a
// TLS port is answered, in plain HTTP, 400 tls_required. The handshake must
// be done within the request timeout (the connection sits in the receiving
// queue until it is), and one that is not is closed without an answer.
//
// Lifetime: created by HttpListener on accept, freed in the uv_close callback.
// Services refer to a connection across loop turns only through its serial()
// (see HttpListener::find) or by clearing their pointer in on_close.
#pragma once

#include <llhttp.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_request.h"
#include "common/timeout_queue.h"
#include "common/tls.h"

namespace sprites::http {

class HttpConnection;
class HttpListener;

// An early answer, given before the body is read.
struct EarlyResponse {
  uint16_t status;
  std::string body;  // JSON
  std::string extra_headers;
};

// What a port does with requests; implemented by the master's API and the
// worker's throw intake.
class HttpService {
 public:
  virtual ~HttpService() = default;
  // Headers are complete, the body (if any) not yet read. Returning a response
  // answers the request now (followed by a close if a body was on its way);
  // nullopt goes on to read the body. Also where `Expect: 100-continue` is
  // decided: 100 Continue is sent only when this returns nullopt.
  virtual std::optional<EarlyResponse> on_headers(HttpConnection& conn, const HttpRequest& req) = 0;
  // The whole request. The service must answer it exactly once with
  // conn.respond(slot, ...), now or in a later loop turn.
  virtual void on_request(HttpConnection& conn, HttpRequest& req, uint32_t slot) = 0;
  // The connection is going away: forget every reference to it. Answers given
  // for its slots after this are ignored.
  virtual void on_close(HttpConnection& conn) = 0;
  // The connection answered a request by itself (400 unparseable, 413 body
  // over the limit while it streamed, 431 headers too large). `req` is the
  // request as far as it was read, or nullptr when none had begun.
  virtual void on_refused(const HttpRequest* req, uint16_t status) {
    (void)req;
    (void)status;
  }
};

struct HttpLimits {
  // The whole header block as sent: request line, header lines, line ends and
  // whitespace (trailers of a chunked body count too).
  size_t max_header_bytes = 8192;
  uint32_t max_headers = 100;       // header fields (trailers included)
  size_t max_body_bytes = 16384;    // decoded body
  uint32_t max_in_flight = 32;      // pipelined requests answered-not-yet-written
  // Answer bytes not yet taken by the socket (libuv's write queue plus answers
  // waiting for an earlier one) above which no further request is read.
  size_t max_queued_bytes = 64 * 1024;
  uint64_t request_timeout_ms = 10000;  // from a request's first byte to its last; 0 = none
  uint64_t idle_timeout_ms = 60000;     // nothing received and nothing owed; 0 = none
  uint64_t linger_ms = 2000;            // draining input after the FIN that follows the last answer
};

class HttpConnection {
 public:
  HttpConnection(HttpListener& listener, uint64_t serial);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Answers request `slot`. Ignored once the connection is closing.
  void respond(uint32_t slot, uint16_t status, std::string_view content_type, std::string_view body,
               std::string_view extra_headers = {});
  void respond_json(uint32_t slot, uint16_t status, std::string_view body) {
    respond(slot, status, kJsonType, body);
  }
  void respond_error(uint32_t slot, uint16_t status, std::string_view code, std::string_view message,
                     std::string_view extra_headers = {});

  // Closes at once (pending answers are dropped). Idempotent.
  void close();

  uint64_t serial() const { return serial_; }
  // The peer's address (the master limits joins per source address), asked
  // of the kernel when needed rather than kept: no connection pays for it.
  // False once the socket has no peer.
  bool peer_address(sockaddr_storage& out) const;
  bool closing() const { return state_ != State::Open; }
  // For the service: e.g. the master keeps the node whose poll is parked here.
  void* user = nullptr;

  // libuv plumbing, used by HttpListener.
  uv_tcp_t* handle() { return &tcp_; }
  void start();

 private:
  static constexpr std::string_view kJsonType = "application/json";
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  // Orphaned: closed by a listener that is going away; its close callback
  // frees it without telling the listener.
  enum class State : uint8_t { Open, Lingering, Closed, Orphaned };

  struct Ready {  // an answer written out of order, waiting for earlier slots
    uint32_t slot;
    std::string bytes;
  };

  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_shutdown(uv_shutdown_t* req, int status);
  static void on_closed(uv_handle_t* handle);

  static int on_message_begin(llhttp_t* p);
  static int on_method(llhttp_t* p, const char* at, size_t len);
  static int on_url(llhttp_t* p, const char* at, size_t len);
  static int on_version(llhttp_t* p, const char* at, size_t len);
  static int on_header_field(llhttp_t* p, const char* at, size_t len);
  static int on_header_value(llhttp_t* p, const char* at, size_t len);
  static int on_header_value_complete(llhttp_t* p);
  static int on_headers_complete(llhttp_t* p);
  static int on_chunk_header(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, size_t len);
  static int on_message_complete(llhttp_t* p);
  static const llhttp_settings_t* settings();

  static void tls_send(void* owner, std::string_view ciphertext);
  static bool tls_deliver(void* owner, std::string_view plaintext);
  tls::TlsIo tls_io() { return tls::TlsIo{this, &HttpConnection::tls_send, &HttpConnection::tls_deliver}; }
  void read_tls(std::string_view ciphertext);
  void take_input(const char* data, size_t size);  // plaintext, as read or decrypted
  void on_peer_eof();
  void write_raw(std::string_view bytes);
  void parse(const char* data, size_t size);
  void fail(uint16_t status, std::string_view code, std::string_view message);
  void write_bytes(std::string_view bytes);
  void deliver(uint32_t slot, std::string_view bytes);
  void after_writes();
  void begin_linger();
  void resume_if_possible();
  bool over_limits() const;     // the in-flight or queued-bytes limit is reached
  int count_header(const char* at, size_t len);
  void count_header_rest(const char* end);

  HttpListener& listener_;
  uint64_t serial_;
  uv_tcp_t tcp_{};
  llhttp_t parser_{};
  State state_ = State::Open;
  bool reading_ = false;
  bool paused_ = false;         // parser paused: in-flight or queued-bytes limit, or stop
  bool stop_parsing_ = false;   // nothing after the current request will be read
  bool peer_done_ = false;      // the peer's EOF came while answers were being written
  bool in_parse_ = false;
  bool skip_dispatch_ = false;  // current request was answered early
  bool fin_sent_ = false;       // close_notify (TLS) and the FIN are on their way
  uint32_t next_slot_ = 0;      // slot of the next request parsed
  uint32_t write_slot_ = 0;     // slot whose answer goes out next
  uint32_t writes_pending_ = 0;
  // The request being received, with the parse state only it needs.
  struct Incoming : HttpRequest {
    std::string header_name;  // a header name split across reads
    std::string expect;       // the Expect header's value while it is read
    // Header block accounting. `mark` is the first byte of the current read
    // not counted yet (null until the request's first byte is seen); bytes up
    // to the end of each span, and the rest of each read while the header
    // block (or the trailers) is being received, are added to header_bytes.
    const char* mark = nullptr;
    size_t header_bytes = 0;
    uint32_t header_fields = 0;
    uint8_t header_state = 0;     // which header the current value belongs to
    bool in_header_block = true;  // false from the end of the headers to the trailers
    void reset() {
      HttpRequest::reset();
      header_name.clear();
      expect.clear();
      mark = nullptr;
      header_bytes = 0;
      header_fields = 0;
      header_state = 0;
      in_header_block = true;
    }
  };
  // What only a pipelining, HEAD-sending or paused client needs: allocated on
  // first use and freed once empty, so a held poll does not carry it.
  struct Backlog {
    std::vector<Ready> ready;            // answers that came out of order
    std::vector<uint32_t> head_slots;    // slots of HEAD requests not yet answered
    std::string stash;                   // unparsed input while paused
    // A request that asked for 100 Continue while answers before it were
    // still owed: the 100 goes out when its turn comes (deliver), unless its
    // body came meanwhile.
    uint32_t continue_slot = kNoSlot;
  };
  Backlog& backlog();
  void trim_backlog();
  std::unique_ptr<Incoming> request_;  // only while a request is being received
  std::unique_ptr<Backlog> backlog_;
  std::unique_ptr<tls::TlsStream> tls_;  // only on a TLS port
  bool answers_head(uint32_t slot);    // true (once) when `slot` was a HEAD request
  friend class HttpListener;
  uint32_t current_slot_ = 0;   // slot of the request being received
  uint32_t close_slot_ = kNoSlot;  // the answer after which the connection closes
  TimeoutHook timeout_;         // in the listener's idle, receiving or lingering queue
  void settle();                // enters the idle queue when nothing is owed or being received
};

}  // namespace sprites::http

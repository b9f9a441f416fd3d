// Fuzzes the HTTP request path both ports share (HttpListener + HttpConnection
// over llhttp) through a real socket: whatever bytes a client sends, the server
// must answer with well-formed HTTP/1.1 responses in request order, never
// crash, never leak, and leave the loop clean once the connection is gone.
//
// Set-up, once per process: a libuv loop, an HttpListener on 127.0.0.1 port 0
// with small limits (so 413, 431 for header bytes and for header fields, the
// in-flight pause and the queued-bytes pause are within reach of a few KiB of
// input) and FuzzService, a test HttpService that answers some
// requests at once, some on a later loop turn (latest first, so answers reach
// the connection out of order), some before the body (early answers), one with
// a body large enough to need queued writes, and sometimes closes the
// connection instead of answering. The path of each request picks its fate
// (/now, /later, /early, /big, /close), otherwise a per-input default does.
//
// Per input: 9 control bytes, then the bytes to send.
//   byte 0   bits 0-2: 0-4 = cut the bytes at that many of the positions below;
//                      5, 6, 7 = dribble them in pieces of 1, 2 or 7 bytes
//            bit 3:    half-close as soon as everything is written (else only
//                      once every answer the service gave has arrived)
//            bits 4-5: default fate: now, later, alternating, mixed
//   bytes 1-8: four u16 cut positions, as fractions of the bytes to send
// A client socket on the same loop writes one piece per loop turn (from a
// uv_check, so the server reads each piece before the next is sent), then
// shuts down its write side and reads until the server closes. The loop runs
// until the client is closed, the server's connection is freed and the service
// owes nothing; a watchdog turns a hang into an abort after kWatchdogMs.
//
// Checks, besides ASan/UBSan/LSan:
// - client side, with llhttp in response mode: every response parses; it is
//   HTTP/1.1; final responses carry Access-Control-Allow-Origin and (except
//   204/304) Content-Length; the k-th final response is the service's answer
//   to slot k byte for byte (status and body), or else a 400/408/413/431 error of
//   the connection that says `Connection: close`; `Connection: close` appears
//   exactly when the request asked for it, an early answer left a body
//   unread, or the connection refused the request; 100 Continue comes only
//   for a request that asked for it, has a body and got no early answer; a
//   response to HEAD (a refusal included) has no body; the stream
//   does not end inside a response (unless the client half-closed early or the
//   service closed the connection, which drop answers by design).
// - service side: slots count up from 0 in on_headers order; on_request gets
//   the slot of the latest on_headers and never one answered early; nothing
//   arrives after a request without keep-alive or after an early answer with a
//   body; bodies respect Content-Length and the body limit; on_close comes
//   exactly once per connection and nothing comes after it.
// - loop: after each input only the harness's own handles are left (the
//   listener's socket the only active one) and no request is pending; at exit
//   everything is closed and uv_loop_close() returns 0.
//
// Dropped alternatives: a loop and listener per input, which would close the
// loop after every input but rebind a port each time (ports in TIME_WAIT run
// out within a minute of fuzzing); a socketpair instead of TCP, which is not
// what HttpListener accepts; feeding HttpConnection without sockets, which
// would skip the read, write, shutdown and linger paths the fuzzer is for.
#include <llhttp.h>
#include <sys/socket.h>
#include <uv.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/http_connection.h"
#include "common/http_listener.h"
#include "common/http_request.h"
#include "common/http_response.h"

namespace {

using sprites::http::EarlyResponse;
using sprites::http::error_body;
using sprites::http::HttpConnection;
using sprites::http::HttpLimits;
using sprites::http::HttpListener;
using sprites::http::HttpRequest;
using sprites::http::HttpService;
using sprites::http::Method;

constexpr size_t kControlBytes = 9;
constexpr uint64_t kWatchdogMs = 5000;
// Loopback sockets absorb megabytes (send buffers autotune up to tcp_wmem), so
// the server's connection gets a small send buffer and the client a small
// receive buffer: then a big answer no longer fits one uv_try_write and takes
// the queued-write path, as it would towards a slow reader.
constexpr size_t kBigBodyBytes = 64 * 1024;
constexpr int kSocketBuffer = 4096;
constexpr HttpLimits kLimits{.max_header_bytes = 1024,
                             .max_headers = 8,
                             .max_body_bytes = 1024,
                             .max_in_flight = 4,
                             .max_queued_bytes = 4096};

[[noreturn]] void fail(const std::string& what);

#define CHECK(cond)                                  \
  do {                                               \
    if (!(cond)) fail("check failed: " #cond);       \
  } while (0)

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// ---- the service ------------------------------------------------------------

enum class Fate : uint8_t { Now, Later, Early, Big, Close };

// What happened to one request (one slot) on the connection under test.
struct SlotRecord {
  Method method = Method::Other;
  bool keep_alive = true;
  bool has_body = false;
  bool expect_continue = false;
  bool early = false;      // answered from on_headers
  bool dispatched = false;  // on_request ran
  bool answered = false;
  uint16_t status = 0;
  std::string body;
};

struct ConnRecord {
  std::vector<SlotRecord> slots;  // index = slot, in on_headers order
  int closes = 0;
  bool closed_by_service = false;
  bool finished = false;  // no more requests may arrive (close promised)
};

class FuzzService final : public HttpService {
 public:
  explicit FuzzService(uv_loop_t* loop) {
    uv_timer_init(loop, &timer_);
    timer_.data = this;
  }

  HttpListener* listener = nullptr;
  uint8_t default_mode = 0;        // bits 4-5 of the control byte
  std::map<uint64_t, ConnRecord> conns;  // connections of the current input

  uv_handle_t* timer_handle() { return reinterpret_cast<uv_handle_t*>(&timer_); }
  bool owes_nothing() const { return deferred_.empty(); }
  // Answers given so far on the input's connection (early ones included).
  size_t answered() const {
    size_t n = 0;
    for (const auto& [serial, conn] : conns) {
      for (const SlotRecord& s : conn.slots) n += s.answered;
    }
    return n;
  }

  std::optional<EarlyResponse> on_headers(HttpConnection& conn, const HttpRequest& req) override {
    ConnRecord& c = live(conn);
    if (c.finished) fail("on_headers after a request that ended the connection");
    CHECK(req.target.size() <= kLimits.max_header_bytes);
    CHECK(req.authorization.size() <= kLimits.max_header_bytes);
    CHECK(req.has_authorization || req.authorization.empty());
    if (req.has_content_length && req.content_length > 0) CHECK(req.has_body);
    if (!req.has_content_length) CHECK(req.content_length == 0);
    CHECK(req.body.empty());
    SlotRecord s;
    s.method = req.method;
    s.keep_alive = req.keep_alive;
    s.has_body = req.has_body;
    s.expect_continue = req.expect_continue;
    if (!req.keep_alive) c.finished = true;
    const uint32_t slot = static_cast<uint32_t>(c.slots.size());
    c.slots.push_back(s);

    std::optional<EarlyResponse> early;
    if (req.has_content_length && req.content_length > kLimits.max_body_bytes) {
      // What both real services do with a declared body over the limit.
      early = EarlyResponse{413, error_body("too_large", "the request body exceeds the limit"), {}};
    } else if (fate(req, slot) == Fate::Early) {
      early = EarlyResponse{401, error_body("unauthorized", "slot " + std::to_string(slot)),
                            "WWW-Authenticate: Bearer\r\n"};
    }
    if (early) {
      SlotRecord& r = c.slots.back();
      r.early = r.answered = true;
      r.status = early->status;
      r.body = early->body;
      if (req.has_body) c.finished = true;
    }
    return early;
  }

  void on_request(HttpConnection& conn, HttpRequest& req, uint32_t slot) override {
    ConnRecord& c = live(conn);
    CHECK(!c.slots.empty() && slot == c.slots.size() - 1);
    SlotRecord& s = c.slots[slot];
    CHECK(!s.early && !s.dispatched);
    s.dispatched = true;
    CHECK(req.body.size() <= kLimits.max_body_bytes);
    if (req.has_content_length) CHECK(req.body.size() == req.content_length);
    if (!req.has_body) CHECK(req.body.empty());
    CHECK(req.keep_alive == s.keep_alive && req.has_body == s.has_body);

    switch (fate(req, slot)) {
      case Fate::Now:
      case Fate::Early:  // not reached: answered in on_headers
        answer(conn, c, slot, req);
        break;
      case Fate::Big:
        answer(conn, c, slot, req, /*big=*/true);
        break;
      case Fate::Later:
        deferred_.push_back(Owed{conn.serial(), slot, req.target.size(), req.body.size()});
        uv_timer_start(&timer_, &FuzzService::on_timer, 0, 0);
        break;
      case Fate::Close:
        c.closed_by_service = true;
        conn.close();
        conn.close();  // idempotent
        break;
    }
  }

  void on_close(HttpConnection& conn) override {
    ConnRecord& c = conns[conn.serial()];
    if (++c.closes != 1) fail("on_close twice for one connection");
    std::erase_if(deferred_, [&](const Owed& o) { return o.serial == conn.serial(); });
  }

  void on_refused(const HttpRequest* req, uint16_t status) override {
    CHECK(status == 400 || status == 408 || status == 413 || status == 431);
    if (req) CHECK(req->body.size() <= kLimits.max_body_bytes);
    refused_.push_back(status);
  }

  // Refusals are reported without the connection; the input has one.
  std::vector<uint16_t> take_refused() { return std::exchange(refused_, {}); }

 private:
  struct Owed {
    uint64_t serial;
    uint32_t slot;
    size_t target_size;
    size_t body_size;
  };

  ConnRecord& live(HttpConnection& conn) {
    auto [it, first] = conns.try_emplace(conn.serial());
    ConnRecord& c = it->second;
    if (c.closes != 0) fail("a callback for a connection after its on_close");
    CHECK(!conn.closing());
    if (first) {
      // Nothing but 400/431 can have been written before the first on_headers.
      int send_buffer = kSocketBuffer;
      uv_send_buffer_size(reinterpret_cast<uv_handle_t*>(conn.handle()), &send_buffer);
    }
    return c;
  }

  Fate fate(const HttpRequest& req, uint32_t slot) const {
    std::string_view path = req.path();
    if (starts_with(path, "/now")) return Fate::Now;
    if (starts_with(path, "/later")) return Fate::Later;
    if (starts_with(path, "/early")) return Fate::Early;
    if (starts_with(path, "/big")) return Fate::Big;
    if (starts_with(path, "/close")) return Fate::Close;
    switch (default_mode) {
      case 0: return Fate::Now;
      case 1: return Fate::Later;
      case 2: return slot % 2 == 0 ? Fate::Now : Fate::Later;
      default: {
        static constexpr Fate kMixed[] = {Fate::Now, Fate::Later, Fate::Early};
        return kMixed[slot % 3];
      }
    }
  }

  void answer(HttpConnection& conn, ConnRecord& c, uint32_t slot, const HttpRequest& req, bool big = false) {
    answer(conn, c, slot, req.target.size(), req.body.size(), big);
  }

  // Status and body follow from the request, so each answer is recognisable.
  void answer(HttpConnection& conn, ConnRecord& c, uint32_t slot, size_t target_size, size_t body_size,
              bool big = false) {
    static constexpr uint16_t kStatuses[] = {200, 201, 202, 204, 404, 429, 503};
    SlotRecord& s = c.slots.at(slot);
    CHECK(!s.answered);
    // An answer after on_close is ignored by the connection, so not awaited.
    s.answered = c.closes == 0;
    s.status = big ? 200 : kStatuses[target_size % 7];
    if (s.status == 204) {
      conn.respond(slot, 204, {}, {}, "Access-Control-Max-Age: 86400\r\n");
      return;
    }
    s.body = "{\"slot\":" + std::to_string(slot) + ",\"body_bytes\":" + std::to_string(body_size);
    if (big) s.body += ",\"pad\":\"" + std::string(kBigBodyBytes, 'x') + "\"";
    s.body += "}";
    conn.respond(slot, s.status, sprites::http::kJson, s.body, s.status == 503 ? "Retry-After: 1\r\n" : "");
  }

  static void on_timer(uv_timer_t* timer) {
    auto* self = static_cast<FuzzService*>(timer->data);
    std::vector<Owed> due = std::exchange(self->deferred_, {});
    for (auto it = due.rbegin(); it != due.rend(); ++it) {  // latest first
      HttpConnection* conn = self->listener->find(it->serial);
      CHECK(conn != nullptr);  // on_close dropped the answers of closed connections
      self->answer(*conn, self->conns[it->serial], it->slot, it->target_size, it->body_size);
    }
  }

  uv_timer_t timer_{};
  std::vector<Owed> deferred_;
  std::vector<uint16_t> refused_;
};

// ---- the client -------------------------------------------------------------

struct Response {
  int status = 0;
  bool close = false;
  bool has_length = false;
  bool allow_origin = false;
  std::string content_type;
  size_t headers = 0;
  std::string body;
};

class Client {
 public:
  Client(uv_loop_t* loop, uint16_t port, std::vector<std::string_view> pieces, bool early_half_close,
         FuzzService& service)
      : pieces_(std::move(pieces)), early_half_close_(early_half_close), service_(service) {
    uv_tcp_init_ex(loop, &tcp_, AF_INET);
    tcp_.data = this;
    // Set before connecting, so the window the server sees is small too.
    int receive_buffer = kSocketBuffer;
    uv_recv_buffer_size(reinterpret_cast<uv_handle_t*>(&tcp_), &receive_buffer);
    llhttp_settings_init(&settings_);
    settings_.on_message_begin = &Client::on_message_begin;
    settings_.on_header_field = &Client::on_header_field;
    settings_.on_header_value = &Client::on_header_value;
    settings_.on_header_value_complete = &Client::on_header_value_complete;
    settings_.on_headers_complete = &Client::on_headers_complete;
    settings_.on_body = &Client::on_body;
    settings_.on_message_complete = &Client::on_message_complete;
    llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
    parser_.data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", port, &addr);
    connect_.data = this;
    if (uv_tcp_connect(&connect_, &tcp_, reinterpret_cast<const sockaddr*>(&addr), &Client::on_connect) != 0) {
      fail("uv_tcp_connect failed");
    }
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool closed() const { return closed_; }
  int refusal() const { return refusal_; }
  bool waiting_to_write() const { return connected_ && !closing_ && !shut_; }

  // Called once per loop turn after the poll phase: the server has read what
  // the last turn sent, so the next piece arrives in a read of its own.
  void pump() {
    if (!connected_ || closing_ || shut_ || write_pending_) return;
    if (next_piece_ < pieces_.size()) {
      std::string_view piece = pieces_[next_piece_++];
      uv_buf_t buf = uv_buf_init(const_cast<char*>(piece.data()), static_cast<unsigned>(piece.size()));
      write_.data = this;
      if (uv_write(&write_, stream(), &buf, 1, &Client::on_write) != 0) {
        shut_ = true;  // the server has gone; keep reading what it sent
        return;
      }
      write_pending_ = true;
      return;
    }
    if (early_half_close_ || (service_.owes_nothing() && finals_ >= service_.answered())) {
      shut_ = true;
      shutdown_.data = this;
      if (uv_shutdown(&shutdown_, stream(), &Client::on_shutdown) != 0) return;
      shutdown_pending_ = true;
    }
  }

  // After the loop is done: the whole stream was parsed and ended cleanly.
  void finish(const ConnRecord* conn) {
    CHECK(closed_ && !write_pending_ && !shutdown_pending_);
    const bool drops_allowed = early_half_close_ || (conn && conn->closed_by_service);
    llhttp_errno_t err = llhttp_finish(&parser_);
    if (err != HPE_OK && !(drops_allowed && err == HPE_INVALID_EOF_STATE)) {
      fail(std::string("the response stream ended inside a response: ") + llhttp_errno_name(err));
    }
  }

 private:
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  void close() {
    if (closing_) return;
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) { static_cast<Client*>(h->data)->closed_ = true; });
  }

  static void on_connect(uv_connect_t* req, int status) {
    auto* self = static_cast<Client*>(req->data);
    if (status != 0) fail(std::string("connect: ") + uv_strerror(status));
    self->connected_ = true;
    uv_read_start(
        self->stream(),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* c = static_cast<Client*>(h->data);
          *buf = uv_buf_init(c->read_buffer_, sizeof c->read_buffer_);
        },
        &Client::on_read);
  }

  static void on_write(uv_write_t* req, int status) {
    auto* self = static_cast<Client*>(req->data);
    self->write_pending_ = false;
    if (status != 0) self->shut_ = true;  // EPIPE, ECONNRESET, ECANCELED: stop sending
  }

  static void on_shutdown(uv_shutdown_t* req, int) { static_cast<Client*>(req->data)->shutdown_pending_ = false; }

  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Client*>(s->data);
    if (nread < 0) {  // EOF, or a reset by a server that closed with input unread
      self->close();
      return;
    }
    self->consume(buf->base, static_cast<size_t>(nread));
  }

  void consume(const char* data, size_t size) {
    if (size == 0) return;
    llhttp_errno_t err = llhttp_execute(&parser_, data, size);
    if (err != HPE_OK) {
      std::string why = std::string("malformed response stream: ") + llhttp_errno_name(err) + " (" +
                        (llhttp_get_error_reason(&parser_) ? llhttp_get_error_reason(&parser_) : "") + ")";
      if (finals_ > 0) {
        const ConnRecord* conn = current_conn();
        if (conn && finals_ - 1 < conn->slots.size() && conn->slots[finals_ - 1].method == Method::Head) {
          why += "; the previous response answered HEAD, so it must not carry a body";
        }
      }
      fail(why);
    }
  }

  const ConnRecord* current_conn() const {
    return service_.conns.empty() ? nullptr : &service_.conns.begin()->second;
  }

  static Client* self(llhttp_t* p) { return static_cast<Client*>(p->data); }

  static int on_message_begin(llhttp_t* p) {
    Client* c = self(p);
    c->response_ = Response{};
    c->field_.clear();
    c->value_.clear();
    return 0;
  }

  static int on_header_field(llhttp_t* p, const char* at, size_t len) {
    self(p)->field_.append(at, len);
    return 0;
  }

  static int on_header_value(llhttp_t* p, const char* at, size_t len) {
    self(p)->value_.append(at, len);
    return 0;
  }

  static int on_header_value_complete(llhttp_t* p) {
    Client* c = self(p);
    Response& r = c->response_;
    ++r.headers;
    if (iequals(c->field_, "access-control-allow-origin")) r.allow_origin = c->value_ == "*";
    if (iequals(c->field_, "content-type")) r.content_type = c->value_;
    if (iequals(c->field_, "content-length")) r.has_length = true;
    if (iequals(c->field_, "connection")) r.close = iequals(c->value_, "close");
    c->field_.clear();
    c->value_.clear();
    return 0;
  }

  static int on_headers_complete(llhttp_t* p) {
    Client* c = self(p);
    Response& r = c->response_;
    r.status = p->status_code;
    CHECK(p->http_major == 1 && p->http_minor == 1);
    if (r.status < 200) {
      // The only interim answer: 100 Continue, bare, for the request whose
      // final answer comes next.
      CHECK(r.status == 100 && r.headers == 0);
      const ConnRecord* conn = c->current_conn();
      CHECK(conn && c->finals_ < conn->slots.size());
      const SlotRecord& s = conn->slots[c->finals_];
      CHECK(s.expect_continue && s.has_body && !s.early);
      CHECK(c->continues_for_ != c->finals_);
      c->continues_for_ = c->finals_;
      return 0;
    }
    CHECK(r.allow_origin);
    if (r.status != 204 && r.status != 304) CHECK(r.has_length);
    // A response to HEAD has no body (its Content-Length is the GET's).
    const ConnRecord* conn = c->current_conn();
    if (conn && c->finals_ < conn->slots.size() && conn->slots[c->finals_].method == Method::Head) return 1;
    return 0;
  }

  static int on_body(llhttp_t* p, const char* at, size_t len) {
    self(p)->response_.body.append(at, len);
    return 0;
  }

  static int on_message_complete(llhttp_t* p) {
    Client* c = self(p);
    const Response& r = c->response_;
    if (r.status < 200) return 0;
    const size_t k = c->finals_++;
    const ConnRecord* conn = c->current_conn();
    CHECK(conn != nullptr);
    if (k < conn->slots.size() && conn->slots[k].answered) {
      // The service's own answer to slot k, byte for byte.
      const SlotRecord& s = conn->slots[k];
      if (r.status != s.status || (r.body != s.body && !(s.method == Method::Head && r.body.empty()))) {
        fail("response " + std::to_string(k) + " is not the service's answer to slot " + std::to_string(k) +
             " (status " + std::to_string(r.status) + ", expected " + std::to_string(s.status) + ")");
      }
      const bool want_close = !s.keep_alive || (s.early && s.has_body);
      if (r.close != want_close) fail("Connection: close on response " + std::to_string(k) + " is wrong");
      if (!s.body.empty()) CHECK(r.content_type == sprites::http::kJson);
      return 0;
    }
    // Anything else is the connection refusing a request, which ends it.
    if (!r.close) fail("response " + std::to_string(k) + " answers no request and does not close");
    CHECK(r.status == 400 || r.status == 408 || r.status == 413 || r.status == 431);
    CHECK(c->refusal_ == 0);
    c->refusal_ = r.status;
    CHECK(r.content_type == sprites::http::kJson);
    // A refused HEAD request gets the error's headers only (no content in
    // any answer to HEAD); the client parsed it without a body.
    if (k < conn->slots.size() && conn->slots[k].method == Method::Head) return 0;
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    CHECK(j.is_object() && j.contains("error") && j.contains("message"));
    return 0;
  }

  std::vector<std::string_view> pieces_;
  size_t next_piece_ = 0;
  bool early_half_close_;
  FuzzService& service_;
  uv_tcp_t tcp_{};
  uv_connect_t connect_{};
  uv_write_t write_{};
  uv_shutdown_t shutdown_{};
  bool connected_ = false;
  bool write_pending_ = false;
  bool shutdown_pending_ = false;
  bool shut_ = false;
  bool closing_ = false;
  bool closed_ = false;
  llhttp_settings_t settings_{};
  llhttp_t parser_{};
  Response response_;
  std::string field_;
  std::string value_;
  size_t finals_ = 0;
  size_t continues_for_ = SIZE_MAX;
  int refusal_ = 0;  // status of the connection's own error response, if one came
  char read_buffer_[64 * 1024];
};

// ---- the harness ------------------------------------------------------------

struct Harness {
  uv_loop_t loop{};
  FuzzService* service = nullptr;
  HttpListener* listener = nullptr;
  uint16_t port = 0;
  uv_timer_t watchdog{};
  uv_check_t pump{};  // runs the client after each poll
  uv_idle_t spin{};   // keeps the poll from blocking while the client still has to act
  bool timed_out = false;
};

Harness* g = nullptr;
std::string g_state;  // what the current input is doing, for fail()

void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_http_request: %s\n%s", what.c_str(), g_state.c_str());
  std::abort();
}

void teardown() {
  if (!g) return;
  g->listener->close();
  g->service->listener = nullptr;
  uv_close(g->service->timer_handle(), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&g->watchdog), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&g->pump), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&g->spin), nullptr);
  uv_run(&g->loop, UV_RUN_DEFAULT);
  delete g->listener;
  delete g->service;
  if (uv_loop_close(&g->loop) != 0) fail("uv_loop_close did not return 0 at exit: a handle is still open");
  delete g;
  g = nullptr;
}

void setup() {
  g = new Harness;
  CHECK(uv_loop_init(&g->loop) == 0);
  g->service = new FuzzService(&g->loop);
  g->listener = new HttpListener(&g->loop, *g->service, kLimits);
  g->service->listener = g->listener;
  if (int rc = g->listener->bind("127.0.0.1", 0, false); rc != 0) fail(std::string("bind: ") + uv_strerror(rc));
  g->port = g->listener->port();
  uv_timer_init(&g->loop, &g->watchdog);
  uv_check_init(&g->loop, &g->pump);
  uv_idle_init(&g->loop, &g->spin);
  std::atexit(teardown);
}

// Only the harness's own handles and the listener's (its socket, its sweep
// timer) may outlive an input, and only the listening socket may keep the loop
// alive: anything else is a handle or request the input leaked.
void check_loop_is_clean() {
  struct Walk {
    size_t tcp = 0;
    size_t timers = 0;
    size_t other = 0;
    size_t alive = 0;  // active and referenced
  } walk;
  uv_walk(
      &g->loop,
      [](uv_handle_t* h, void* arg) {
        auto* w = static_cast<Walk*>(arg);
        if (uv_is_active(h) && uv_has_ref(h)) ++w->alive;
        if (h == g->service->timer_handle() || h == reinterpret_cast<uv_handle_t*>(&g->watchdog) ||
            h == reinterpret_cast<uv_handle_t*>(&g->pump) || h == reinterpret_cast<uv_handle_t*>(&g->spin)) {
          return;
        }
        if (h->type == UV_TCP) {
          ++w->tcp;
        } else if (h->type == UV_TIMER) {
          ++w->timers;
        } else {
          ++w->other;
        }
      },
      &walk);
  if (walk.tcp != 1 || walk.timers > 1 || walk.other != 0) fail("handles left on the loop after the input");
  if (walk.alive != 1) fail("handles other than the listening socket keep the loop alive after the input");
  if (g->loop.active_reqs.count != 0) fail("requests still pending on the loop after the input");
}

std::vector<std::string_view> cut(std::string_view bytes, const uint8_t* control) {
  const uint8_t mode = control[0] & 7;
  std::vector<std::string_view> pieces;
  if (bytes.empty()) return pieces;
  if (mode >= 5) {
    static constexpr size_t kDribble[] = {1, 2, 7};
    const size_t step = kDribble[mode - 5];
    for (size_t i = 0; i < bytes.size(); i += step) pieces.push_back(bytes.substr(i, step));
    return pieces;
  }
  std::vector<size_t> at{0, bytes.size()};
  for (int i = 0; i < mode; ++i) {
    const size_t fraction = static_cast<size_t>(control[1 + 2 * i] | control[2 + 2 * i] << 8);
    at.push_back(fraction * bytes.size() >> 16);
  }
  std::sort(at.begin(), at.end());
  at.erase(std::unique(at.begin(), at.end()), at.end());
  for (size_t i = 0; i + 1 < at.size(); ++i) pieces.push_back(bytes.substr(at[i], at[i + 1] - at[i]));
  return pieces;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kControlBytes) return -1;
  if (!g) setup();
  const std::string bytes(reinterpret_cast<const char*>(data) + kControlBytes, size - kControlBytes);
  const bool early_half_close = (data[0] & 8) != 0;
  std::vector<std::string_view> pieces = cut(bytes, data);
  g->service->default_mode = static_cast<uint8_t>((data[0] >> 4) & 3);
  g_state = "input: " + std::to_string(bytes.size()) + " bytes in " + std::to_string(pieces.size()) +
            " pieces, " + (early_half_close ? "early" : "late") + " half-close, default fate " +
            std::to_string(g->service->default_mode) + "\n";

  Client client(&g->loop, g->port, std::move(pieces), early_half_close, *g->service);
  g->timed_out = false;
  g->pump.data = &client;
  uv_check_start(&g->pump, [](uv_check_t* h) { static_cast<Client*>(h->data)->pump(); });
  uv_timer_start(&g->watchdog, [](uv_timer_t*) { g->timed_out = true; }, kWatchdogMs, 0);

  while (!(client.closed() && g->listener->connection_count() == 0 && g->service->owes_nothing())) {
    // Let the poll block only once the client has nothing left to send.
    if (client.waiting_to_write()) {
      uv_idle_start(&g->spin, [](uv_idle_t*) {});
    } else {
      uv_idle_stop(&g->spin);
    }
    uv_run(&g->loop, UV_RUN_ONCE);
    if (g->timed_out) {
      fail("input not finished after " + std::to_string(kWatchdogMs) + " ms (client closed: " +
           std::to_string(client.closed()) + ", server connections: " +
           std::to_string(g->listener->connection_count()) +
           ", service owes answers: " + std::to_string(!g->service->owes_nothing()) + ")");
    }
  }
  uv_timer_stop(&g->watchdog);
  uv_check_stop(&g->pump);
  uv_idle_stop(&g->spin);

  CHECK(g->service->conns.size() == 1);
  const ConnRecord& conn = g->service->conns.begin()->second;
  if (conn.closes != 1) fail("on_close was not called exactly once for the connection");
  const std::vector<uint16_t> refused = g->service->take_refused();
  CHECK(refused.size() <= 1);
  client.finish(&conn);
  // The connection's own error response went out only after on_refused.
  if (client.refusal() != 0) CHECK(refused.size() == 1 && refused[0] == client.refusal());
  check_loop_is_clean();
  g->service->conns.clear();
  return 0;
}

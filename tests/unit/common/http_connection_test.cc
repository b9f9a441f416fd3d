// The shared HTTP/1.1 layer (HttpListener + HttpConnection) over a real libuv
// loop on 127.0.0.1, port 0. A recording HttpService answers at once or on a
// later loop turn (a 0 ms uv_timer), so answers can reach a connection out of
// order; clients are uv_tcp_t handles on the same loop, so every step is driven
// by loop turns and nothing waits on a clock. A watchdog timer only turns a hang
// into a failure.
//
// Every test ends the same way: listener closed, loop run to completion,
// uv_loop_close() == 0, and on_close counted exactly once per connection.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <uv.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_connection.h"
#include "common/http_listener.h"
#include "common/http_request.h"
#include "common/http_response.h"

using sprites::http::EarlyResponse;
using sprites::http::error_body;
using sprites::http::HttpConnection;
using sprites::http::HttpLimits;
using sprites::http::HttpListener;
using sprites::http::HttpRequest;
using sprites::http::HttpService;
using sprites::http::Method;

namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr size_t kBigAnswerBytes = 16 << 20;
constexpr size_t kPadAnswerBytes = 2048;  // at least this much in every answer under /pad

// ---- requests and responses as bytes ----------------------------------------

std::string get(std::string_view target, std::string_view headers = {}) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(headers) + "\r\n";
}

std::string post(std::string_view target, std::string_view body, std::string_view headers = {}) {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: test\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + std::string(headers) + "\r\n" + std::string(body);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

struct Response {
  int status = 0;
  std::string head;  // header lines, each ending in \r\n
  std::string body;

  std::optional<std::string> header(std::string_view name) const {
    std::string_view rest = head;
    while (!rest.empty()) {
      size_t eol = rest.find("\r\n");
      std::string_view line = rest.substr(0, eol);
      rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 2);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos || !iequals(line.substr(0, colon), name)) continue;
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return std::string(value);
    }
    return std::nullopt;
  }
  nlohmann::json json() const { return nlohmann::json::parse(body); }
  // The target the recording service echoes in its answers.
  std::string target() const { return json().at("target").get<std::string>(); }
};

// The complete responses in `bytes`, interim (1xx) ones included. A response
// without Content-Length has no body (the server sends one on everything else).
std::vector<Response> parse_responses(std::string_view bytes) {
  std::vector<Response> out;
  while (true) {
    size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) break;
    Response r;
    std::string_view head = bytes.substr(0, end + 2);
    size_t eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    if (status_line.size() < 12 || status_line.substr(0, 9) != "HTTP/1.1 ") {
      FAIL("not a status line: " << std::string(status_line));
    }
    r.status = std::stoi(std::string(status_line.substr(9, 3)));
    r.head = std::string(head.substr(eol + 2));
    size_t length = 0;
    if (auto cl = r.header("Content-Length")) length = std::stoul(*cl);
    if (bytes.size() < end + 4 + length) break;
    r.body = std::string(bytes.substr(end + 4, length));
    bytes.remove_prefix(end + 4 + length);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> targets_of(const std::vector<Response>& responses) {
  std::vector<std::string> out;
  for (const Response& r : responses) out.push_back(r.target());
  return out;
}

// ---- the service ------------------------------------------------------------

struct Seen {
  uint64_t conn = 0;
  uint32_t slot = 0;
  Method method = Method::Other;
  std::string target;
  std::string body;
  bool has_authorization = false;
  std::string authorization;
  bool expect_continue = false;
  bool has_body = false;
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool keep_alive = true;
};

bool same_request(const Seen& a, const Seen& b) {
  return a.slot == b.slot && a.method == b.method && a.target == b.target && a.body == b.body &&
         a.has_authorization == b.has_authorization && a.authorization == b.authorization &&
         a.expect_continue == b.expect_continue && a.has_body == b.has_body && a.keep_alive == b.keep_alive;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Answers {"target","body","slot"}. Paths under /defer are answered on a later
// loop turn, the latest first; paths under /hold wait until a /release arrives,
// which is answered at once and lets the held ones go (a loop turn later,
// latest first). Everything else is answered at once; answers under /big and
// /pad carry padding.
class RecordingService final : public HttpService {
 public:
  explicit RecordingService(uv_loop_t* loop) {
    uv_timer_init(loop, &timer_);
    timer_.data = this;
  }
  RecordingService(const RecordingService&) = delete;
  RecordingService& operator=(const RecordingService&) = delete;
  void close() { uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr); }

  HttpListener* listener = nullptr;
  std::function<std::optional<EarlyResponse>(const HttpRequest&)> early;
  // When set, each connection's socket gets this send buffer (SO_SNDBUF) at its
  // first request, so the kernel absorbs little of what a non-reading client
  // is sent; `send_buffer_set` is the size the kernel reports back.
  int send_buffer = 0;
  int send_buffer_set = 0;

  std::vector<std::string> headers_seen;  // targets, in on_headers order
  std::vector<Seen> requests;             // in on_request order
  std::vector<std::string> answered;      // targets, in the order the service answered
  std::map<uint64_t, int> closes;         // serial -> on_close calls
  size_t outstanding = 0;
  size_t max_outstanding = 0;

  std::optional<EarlyResponse> on_headers(HttpConnection& conn, const HttpRequest& req) override {
    headers_seen.push_back(req.target);
    if (send_buffer != 0) {
      auto* handle = reinterpret_cast<uv_handle_t*>(conn.handle());
      int size = send_buffer;
      REQUIRE(uv_send_buffer_size(handle, &size) == 0);
      size = 0;
      REQUIRE(uv_send_buffer_size(handle, &size) == 0);
      send_buffer_set = size;
    }
    if (early) return early(req);
    return std::nullopt;
  }

  void on_request(HttpConnection& conn, HttpRequest& req, uint32_t slot) override {
    Seen s;
    s.conn = conn.serial();
    s.slot = slot;
    s.method = req.method;
    s.target = req.target;
    s.body = req.body;
    s.has_authorization = req.has_authorization;
    s.authorization = req.authorization;
    s.expect_continue = req.expect_continue;
    s.has_body = req.has_body;
    s.has_content_length = req.has_content_length;
    s.content_length = req.content_length;
    s.keep_alive = req.keep_alive;
    requests.push_back(s);
    max_outstanding = std::max(max_outstanding, ++outstanding);

    Owed owed{conn.serial(), slot, req.target, req.body};
    std::string_view path = req.path();
    if (starts_with(path, "/throw")) throw std::runtime_error("the service failed");
    if (starts_with(path, "/defer")) {
      deferred_.push_back(std::move(owed));
      arm();
    } else if (starts_with(path, "/hold")) {
      held_.push_back(std::move(owed));
    } else if (starts_with(path, "/release")) {
      for (Owed& h : held_) deferred_.push_back(std::move(h));
      held_.clear();
      arm();
      answer(conn, owed);
    } else {
      answer(conn, owed);
    }
  }

  void on_close(HttpConnection& conn) override { ++closes[conn.serial()]; }

 private:
  struct Owed {
    uint64_t conn;
    uint32_t slot;
    std::string target;
    std::string body;
  };

  void answer(HttpConnection& conn, const Owed& o) {
    nlohmann::json j = {{"target", o.target}, {"body", o.body}, {"slot", o.slot}};
    std::string text = j.dump();
    // Far more than loopback socket buffers take at once: the answer is still
    // being written a few loop turns later. Spliced in, not dumped: JSON of
    // this size is slow to build and parse under the sanitizers.
    if (starts_with(o.target, "/big")) text.insert(text.size() - 1, ",\"pad\":\"" + std::string(kBigAnswerBytes, 'x') + "\"");
    if (starts_with(o.target, "/pad")) text.insert(text.size() - 1, ",\"pad\":\"" + std::string(kPadAnswerBytes, 'x') + "\"");
    answered.push_back(o.target);
    --outstanding;
    conn.respond_json(o.slot, 200, text);
  }

  void arm() { uv_timer_start(&timer_, &RecordingService::on_timer, 0, 0); }

  static void on_timer(uv_timer_t* timer) {
    auto* self = static_cast<RecordingService*>(timer->data);
    std::vector<Owed> due;
    due.swap(self->deferred_);
    for (auto it = due.rbegin(); it != due.rend(); ++it) {
      if (HttpConnection* conn = self->listener->find(it->conn)) self->answer(*conn, *it);
    }
  }

  uv_timer_t timer_{};
  std::vector<Owed> deferred_;
  std::vector<Owed> held_;
};

// ---- the client -------------------------------------------------------------

// One client connection on the test's loop. Sends are queued until connected;
// on EOF or an error it closes its socket, as a client that reads to the end
// would.
class TestClient {
 public:
  // A `receive_buffer` other than 0 is set (SO_RCVBUF) before connecting, so
  // the kernel holds little of what the server sends while this client does
  // not read; receive_buffer_set() is the size the kernel reports back.
  TestClient(uv_loop_t* loop, uint16_t port, int receive_buffer = 0) {
    uv_tcp_init_ex(loop, &tcp_, AF_INET);
    tcp_.data = this;
    if (receive_buffer != 0) {
      auto* handle = reinterpret_cast<uv_handle_t*>(&tcp_);
      int size = receive_buffer;
      REQUIRE(uv_recv_buffer_size(handle, &size) == 0);
      size = 0;
      REQUIRE(uv_recv_buffer_size(handle, &size) == 0);
      receive_buffer_set_ = size;
    }
    uv_idle_init(loop, &drip_);
    drip_.data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", port, &addr);
    connect_.data = this;
    connect_rc_ = uv_tcp_connect(&connect_, &tcp_, reinterpret_cast<const sockaddr*>(&addr), &TestClient::on_connect);
  }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;
  ~TestClient() = default;  // handles are closed (and the loop run) by Harness

  // Queues `bytes` as one write.
  void send(std::string bytes) {
    if (closing_) return;
    auto* w = new Write;
    w->bytes = std::move(bytes);
    uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
    if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, &TestClient::on_write) != 0) delete w;
  }

  // Sends `bytes` one piece of `piece` bytes per loop turn, so the server reads
  // them one piece at a time.
  void drip(std::string bytes, size_t piece = 1) {
    drip_bytes_ += bytes;
    drip_piece_ = piece;
    uv_idle_start(&drip_, &TestClient::on_drip);
  }
  bool dripping() const { return drip_pos_ < drip_bytes_.size(); }

  // A client that reads nothing for a while: call before it connects, or any time.
  void pause_reading() {
    paused_ = true;
    if (connected) uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  }
  void resume_reading() {
    paused_ = false;
    if (connected && !closing_) start_reading();
  }

  // Sends FIN once the queued writes are out; reading goes on.
  void half_close() {
    shutdown_.data = this;
    REQUIRE(uv_shutdown(&shutdown_, reinterpret_cast<uv_stream_t*>(&tcp_), [](uv_shutdown_t*, int) {}) == 0);
  }

  void close() {
    if (closing_) return;
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&drip_), nullptr);
  }

  std::vector<Response> responses() const { return parse_responses(received); }
  // Responses other than 100 Continue.
  std::vector<Response> finals() const {
    std::vector<Response> out;
    for (Response& r : responses()) {
      if (r.status >= 200) out.push_back(std::move(r));
    }
    return out;
  }

  int connect_rc() const { return connect_rc_; }
  int receive_buffer_set() const { return receive_buffer_set_; }
  std::string received;
  bool connected = false;
  bool eof = false;  // the server closed its side (or reset)
  std::function<void()> on_data;

 private:
  struct Write {
    uv_write_t req;
    std::string bytes;
  };

  static void on_connect(uv_connect_t* req, int status) {
    auto* c = static_cast<TestClient*>(req->data);
    if (status != 0) {
      c->eof = true;
      return;
    }
    c->connected = true;
    if (!c->paused_) c->start_reading();
  }

  void start_reading() {
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&tcp_),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* self = static_cast<TestClient*>(h->data);
          *buf = uv_buf_init(self->buffer_, sizeof self->buffer_);
        },
        &TestClient::on_read);
  }

  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<TestClient*>(stream->data);
    if (nread > 0) {
      c->received.append(buf->base, static_cast<size_t>(nread));
      if (c->on_data) c->on_data();
    } else if (nread < 0) {
      c->eof = true;
      c->close();
    }
  }

  static void on_write(uv_write_t* req, int) { delete reinterpret_cast<Write*>(req); }

  static void on_drip(uv_idle_t* idle) {
    auto* c = static_cast<TestClient*>(idle->data);
    if (!c->connected) return;
    if (!c->dripping()) {
      uv_idle_stop(idle);
      return;
    }
    std::string piece = c->drip_bytes_.substr(c->drip_pos_, c->drip_piece_);
    c->drip_pos_ += piece.size();
    c->send(std::move(piece));
  }

  uv_tcp_t tcp_{};
  uv_connect_t connect_{};
  uv_shutdown_t shutdown_{};
  uv_idle_t drip_{};
  int connect_rc_ = 0;
  int receive_buffer_set_ = 0;
  bool closing_ = false;
  bool paused_ = false;
  std::string drip_bytes_;
  size_t drip_pos_ = 0;
  size_t drip_piece_ = 1;
  char buffer_[64 * 1024];
};

// ---- the harness ------------------------------------------------------------

class Harness {
 public:
  explicit Harness(HttpLimits limits = {}) {
    REQUIRE(uv_loop_init(&loop_) == 0);
    uv_timer_init(&loop_, &watchdog_);
    watchdog_.data = &timed_out_;
    service = std::make_unique<RecordingService>(&loop_);
    listener = std::make_unique<HttpListener>(&loop_, *service, limits);
    service->listener = listener.get();
    REQUIRE(listener->bind("127.0.0.1", 0, false) == 0);
    port_ = listener->port();
    REQUIRE(port_ != 0);
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;
  ~Harness() {
    if (!shut_down_) shutdown();
  }

  TestClient& connect(int receive_buffer = 0) {
    clients.push_back(std::make_unique<TestClient>(&loop_, port_, receive_buffer));
    REQUIRE(clients.back()->connect_rc() == 0);
    return *clients.back();
  }

  // Turns the loop until `done` holds; false if the watchdog fired first.
  bool run_until(const std::function<bool()>& done, uint64_t timeout_ms = 10000) {
    timed_out_ = false;
    uv_timer_start(&watchdog_, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, timeout_ms, 0);
    while (!done() && !timed_out_) {
      uv_run(&loop_, UV_RUN_ONCE);
      ++turns;
    }
    uv_timer_stop(&watchdog_);
    return done();
  }

  // Turns the loop for `ms` whatever happens: lets the listener's timeout
  // sweeps run while a client does nothing. Not a synchronisation.
  void run_for(uint64_t ms) { run_until([] { return false; }, ms); }

  // Closes everything, runs the loop until every close callback ran, and
  // returns uv_loop_close()'s result.
  int shutdown() {
    shut_down_ = true;
    for (auto& c : clients) c->close();
    listener->close();
    service->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    return uv_loop_close(&loop_);
  }

  std::unique_ptr<RecordingService> service;
  std::unique_ptr<HttpListener> listener;
  std::vector<std::unique_ptr<TestClient>> clients;
  uint64_t turns = 0;  // loop turns taken by run_until: each one woke up for something

 private:
  uv_loop_t loop_{};
  uv_timer_t watchdog_{};
  bool timed_out_ = false;
  bool shut_down_ = false;
  uint16_t port_ = 0;
};

// Sends `body` once the client has read the server's 100 Continue.
void send_body_after_continue(TestClient& c, std::string body) {
  c.on_data = [&c, body = std::move(body), sent = false]() mutable {
    if (!sent && c.received.size() >= kContinue.size()) {
      sent = true;
      c.send(body);
    }
  };
}

// The common ending: a clean loop, no connection left, and one on_close per
// connection the listener accepted.
void finish(Harness& h) {
  REQUIRE(h.shutdown() == 0);
  CHECK(h.listener->connection_count() == 0);
  CHECK(h.service->closes.size() == h.clients.size());
  for (const auto& [serial, calls] : h.service->closes) {
    CAPTURE(serial);
    CHECK(calls == 1);
  }
}

EarlyResponse unauthorized_early() { return {401, error_body("unauthorized", "no token"), {}}; }

}  // namespace

// A held long-poll is an idle connection: what a request needs while it is
// received lives in the request, not in the connection. (The 15th word is the
// TLS stream's pointer, null on a plain port.)
TEST_CASE("an idle connection costs its socket, its parser and a few words") {
  CHECK(sizeof(HttpConnection) <= sizeof(uv_tcp_t) + sizeof(llhttp_t) + 15 * sizeof(void*));
}

TEST_CASE("a keep-alive connection serves one request after another") {
  Harness h;
  TestClient& c = h.connect();
  c.send(get("/first"));
  REQUIRE(h.run_until([&] { return c.finals().size() == 1; }));
  c.send(get("/second"));
  REQUIRE(h.run_until([&] { return c.finals().size() == 2; }));

  auto rs = c.finals();
  CHECK(targets_of(rs) == std::vector<std::string>{"/first", "/second"});
  for (const Response& r : rs) {
    CHECK(r.status == 200);
    CHECK_FALSE(r.header("Connection").has_value());
    CHECK(r.header("Content-Type") == "application/json");
    CHECK(r.header("Access-Control-Allow-Origin") == "*");
  }
  CHECK_FALSE(c.eof);
  CHECK(h.listener->connection_count() == 1);
  REQUIRE(h.service->requests.size() == 2);
  CHECK(h.service->requests[0].conn == h.service->requests[1].conn);
  CHECK(h.service->requests[0].keep_alive);
  CHECK(h.service->closes.empty());
  finish(h);
}

// Request objects are pooled by the listener: the one that carried the first
// request carries the next, and must arrive as fresh as a new one.
TEST_CASE("a request after one with every field set carries none of them") {
  Harness h;
  TestClient& c = h.connect();
  send_body_after_continue(c, "hello");
  c.send("POST /full?x=1 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
         "Authorization: Bearer abc\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  REQUIRE(h.run_until([&] { return c.finals().size() == 1; }));
  // The pool belongs to the listener, so the next connection gets the object.
  TestClient& next = h.connect();
  next.send(get("/bare"));
  REQUIRE(h.run_until([&] { return next.finals().size() == 1; }));
  next.send(get("/other"));
  REQUIRE(h.run_until([&] { return next.finals().size() == 2; }));

  REQUIRE(h.service->requests.size() == 3);
  const Seen& full = h.service->requests[0];
  CHECK(full.method == Method::Post);
  CHECK(full.has_authorization);
  CHECK(full.expect_continue);
  CHECK(full.has_body);
  CHECK(full.has_content_length);
  CHECK(full.content_length == 5);
  CHECK_FALSE(full.keep_alive);
  for (size_t i = 1; i < 3; ++i) {
    const Seen& bare = h.service->requests[i];
    INFO("request " << i);
    CHECK(bare.method == Method::Get);
    CHECK((bare.target == "/bare" || bare.target == "/other"));
    CHECK(bare.body.empty());
    CHECK_FALSE(bare.has_authorization);
    CHECK(bare.authorization.empty());
    CHECK_FALSE(bare.expect_continue);
    CHECK_FALSE(bare.has_body);
    CHECK_FALSE(bare.has_content_length);
    CHECK(bare.content_length == 0);
    CHECK(bare.keep_alive);
  }
  finish(h);
}

TEST_CASE("pipelined requests are answered in request order when the service answers a later one first") {
  Harness h;
  TestClient& c = h.connect();
  c.send(get("/hold/1") + get("/hold/2") + get("/release"));
  REQUIRE(h.run_until([&] { return c.finals().size() == 3; }));

  CHECK(h.service->answered == std::vector<std::string>{"/release", "/hold/2", "/hold/1"});
  CHECK(targets_of(c.finals()) == std::vector<std::string>{"/hold/1", "/hold/2", "/release"});
  CHECK_FALSE(c.eof);
  finish(h);
}

TEST_CASE("a request with Connection: close is answered and then the server closes") {
  Harness h;
  TestClient& c = h.connect();
  // The pipelined second request comes after the close and is never read.
  c.send(get("/last", "Connection: close\r\n") + get("/never"));
  REQUIRE(h.run_until([&] { return c.eof; }));

  auto rs = c.finals();
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 200);
  CHECK(rs[0].target() == "/last");
  CHECK(rs[0].header("Connection") == "close");
  REQUIRE(h.service->requests.size() == 1);
  CHECK_FALSE(h.service->requests[0].keep_alive);
  CHECK(h.service->headers_seen == std::vector<std::string>{"/last"});
  REQUIRE(h.run_until([&] { return h.listener->connection_count() == 0; }));
  finish(h);
}

TEST_CASE("an answer still being written when the client half-closes is finished before the close") {
  Harness h;
  TestClient& c = h.connect();
  size_t answers = 1;
  SECTION("a keep-alive request") { c.send(get("/big")); }
  SECTION("a request that asked for the close") { c.send(get("/big", "Connection: close\r\n")); }
  SECTION("before a pipelined request the server refuses") {
    c.send(get("/big") + "NOT HTTP\r\n\r\n");
    answers = 2;
  }
  c.half_close();
  REQUIRE(h.run_until([&] { return c.eof; }));

  auto rs = c.finals();
  REQUIRE(rs.size() == answers);
  CHECK(rs[0].status == 200);
  // finals() returns only whole responses: all Content-Length bytes arrived.
  CHECK(rs[0].body.size() > kBigAnswerBytes);
  CHECK(rs[0].body.find("\"target\":\"/big\"") != std::string::npos);
  if (answers == 2) CHECK(rs[1].status == 400);
  CHECK(h.service->closes.size() == 1);
  REQUIRE(h.run_until([&] { return h.listener->connection_count() == 0; }));
  finish(h);
}

TEST_CASE("a client slower than the linger timeout still gets the whole last answer") {
  // The linger timeout runs from the FIN, once the last answer has left, not
  // from the moment the connection decided to close.
  HttpLimits limits;
  limits.linger_ms = 1;
  Harness h(limits);
  TestClient& c = h.connect();
  c.pause_reading();
  c.send(get("/big", "Connection: close\r\n"));
  REQUIRE(h.run_until([&] { return h.service->answered.size() == 1; }));
  h.run_for(600);  // the listener sweeps its timeouts every 250 ms
  c.resume_reading();
  REQUIRE(h.run_until([&] { return c.eof; }));

  auto rs = c.finals();
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 200);
  CHECK(rs[0].body.size() > kBigAnswerBytes);
  REQUIRE(h.run_until([&] { return h.listener->connection_count() == 0; }));
  finish(h);
}

// The worker answers a throw by the serial it kept while the master decided:
// a serial must never find a later connection that took the same slot.
TEST_CASE("a closed connection's serial finds nothing, even once a new connection reuses its slot") {
  Harness h;
  TestClient& a = h.connect();
  a.send(get("/first"));
  REQUIRE(h.run_until([&] { return a.finals().size() == 1; }));
  const uint64_t first = h.service->requests.at(0).conn;
  REQUIRE(h.listener->find(first) != nullptr);
  a.close();
  REQUIRE(h.run_until([&] { return h.listener->connection_count() == 0; }));
  CHECK(h.listener->find(first) == nullptr);

  TestClient& b = h.connect();
  b.send(get("/second"));
  REQUIRE(h.run_until([&] { return b.finals().size() == 1; }));
  const uint64_t second = h.service->requests.at(1).conn;
  CHECK(second != first);
  CHECK(static_cast<uint32_t>(second) == static_cast<uint32_t>(first));  // the same slot
  CHECK(h.listener->find(first) == nullptr);
  HttpConnection* conn = h.listener->find(second);
  REQUIRE(conn != nullptr);
  CHECK(conn->serial() == second);
  finish(h);
}

TEST_CASE("an HTTP/1.0 request is answered and then the server closes") {
  Harness h;
  TestClient& c = h.connect();
  SECTION("plain") { c.send("GET /old HTTP/1.0\r\n\r\n"); }
  SECTION("even when it asks for keep-alive") { c.send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"); }
  REQUIRE(h.run_until([&] { return c.eof; }));

  auto rs = c.finals();
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 200);
  CHECK(rs[0].target() == "/old");
  CHECK(rs[0].header("Connection") == "close");
  REQUIRE(h.service->requests.size() == 1);
  CHECK_FALSE(h.service->requests[0].keep_alive);
  finish(h);
}

TEST_CASE("input that is not HTTP gets 400 bad_request and a close") {
  Harness h;
  TestClient& c = h.connect();
  SECTION("an unknown method") { c.send("HELLO / HTTP/1.1\r\n\r\n"); }
  SECTION("binary noise") { c.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)); }
  SECTION("a header line without a colon") { c.send("GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"); }
  SECTION("a bad Content-Length") { c.send("POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n"); }
  REQUIRE(h.run_until([&] { return c.eof; }));

  auto rs = c.finals();
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 400);
  CHECK(rs[0].json().at("error") == "bad_request");
  CHECK(rs[0].json().at("message").is_string());
  CHECK(rs[0].header("Connection") == "close");
  CHECK(h.service->requests.empty());
  finish(h);
}

TEST_CASE("a request before garbage on the same connection is still answered first") {
  Harness h;
  TestClient& c = h.connect();
  c.send(get("/fine") + "\x01\x02 garbage\r\n\r\n");
  REQUIRE(h.run_until([&] { return c.eof; }));
  auto rs = c.finals();
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].status == 200);
  CHECK(rs[0].target() == "/fine");
  CHECK(rs[1].status == 400);
  CHECK(rs[1].json().at("error") == "bad_request");
  finish(h);
}

TEST_CASE("a header block over max_header_bytes gets 431 and a close") {
  HttpLimits limits;
  limits.max_header_bytes = 1024;
  Harness h(limits);
  TestClient& c = h.connect();
  SECTION("a long header") { c.send(get("/big", "X-Big: " + std::string(2000, 'a') + "\r\n")); }
  SECTION("many headers") {
    std::string headers;
    for (int i = 0; i < 100; ++i) headers += "X-H" + std::to_string(i) + ": abcdefghij\r\n";
    c.send(get("/big", headers));
  }
  SECTION("a long target") {
    std::string target(2001, 'u');
    target[0] = '/';
    c.send(get(target));
  }
  REQUIRE(h.run_until([&] { return c.eof; }));

  auto rs = c.finals();
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 431);
  CHECK(rs[0].json().at("error").is_string());
  CHECK(rs[0].header("Connection") == "close");
  CHECK(h.service->headers_seen.empty());
  CHECK(h.service->requests.empty());
  finish(h);
}

TEST_CASE("a header block under max_header_bytes is accepted") {
  HttpLimits limits;
  limits.max_header_bytes = 1024;
  Harness h(limits);
  TestClient& c = h.connect();
  c.send(get("/fits", "X-Big: " + std::string(600, 'a') + "\r\n"));
  REQUIRE(h.run_until([&] { return c.finals().size() == 1; }));
  CHECK(c.finals()[0].status == 200);
  CHECK_FALSE(c.eof);
  finish(h);
}

// The 431 of the connection itself: headers_too_large, a close, nothing
// handed to the service.
void check_headers_too_large(Harness& h, TestClient& c) {
  REQUIRE(h.run_until([&] { return c.eof; }));
  auto rs = c.finals();
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 431);
  CHECK(rs[0].json().at("error") == "headers_too_large");
  CHECK(rs[0].header("Connection") == "close");
  CHECK(h.service->headers_seen.empty());
  CHECK(h.service->requests.empty());
}

TEST_CASE("thousands of tiny headers count their colons and line ends against max_header_bytes") {
  // 3,000 `a:b` lines hold 6,000 bytes of names and values but 15,000 bytes of
  // header block. The field count is lifted out of the way: the bytes alone
  // must be refused.
  HttpLimits limits;
  limits.max_headers = 100000;
  Harness h(limits);
  TestClient& c = h.connect();
  std::string headers;
  for (int i = 0; i < 3000; ++i) headers += "a:b\r\n";
  c.send(get("/tiny", headers));
  check_headers_too_large(h, c);
  finish(h);
}

TEST_CASE("more header fields than max_headers get 431 and a close") {
  Harness h;
  TestClient& c = h.connect();
  std::string headers;
  SECTION("3,000 tiny headers") {
    for (int i = 0; i < 3000; ++i) headers += "a:b\r\n";
  }
  SECTION("one more than the limit, a few bytes each") {
    for (int i = 0; i < 100; ++i) headers += "a:b\r\n";  // with Host: 101 fields
  }
  c.send(get("/many", headers));
  check_headers_too_large(h, c);
  finish(h);
}

TEST_CASE("exactly max_headers header fields are accepted") {
  Harness h;
  TestClient& c = h.connect();
  std::string headers;
  for (int i = 0; i < 99; ++i) headers += "a:b\r\n";  // with Host: 100 fields
  c.send(get("/many", headers));
  REQUIRE(h.run_until([&] { return c.finals().size() == 1; }));
  CHECK(c.finals()[0].status == 200);
  finish(h);
}

TEST_CASE("whitespace in the header block counts against max_header_bytes, however it is split across reads") {
  // llhttp skips whitespace before a value, and around the target in the
  // request line, without a callback; the whole block is counted all the same.
  const std::string spaces(100 * 1024, ' ');
  const std::string where = GENERATE(as<std::string>{}, "before a value", "inside a value", "after a value",
                                     "before the target", "after the target");
  const std::string how = GENERATE(as<std::string>{}, "in one write", "in 1 KiB writes",
                                   "in 1 KiB writes, never finished");
  CAPTURE(where, how);
  std::string request;
  if (where == "before a value") request = get("/ws", "X-Pad:" + spaces + "v\r\n");
  if (where == "inside a value") request = get("/ws", "X-Pad: v" + spaces + "v\r\n");
  if (where == "after a value") request = get("/ws", "X-Pad: v" + spaces + "\r\n");
  if (where == "before the target") request = "GET" + spaces + "/ws HTTP/1.1\r\nHost: test\r\n\r\n";
  if (where == "after the target") request = "GET /ws" + spaces + "HTTP/1.1\r\nHost: test\r\n\r\n";
  REQUIRE(!request.empty());
  Harness h;
  TestClient& c = h.connect();
  if (how == "in one write") c.send(request);
  if (how == "in 1 KiB writes") c.drip(request, 1024);
  // Refused while it is still whitespace, not once the line ends.
  if (how == "in 1 KiB writes, never finished") c.drip(request.substr(0, request.find(spaces) + spaces.size()), 1024);
  check_headers_too_large(h, c);
  finish(h);
}

TEST_CASE("a header block just under max_header_bytes sent one byte at a time is accepted") {
  Harness h;
  TestClient& c = h.connect();
  std::string headers;
  for (int i = 0; i < 50; ++i) {
    headers += "X-Fill-" + std::to_string(100 + i) + ": " + std::string(136, 'a' + i % 26) + "\r\n";
  }
  const std::string request = get("/fits", headers);
  REQUIRE(request.size() > 7500);
  REQUIRE(request.size() < HttpLimits{}.max_header_bytes);
  c.drip(request);
  REQUIRE(h.run_until([&] { return c.finals().size() == 1; }));
  CHECK(c.finals()[0].status == 200);
  CHECK(c.finals()[0].target() == "/fits");
  CHECK_FALSE(c.eof);
  finish(h);
}

TEST_CASE("pipelined requests in one read each count their own header block") {
  // Ten requests of ~6 KB of headers and 80 fields each: together far over
  // both limits, each one under them.
  Harness h;
  TestClient& c = h.connect();
  std::string headers;
  for (int i = 0; i < 79; ++i) headers += "X-F" + std::to_string(i) + ": " + std::string(70, 'v') + "\r\n";
  std::string burst;
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) {
    expected.push_back("/piped/" + std::to_string(i));
    burst += get(expected.back(), headers);
  }
  REQUIRE(burst.size() / 10 > 6000);
  REQUIRE(burst.size() / 10 < HttpLimits{}.max_header_bytes);
  c.send(burst);
  REQUIRE(h.run_until([&] { return c.finals().size() == expected.size(); }));
  CHECK(targets_of(c.finals()) == expected);
  for (const Response& r : c.finals()) CHECK(r.status == 200);
  CHECK_FALSE(c.eof);
  finish(h);
}

TEST_CASE("a Content-Length body over max_body_bytes gets 413 too_large and a close") {
  HttpLimits limits;
  limits.max_body_bytes = 1000;
  Harness h(limits);
  TestClient& c = h.connect();
  c.send(post("/upload", std::string(1001, 'b')) + get("/never"));
  REQUIRE(h.run_until([&] { return c.eof; }));

  auto rs = c.finals();
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 413);
  CHECK(rs[0].json().at("error") == "too_large");
  CHECK(rs[0].header("Connection") == "close");
  CHECK(h.service->requests.empty());
  finish(h);
}

TEST_CASE("a body of exactly max_body_bytes is delivered whole") {
  HttpLimits limits;
  limits.max_body_bytes = 1000;
  Harness h(limits);
  TestClient& c = h.connect();
  std::string body(1000, 'b');
  body[0] = '<';
  body[999] = '>';
  c.send(post("/upload", body));
  REQUIRE(h.run_until([&] { return c.finals().size() == 1; }));
  CHECK(c.finals()[0].status == 200);
  REQUIRE(h.service->requests.size() == 1);
  CHECK(h.service->requests[0].body == body);
  CHECK(h.service->requests[0].has_body);
  CHECK(h.service->requests[0].method == Method::Post);
  finish(h);
}

TEST_CASE("a chunked body is reassembled and the connection stays usable") {
  Harness h;
  TestClient& c = h.connect();
  c.send(
      "POST /chunked HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n1;ext=1\r\n!\r\n0\r\n\r\n" +
      get("/after"));
  REQUIRE(h.run_until([&] { return c.finals().size() == 2; }));

  auto rs = c.finals();
  CHECK(targets_of(rs) == std::vector<std::string>{"/chunked", "/after"});
  CHECK(rs[0].json().at("body") == "hello world!");
  REQUIRE(h.service->requests.size() == 2);
  CHECK(h.service->requests[0].body == "hello world!");
  CHECK(h.service->requests[0].has_body);
  CHECK_FALSE(c.eof);
  finish(h);
}

TEST_CASE("a chunked body over max_body_bytes gets 413 too_large and a close") {
  HttpLimits limits;
  limits.max_body_bytes = 1000;
  Harness h(limits);
  TestClient& c = h.connect();
  std::string chunk(600, 'c');
  c.send("POST /chunked HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n" + chunk + "\r\n258\r\n" +
         chunk + "\r\n0\r\n\r\n");
  REQUIRE(h.run_until([&] { return c.eof; }));

  auto rs = c.finals();
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 413);
  CHECK(rs[0].json().at("error") == "too_large");
  CHECK(h.service->requests.empty());
  finish(h);
}

TEST_CASE("Expect: 100-continue gets 100 Continue before the final answer") {
  Harness h;
  TestClient& c = h.connect();
  send_body_after_continue(c, "hello");
  c.send("POST /expect HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  REQUIRE(h.run_until([&] { return c.finals().size() == 1; }));

  CHECK(c.received.compare(0, kContinue.size(), kContinue) == 0);
  auto rs = c.responses();
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].status == 100);
  CHECK(rs[1].status == 200);
  CHECK(rs[1].json().at("body") == "hello");
  REQUIRE(h.service->requests.size() == 1);
  CHECK(h.service->requests[0].expect_continue);
  CHECK_FALSE(c.eof);
  finish(h);
}

TEST_CASE("a pipelined request with Expect: 100-continue gets its 100 once the answers before it are written") {
  Harness h;
  TestClient& c = h.connect();
  c.on_data = [&c, sent = false]() mutable {
    if (!sent && c.received.find(kContinue) != std::string::npos) {
      sent = true;
      c.send("hello");
    }
  };
  c.send(get("/hold/1") + "POST /expect HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  REQUIRE(h.run_until([&] { return h.service->headers_seen.size() == 2; }));
  // The answer before it is not written yet: no 100 Continue either.
  REQUIRE(h.run_until([&] { return h.service->requests.size() == 1; }));
  CHECK(c.received.empty());

  // Released from another connection: answer 1 goes out, then the 100.
  TestClient& other = h.connect();
  other.send(get("/release"));
  REQUIRE(h.run_until([&] { return c.finals().size() == 2; }));
  auto rs = c.responses();
  REQUIRE(rs.size() == 3);
  CHECK(rs[0].status == 200);
  CHECK(rs[0].target() == "/hold/1");
  CHECK(rs[1].status == 100);
  CHECK(rs[2].status == 200);
  CHECK(rs[2].target() == "/expect");
  CHECK(rs[2].json().at("body") == "hello");
  CHECK(h.service->requests.size() == 3);
  CHECK_FALSE(c.eof);
  finish(h);
}

TEST_CASE("a pipelined request with Expect: 100-continue whose body came along gets no 100") {
  // Its body was read before the answer ahead of it was written: when that
  // answer goes out, a 100 Continue would only be noise before the final one.
  Harness h;
  TestClient& c = h.connect();
  c.send(get("/defer/1") +
         "POST /hold/expect HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello");
  REQUIRE(h.run_until([&] { return c.finals().size() == 1 && h.service->requests.size() == 2; }));
  TestClient& other = h.connect();
  other.send(get("/release"));
  REQUIRE(h.run_until([&] { return c.finals().size() == 2; }));
  auto rs = c.responses();
  REQUIRE(rs.size() == 2);
  CHECK(targets_of(rs) == std::vector<std::string>{"/defer/1", "/hold/expect"});
  CHECK(rs[1].json().at("body") == "hello");
  finish(h);
}

// deliver() may begin the close and free the request: on_headers_complete must
// not read it afterwards (AddressSanitizer caught that here once).
TEST_CASE("an early answer to a request with a body is sent without 100 Continue and followed by a close") {
  Harness h;
  h.service->early = [](const HttpRequest& req) -> std::optional<EarlyResponse> {
    if (req.path() == "/early") return unauthorized_early();
    return std::nullopt;
  };
  TestClient& c = h.connect();
  SECTION("the client waits for 100 Continue") {
    c.send("POST /early HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  }
  SECTION("the client sends the body along, and another request after it") {
    c.send(post("/early", "hello") + get("/never"));
  }
  REQUIRE(h.run_until([&] { return c.eof; }));

  auto rs = c.responses();
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 401);
  CHECK(rs[0].json().at("error") == "unauthorized");
  CHECK(rs[0].header("Connection") == "close");
  CHECK(h.service->headers_seen == std::vector<std::string>{"/early"});
  CHECK(h.service->requests.empty());
  finish(h);
}

TEST_CASE("an early answer to a request without a body keeps the connection open") {
  Harness h;
  h.service->early = [](const HttpRequest& req) -> std::optional<EarlyResponse> {
    if (req.path() == "/early") return unauthorized_early();
    return std::nullopt;
  };
  TestClient& c = h.connect();
  c.send(get("/early") + get("/next"));
  REQUIRE(h.run_until([&] { return c.finals().size() == 2; }));
  auto rs = c.finals();
  CHECK(rs[0].status == 401);
  CHECK_FALSE(rs[0].header("Connection").has_value());
  CHECK(rs[1].status == 200);
  CHECK(rs[1].target() == "/next");
  REQUIRE(h.service->requests.size() == 1);  // the early one is not dispatched again
  CHECK(h.service->requests[0].target == "/next");
  CHECK_FALSE(c.eof);
  finish(h);
}

TEST_CASE("a request whose service throws gets 500 after the answers before it, then the connection closes") {
  Harness h;
  TestClient& c = h.connect();
  c.send(get("/defer") + get("/throw") + get("/never"));
  REQUIRE(h.run_until([&] { return c.eof; }));
  auto rs = c.finals();
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].status == 200);
  CHECK(rs[0].target() == "/defer");
  CHECK(rs[1].status == 500);
  CHECK(rs[1].json().at("error") == "internal_error");
  CHECK(rs[1].header("Connection") == "close");
  // Nothing after the failed request is read, and the server goes on serving.
  CHECK(h.service->headers_seen == std::vector<std::string>{"/defer", "/throw"});
  TestClient& next = h.connect();
  next.send(get("/after"));
  REQUIRE(h.run_until([&] { return next.finals().size() == 1; }));
  CHECK(next.finals()[0].status == 200);
  finish(h);
}

TEST_CASE("a request whose service throws while reading its headers gets 500, and the connection goes on") {
  Harness h;
  h.service->early = [](const HttpRequest& req) -> std::optional<EarlyResponse> {
    if (req.path() == "/boom") throw std::runtime_error("the service failed");
    return std::nullopt;
  };
  TestClient& c = h.connect();
  c.send(get("/boom") + get("/next"));
  REQUIRE(h.run_until([&] { return c.finals().size() == 2; }));
  auto rs = c.finals();
  CHECK(rs[0].status == 500);
  CHECK(rs[0].json().at("error") == "internal_error");
  CHECK(rs[1].status == 200);
  CHECK(rs[1].target() == "/next");
  finish(h);
}

TEST_CASE("a request split into 1-byte writes parses the same as one sent whole") {
  Harness h;
  const std::string requests =
      "POST /split?x=1&y=%20 HTTP/1.1\r\nHost: test\r\nAuthorization:  Bearer tok-123  \r\n"
      "Expect: 100-continue\r\nContent-Length: 11\r\n\r\nhello world" +
      std::string("POST /chunked HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer other\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n") +
      get("/plain");

  TestClient& whole = h.connect();
  whole.send(requests);
  REQUIRE(h.run_until([&] { return whole.finals().size() == 3; }));
  TestClient& split = h.connect();
  split.drip(requests);
  REQUIRE(h.run_until([&] { return split.finals().size() == 3; }));
  CHECK_FALSE(split.dripping());

  REQUIRE(h.service->requests.size() == 6);
  for (size_t i = 0; i < 3; ++i) {
    const Seen& a = h.service->requests[i];
    const Seen& b = h.service->requests[i + 3];
    CAPTURE(i, a.target, b.target);
    CHECK(a.conn != b.conn);
    CHECK(same_request(a, b));
  }
  const Seen& first = h.service->requests[3];
  CHECK(first.target == "/split?x=1&y=%20");
  CHECK(first.body == "hello world");
  CHECK(first.has_authorization);
  // Kept as sent (leading whitespace is not part of a field value; trailing is
  // left to bearer_token).
  CHECK(first.authorization == "Bearer tok-123  ");
  CHECK(sprites::http::bearer_token(first.authorization) == "tok-123");
  CHECK(first.expect_continue);
  CHECK(h.service->requests[4].body == "abcde");
  CHECK(h.service->requests[4].authorization == "Bearer other");
  CHECK_FALSE(h.service->requests[5].has_authorization);

  auto a = whole.responses();
  auto b = split.responses();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].status == b[i].status);
    CHECK(a[i].body == b[i].body);
  }
  CHECK(b[0].status == 100);
  finish(h);
}

TEST_CASE("more pipelined requests than max_in_flight are all answered in order") {
  HttpLimits limits;
  limits.max_in_flight = 2;
  Harness h(limits);
  TestClient& c = h.connect();
  constexpr int kRequests = 11;
  std::string burst;
  std::vector<std::string> expected;
  for (int i = 0; i < kRequests; ++i) {
    std::string target = "/defer/" + std::to_string(i);
    burst += i % 3 == 1 ? post(target, "body " + std::to_string(i)) : get(target);
    expected.push_back(target);
  }
  c.send(burst);
  REQUIRE(h.run_until([&] { return c.finals().size() == kRequests; }));

  CHECK(targets_of(c.finals()) == expected);
  CHECK(h.service->requests.size() == kRequests);
  // The connection stopped handing over requests at the limit...
  CHECK(h.service->max_outstanding == 2);
  // ...and the service did answer out of order.
  CHECK(h.service->answered != expected);
  CHECK(c.finals()[1].json().at("body") == "body 1");

  // Reading resumed: the connection still takes requests.
  c.send(get("/after"));
  REQUIRE(h.run_until([&] { return c.finals().size() == kRequests + 1; }));
  CHECK(c.finals().back().target() == "/after");
  CHECK_FALSE(c.eof);
  finish(h);
}

TEST_CASE("pipelined requests answered at once are not limited by max_in_flight") {
  HttpLimits limits;
  limits.max_in_flight = 2;
  Harness h(limits);
  TestClient& c = h.connect();
  std::string burst;
  std::vector<std::string> expected;
  for (int i = 0; i < 40; ++i) {
    expected.push_back("/now/" + std::to_string(i));
    burst += get(expected.back());
  }
  c.send(burst);
  REQUIRE(h.run_until([&] { return c.finals().size() == expected.size(); }));
  CHECK(targets_of(c.finals()) == expected);
  finish(h);
}

TEST_CASE("a client that pipelines without reading is not read past max_queued_bytes of unsent answers") {
  // Answers are written at once, so the in-flight limit never applies: what
  // bounds the server is the bytes it holds for a peer that does not read.
  // Small socket buffers on both sides keep the kernel from absorbing much.
  Harness h;
  const size_t limit = HttpLimits{}.max_queued_bytes;
  h.service->send_buffer = 4096;
  TestClient& c = h.connect(4096);
  c.pause_reading();
  constexpr size_t kRequests = 600;
  std::string burst;
  std::vector<std::string> expected;
  for (size_t i = 0; i < kRequests; ++i) {
    expected.push_back("/pad/" + std::to_string(i));
    burst += get(expected.back());
  }
  REQUIRE(burst.size() < 64 * 1024);  // all of it is in the server's socket at once
  c.send(burst);
  // Bounded observation: the guard ends the wait, the bounds below are the
  // assertions (they hold at any moment while the client does not read).
  h.run_until([&] { return h.service->requests.size() == kRequests; }, 500);
  const uint64_t turns = h.turns;
  h.run_until([&] { return h.service->requests.size() == kRequests; }, 500);
  // Paused, the server waits for the socket: it does not keep the loop busy.
  CHECK(h.turns - turns < 50);

  const size_t seen = h.service->requests.size();
  const size_t kernel = static_cast<size_t>(h.service->send_buffer_set + c.receive_buffer_set());
  CAPTURE(seen, kernel, c.received.size());
  REQUIRE(kernel > 0);
  // Every answer is over kPadAnswerBytes: the kernel's buffers, the limit and
  // the one answer that may overshoot it hold at most this many.
  CHECK(seen <= (kernel + limit) / kPadAnswerBytes + 2);
  // ...and the server did read until its queue was full.
  CHECK(seen * (kPadAnswerBytes + 512) > limit);

  // The client reads at last: everything is answered, in order.
  c.resume_reading();
  REQUIRE(h.run_until([&] { return c.finals().size() == kRequests; }));
  CHECK(targets_of(c.finals()) == expected);
  CHECK(h.service->requests.size() == kRequests);
  c.send(get("/after"));
  REQUIRE(h.run_until([&] { return c.finals().size() == kRequests + 1; }));
  CHECK(c.finals().back().target() == "/after");
  CHECK_FALSE(c.eof);
  finish(h);
}

TEST_CASE("on_close is called exactly once per connection however it ends") {
  Harness h;
  TestClient& stays = h.connect();
  stays.send(get("/stays"));
  TestClient& hangs_up = h.connect();
  hangs_up.send(get("/hangs-up"));
  TestClient& asks_close = h.connect();
  asks_close.send(get("/asks-close", "Connection: close\r\n"));
  TestClient& garbage = h.connect();
  garbage.send("BREW /pot HTCPCP/1.0\r\n\r\n");
  TestClient& leaves_held = h.connect();
  leaves_held.send(get("/hold/forever"));

  REQUIRE(h.run_until([&] {
    return stays.finals().size() == 1 && hangs_up.finals().size() == 1 && asks_close.eof && garbage.eof &&
           h.service->requests.size() == 4;
  }));
  hangs_up.close();
  leaves_held.close();
  // Everything but `stays` ends on its own: by the client, or by the server
  // after its answer once the client has read it.
  REQUIRE(h.run_until([&] { return h.listener->connection_count() == 1; }));
  CHECK(h.service->closes.size() == 4);
  for (const auto& [serial, calls] : h.service->closes) CHECK(calls == 1);
  finish(h);  // closes `stays` through the listener
}

// A request that will close the connection still has its body read when the
// body comes in a later read than the headers (only input after it is dropped).
TEST_CASE("a closing request whose body arrives in a later read is answered") {
  Harness h;
  TestClient& c = h.connect();
  SECTION("Connection: close with Expect: 100-continue") {
    send_body_after_continue(c, "hello");
    c.send(
        "POST /late HTTP/1.1\r\nHost: test\r\nConnection: close\r\nExpect: 100-continue\r\n"
        "Content-Length: 5\r\n\r\n");
  }
  SECTION("HTTP/1.0") {
    c.send("POST /late HTTP/1.0\r\nContent-Length: 5\r\n\r\n");
    REQUIRE(h.run_until([&] { return h.service->headers_seen.size() == 1; }));
    c.send("hello");
  }
  bool answered = h.run_until([&] { return c.finals().size() == 1; }, 1500);
  CHECK(answered);
  if (answered) {
    CHECK(c.finals()[0].json().at("body") == "hello");
    CHECK(h.run_until([&] { return c.eof; }));
  }
  finish(h);
}

TEST_CASE("an answer to HEAD has no body, and the next pipelined request is framed right") {
  Harness h;
  TestClient& c = h.connect();
  c.send("HEAD /now/1 HTTP/1.1\r\nHost: t\r\n\r\n" + get("/now/2"));
  // The test client reads the first answer as a GET's would be read: had the
  // server sent the body, the second answer would be mis-framed.
  REQUIRE(h.run_until([&] { return c.received.find("/now/2") != std::string::npos; }));
  const std::string& raw = c.received;
  CHECK(raw.find("/now/1") == std::string::npos);  // the first answer's body was not sent
  size_t first_end = raw.find("\r\n\r\n");
  REQUIRE(first_end != std::string::npos);
  CHECK(raw.compare(first_end + 4, 9, "HTTP/1.1 ") == 0);  // the next answer starts right after the head
  finish(h);
}

TEST_CASE("a request asking for an upgrade is answered and the next one still is") {
  Harness h;
  TestClient& c = h.connect();
  c.send("GET /now/1 HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n" + get("/now/2"));
  REQUIRE(h.run_until([&] { return c.finals().size() == 2; }));
  CHECK(targets_of(c.finals()) == std::vector<std::string>{"/now/1", "/now/2"});
  finish(h);
}

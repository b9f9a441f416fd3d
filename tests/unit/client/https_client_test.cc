// client/http_client over TLS: an https:// endpoint against a small TLS HTTP
// server written here (a libuv listener on 127.0.0.1 port 0, a server
// TlsStream per connection, certificates from the test PKI), not the relay's
// own server side, which gets TLS separately. The server answers each
// request with 200 {"target", "connection", "body"} where `connection`
// counts the connections it accepted, so reuse is visible; /big answers
// 300 KB, /bye answers and then sends close_notify. Every test runs the loop
// until its last handler dropped the client and closed the server, and ends
// with uv_loop_close() == 0; a watchdog timer only turns a hang into a
// failure.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/http_client.h"
#include "common/tls.h"
#include "pki/test_pki.h"
#include "pki/tls_contexts.h"

using namespace sprites;
using client::HttpClient;
using client::HttpClientOptions;
using client::Request;
using client::Response;
using sprites::test::TestPki;
using sprites::test::client_context;
using sprites::test::server_context;
using tls::TlsContext;
using tls::TlsStream;

namespace {

class TlsHttpServer;

// One accepted connection: its socket, its TLS stream and the plaintext of
// requests not yet answered. Freed in its close callback.
struct ServerConnection {
  TlsHttpServer* server = nullptr;
  uv_tcp_t tcp{};
  std::unique_ptr<TlsStream> tls;
  std::string requests;
  int number = 0;
  bool closing = false;

  tls::TlsIo io() { return tls::TlsIo{this, &ServerConnection::send, &ServerConnection::deliver}; }

  static void send(void* owner, std::string_view ciphertext) {
    auto* c = static_cast<ServerConnection*>(owner);
    if (c->closing) return;
    auto* req = new uv_write_t;
    auto* copy = new std::string(ciphertext);
    req->data = copy;
    uv_buf_t buf = uv_buf_init(copy->data(), static_cast<unsigned>(copy->size()));
    if (uv_write(req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, [](uv_write_t* w, int) {
          delete static_cast<std::string*>(w->data);
          delete w;
        }) != 0) {
      delete copy;
      delete req;
    }
  }
  static bool deliver(void* owner, std::string_view plaintext) {
    static_cast<ServerConnection*>(owner)->requests.append(plaintext);
    return true;
  }

  void close() {
    if (closing) return;
    closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), [](uv_handle_t* h) { delete static_cast<ServerConnection*>(h->data); });
  }

  void answer();
};

class TlsHttpServer {
 public:
  std::vector<std::string> failures;  // the server streams' errors
  int accepted = 0;
  bool plain = false;  // answer in plain HTTP, not TLS (a client that speaks TLS to a plain server)

  TlsHttpServer(uv_loop_t* loop, std::shared_ptr<TlsContext> context) : loop_(loop), context_(std::move(context)) {
    uv_tcp_init(loop_, &listener_);
    listener_.data = this;
    sockaddr_in a{};
    uv_ip4_addr("127.0.0.1", 0, &a);
    REQUIRE(uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&a), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 16, &TlsHttpServer::on_connection) == 0);
    int len = sizeof a;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }

  uint16_t port() const { return port_; }

  void close() {
    for (ServerConnection* c : open_) c->close();
    open_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }

  void forget(ServerConnection* c) { std::erase(open_, c); }

 private:
  static void on_connection(uv_stream_t* listener, int status) {
    auto* s = static_cast<TlsHttpServer*>(listener->data);
    if (status != 0) return;
    auto* c = new ServerConnection;
    c->server = s;
    uv_tcp_init(s->loop_, &c->tcp);
    c->tcp.data = c;
    c->number = ++s->accepted;
    c->tls = std::make_unique<TlsStream>(*s->context_);
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) return c->close();
    s->open_.push_back(c);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t*, size_t, uv_buf_t* buf) {
          static char buffer[64 * 1024];
          *buf = uv_buf_init(buffer, sizeof buffer);
        },
        &TlsHttpServer::on_read);
  }

  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<ServerConnection*>(stream->data);
    if (nread == 0 || c->closing) return;
    TlsHttpServer* s = c->server;
    if (nread < 0) {
      s->forget(c);
      return c->close();
    }
    if (s->plain) {
      ServerConnection::send(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      s->forget(c);
      return c->close();
    }
    TlsStream::Status status = c->tls->read(std::string_view(buf->base, static_cast<size_t>(nread)), c->io());
    if (status == TlsStream::Status::Failed) s->failures.push_back(c->tls->error());
    if (status != TlsStream::Status::Open) {
      s->forget(c);
      return c->close();
    }
    c->answer();
  }

  uv_loop_t* loop_;
  std::shared_ptr<TlsContext> context_;
  uv_tcp_t listener_{};
  uint16_t port_ = 0;
  std::vector<ServerConnection*> open_;
};

// Answers every complete request received so far (the client's requests
// have no body but a POST's, framed by Content-Length).
void ServerConnection::answer() {
  for (;;) {
    const size_t end = requests.find("\r\n\r\n");
    if (end == std::string::npos) return;
    size_t length = 0;
    if (size_t at = requests.find("Content-Length: "); at != std::string::npos && at < end) {
      length = std::stoul(requests.substr(at + 16));
    }
    if (requests.size() < end + 4 + length) return;
    const std::string head = requests.substr(0, end);
    const std::string body = requests.substr(end + 4, length);
    requests.erase(0, end + 4 + length);
    const size_t target_at = head.find(' ') + 1;
    const std::string target = head.substr(target_at, head.find(' ', target_at) - target_at);
    std::string answer = nlohmann::json{{"target", target}, {"connection", number}, {"body", body}}.dump();
    if (target == "/big") answer = "\"" + std::string(300 * 1024, 'x') + "\"";
    tls->write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(answer.size()) + "\r\n\r\n" + answer,
               io());
    if (target == "/bye") {
      tls->shutdown(io());
      server->forget(this);
      return close();
    }
  }
}



struct Harness {
  TestPki pki;
  uv_loop_t loop{};
  std::unique_ptr<TlsHttpServer> server;
  std::shared_ptr<const TlsContext> trusting = client_context(pki.ca_file());
  uv_timer_t watchdog{};
  bool timed_out = false;

  explicit Harness(bool trusted_server = true) {
    REQUIRE(uv_loop_init(&loop) == 0);
    server = std::make_unique<TlsHttpServer>(
        &loop, server_context(trusted_server ? pki.issue("relay") : pki.untrusted("stranger")));
    uv_timer_init(&loop, &watchdog);
    watchdog.data = this;
    uv_timer_start(&watchdog, [](uv_timer_t* t) {
      auto* h = static_cast<Harness*>(t->data);
      h->timed_out = true;
      uv_stop(&h->loop);
    }, 10000, 0);
  }

  // https://127.0.0.1:<port>, verified against the test CA.
  HttpClientOptions options(uint32_t in_flight = 1) {
    HttpClientOptions o;
    std::string error;
    o.server = *client::parse_endpoint("https://127.0.0.1:" + std::to_string(server->port()), &error);
    o.max_in_flight = in_flight;
    o.tls = client::tls_for(o.server, trusting);
    return o;
  }

  // https://<name>:<port> for a name that resolved to 127.0.0.1.
  HttpClientOptions named(const std::string& name) {
    HttpClientOptions o = options();
    o.server.host = name;
    o.server.text = name + ":" + std::to_string(server->port());
    return o;
  }

  void done() {
    server->close();
    uv_timer_stop(&watchdog);
  }

  void run() {
    uv_run(&loop, UV_RUN_DEFAULT);
    REQUIRE_FALSE(timed_out);
    uv_close(reinterpret_cast<uv_handle_t*>(&watchdog), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
};

Request get(std::string target) { return Request{"GET", std::move(target), {}, {}}; }

}  // namespace

TEST_CASE("a request over https gets its answer, and the next one reuses the connection", "[client][http][tls]") {
  Harness h;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.named("localhost"));
  std::vector<std::string> targets;
  std::function<void(int)> next = [&](int i) {
    c->send(get("/r" + std::to_string(i)), [&, i](Response&& r) {
      INFO(r.failure);
      REQUIRE(r.status == 200);
      auto body = nlohmann::json::parse(r.body);
      targets.push_back(body.at("target"));
      CHECK(body.at("connection") == 1);
      if (i < 4) return next(i + 1);
      CHECK(c->connects() == 1);
      c.reset();
      h.done();
    });
  };
  next(0);
  h.run();
  CHECK(targets == std::vector<std::string>{"/r0", "/r1", "/r2", "/r3", "/r4"});
  CHECK(h.server->accepted == 1);
  CHECK(h.server->failures.empty());
}

TEST_CASE("https requests queued before the handshake go out after it, pipelined", "[client][http][tls]") {
  Harness h;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.options(/*in_flight=*/4));
  std::vector<std::string> targets;
  c->send(Request{"POST", "/v1/nodes/x/sprites", "secret", R"({"a":1})"}, [&](Response&& r) {
    REQUIRE(r.status == 200);
    CHECK(nlohmann::json::parse(r.body).at("body") == R"({"a":1})");
  });
  for (int i = 0; i < 6; ++i) {
    c->send(get("/p" + std::to_string(i)), [&, i](Response&& r) {
      REQUIRE(r.status == 200);
      targets.push_back(nlohmann::json::parse(r.body).at("target"));
      if (i == 5) {
        c.reset();
        h.done();
      }
    });
  }
  h.run();
  CHECK(targets == std::vector<std::string>{"/p0", "/p1", "/p2", "/p3", "/p4", "/p5"});
  CHECK(h.server->accepted == 1);
}

TEST_CASE("an https response of many records and reads arrives whole", "[client][http][tls]") {
  Harness h;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.options());
  c->send(get("/big"), [&](Response&& r) {
    CHECK(r.status == 200);
    CHECK(r.body == "\"" + std::string(300 * 1024, 'x') + "\"");
    c.reset();
    h.done();
  });
  h.run();
}

TEST_CASE("a close_notify after an answer ends the connection, and the next request reconnects", "[client][http][tls]") {
  Harness h;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.options());
  c->send(get("/bye"), [&](Response&& r) {
    CHECK(r.status == 200);
    // The answer and the close_notify come in one read: the close is seen
    // after this handler, so the next request may still be queued on the old
    // connection, and goes out on a new one.
    c->send(get("/after"), [&](Response&& r2) {
      INFO(r2.failure);
      REQUIRE(r2.status == 200);
      CHECK(nlohmann::json::parse(r2.body).at("connection") == 2);
      CHECK(c->connects() == 2);
      c.reset();
      h.done();
    });
  });
  h.run();
  CHECK(h.server->accepted == 2);
}

TEST_CASE("an https server whose CA the client does not trust fails every queued request, saying why",
          "[client][http][tls]") {
  Harness h(/*trusted_server=*/false);
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.options(2));
  const std::string expected = "TLS handshake with 127.0.0.1:" + std::to_string(h.server->port()) +
                               " failed: certificate verify failed (unable to get local issuer certificate)";
  int failed = 0;
  for (int i = 0; i < 3; ++i) {
    c->send(get("/x"), [&](Response&& r) {
      CHECK(r.status == 0);
      CHECK(r.failure == expected);
      if (++failed == 3) {
        CHECK(c->connects() == 1);  // not retried: the certificate would not change
        c.reset();
        h.done();
      }
    });
  }
  h.run();
  CHECK(failed == 3);
}

TEST_CASE("an https server whose certificate names another host is refused, saying why", "[client][http][tls]") {
  Harness h;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.named("relay.example.com"));
  c->send(get("/x"), [&](Response&& r) {
    CHECK(r.status == 0);
    CHECK(r.failure.find("TLS handshake with relay.example.com:" + std::to_string(h.server->port()) + " failed: ") == 0);
    CHECK(r.failure.find("hostname mismatch") != std::string::npos);
    c.reset();
    h.done();
  });
  h.run();
}

TEST_CASE("an https client that meets a plain HTTP server fails with the TLS reason", "[client][http][tls]") {
  Harness h;
  h.server->plain = true;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.options());
  c->send(get("/x"), [&](Response&& r) {
    CHECK(r.status == 0);
    CHECK(r.failure.find("TLS handshake with 127.0.0.1:") == 0);
    c.reset();
    h.done();
  });
  h.run();
}

TEST_CASE("an https endpoint without a TLS context sends nothing in the clear", "[client][http][tls]") {
  Harness h;
  HttpClientOptions o = h.options();
  o.tls = nullptr;
  HttpClient::Ptr c = HttpClient::create(&h.loop, o);
  c->send(Request{"GET", "/x", "secret", {}}, [&](Response&& r) {
    CHECK(r.status == 0);
    CHECK(r.failure.find("without a TLS context") != std::string::npos);
    c.reset();
    h.done();
  });
  h.run();
  CHECK(h.server->accepted == 0);
}

TEST_CASE("tls_for gives the context to https endpoints only", "[client][http][tls]") {
  TestPki pki;
  std::shared_ptr<const TlsContext> context = client_context(pki.ca_file());
  std::string error;
  CHECK(client::tls_for(*client::parse_endpoint("https://relay.example.com:8443", &error), context) == context);
  CHECK(client::tls_for(*client::parse_endpoint("relay.example.com:8443", &error), context) == nullptr);
  CHECK(client::tls_for(*client::parse_endpoint("http://relay.example.com:8443", &error), context) == nullptr);
}

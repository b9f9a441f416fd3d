// client/http_client against the relay's own server-side HTTP layer
// (HttpListener) on a private libuv loop, 127.0.0.1, port 0. Everything is
// driven by loop turns: each test runs the loop until its last handler has
// dropped the clients and closed the listener; a watchdog timer only turns a
// hang into a failure. Every test ends with uv_loop_close() == 0, which also
// proves the clients freed their handles.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/http_client.h"
#include "common/http_connection.h"
#include "common/http_listener.h"

using namespace sprites;
using client::HttpClient;
using client::HttpClientOptions;
using client::Request;
using client::Response;

namespace {

// Answers 200 {"target", "authorization", "body"} at once; /big answers 300
// KB; /drop closes the connection without an answer. Records each request's
// peer address.
class EchoService final : public http::HttpService {
 public:
  std::vector<std::string> peers;
  int closes = 0;

  std::optional<http::EarlyResponse> on_headers(http::HttpConnection&, const http::HttpRequest&) override {
    return std::nullopt;
  }
  void on_request(http::HttpConnection& conn, http::HttpRequest& req, uint32_t slot) override {
    sockaddr_storage peer{};
    int len = sizeof peer;
    uv_tcp_getpeername(conn.handle(), reinterpret_cast<sockaddr*>(&peer), &len);
    char text[INET6_ADDRSTRLEN] = {};
    if (peer.ss_family == AF_INET6) uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&peer), text, sizeof text);
    else uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&peer), text, sizeof text);
    peers.emplace_back(text);
    if (req.path() == "/drop") {
      conn.close();
      return;
    }
    if (req.path() == "/big") {
      conn.respond_json(slot, 200, "\"" + std::string(300 * 1024, 'x') + "\"");
      return;
    }
    nlohmann::json j = {{"target", req.target}, {"authorization", req.authorization}, {"body", req.body}};
    conn.respond_json(slot, 200, j.dump());
  }
  void on_close(http::HttpConnection&) override { ++closes; }
};

struct Harness {
  uv_loop_t loop{};
  EchoService service;
  std::unique_ptr<http::HttpListener> listener;
  uv_timer_t watchdog{};
  bool timed_out = false;

  explicit Harness(const char* host = "127.0.0.1") {
    REQUIRE(uv_loop_init(&loop) == 0);
    listener = std::make_unique<http::HttpListener>(&loop, service, http::HttpLimits{});
    REQUIRE(listener->bind(host, 0, false) == 0);
    uv_timer_init(&loop, &watchdog);
    watchdog.data = this;
    uv_timer_start(&watchdog, [](uv_timer_t* t) {
      auto* h = static_cast<Harness*>(t->data);
      h->timed_out = true;
      uv_stop(&h->loop);
    }, 10000, 0);
  }

  HttpClientOptions options(uint16_t port, uint32_t in_flight = 1) {
    HttpClientOptions o;
    std::string error;
    o.server = *client::parse_endpoint("127.0.0.1:" + std::to_string(port), &error);
    o.max_in_flight = in_flight;
    return o;
  }

  // Options for the name "localhost" that resolved to `addresses`, in order.
  HttpClientOptions named(std::vector<uint16_t> ports) {
    HttpClientOptions o;
    o.server.host = "localhost";
    o.server.port = ports.back();
    o.server.text = "localhost:" + std::to_string(ports.back());
    for (uint16_t p : ports) {
      std::string error;
      o.server.addresses.push_back(client::parse_endpoint("127.0.0.1:" + std::to_string(p), &error)->addresses[0]);
    }
    return o;
  }

  // The test is over: close the server side (the clients were dropped by then).
  void done() {
    listener->close();
    uv_timer_stop(&watchdog);
  }

  void run() {
    uv_run(&loop, UV_RUN_DEFAULT);
    REQUIRE_FALSE(timed_out);
    uv_close(reinterpret_cast<uv_handle_t*>(&watchdog), nullptr);
    listener.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
};

Request get(std::string target) { return Request{"GET", std::move(target), {}, {}}; }

// A loopback port bound and not listening: a connect to it is refused for as
// long as the socket is open (nobody else can take the port meanwhile).
struct RefusingPort {
  int fd = -1;
  uint16_t port = 0;
  RefusingPort() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~RefusingPort() { ::close(fd); }
};

}  // namespace

TEST_CASE("requests one after another share one keep-alive connection", "[client][http]") {
  Harness h;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.options(h.listener->port()));
  std::vector<std::string> targets;
  std::function<void(int)> next = [&](int i) {
    c->send(get("/r" + std::to_string(i)), [&, i](Response&& r) {
      CHECK(r.status == 200);
      targets.push_back(nlohmann::json::parse(r.body).at("target"));
      if (i < 4) return next(i + 1);
      CHECK(c->connects() == 1);
      c.reset();
      h.done();
    });
  };
  next(0);
  h.run();
  CHECK(targets == std::vector<std::string>{"/r0", "/r1", "/r2", "/r3", "/r4"});
}

TEST_CASE("pipelined requests are answered in order", "[client][http]") {
  Harness h;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.options(h.listener->port(), 4));
  std::vector<std::string> targets;
  for (int i = 0; i < 10; ++i) {
    c->send(get("/p" + std::to_string(i)), [&, i](Response&& r) {
      targets.push_back(nlohmann::json::parse(r.body).at("target"));
      if (i == 9) {
        CHECK(c->connects() == 1);
        c.reset();
        h.done();
      }
    });
  }
  CHECK(c->pending() == 10);
  h.run();
  REQUIRE(targets.size() == 10);
  for (int i = 0; i < 10; ++i) CHECK(targets[static_cast<size_t>(i)] == "/p" + std::to_string(i));
}

TEST_CASE("a POST carries its body and bearer token", "[client][http]") {
  Harness h;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.options(h.listener->port()));
  c->send(Request{"POST", "/v1/nodes/x/sprites", "secret", R"({"a":1})"}, [&](Response&& r) {
    REQUIRE(r.status == 200);
    auto j = nlohmann::json::parse(r.body);
    CHECK(j.at("authorization") == "Bearer secret");
    CHECK(j.at("body") == R"({"a":1})");
    c.reset();
    h.done();
  });
  h.run();
}

TEST_CASE("a response larger than one read arrives whole", "[client][http]") {
  Harness h;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.options(h.listener->port()));
  c->send(get("/big"), [&](Response&& r) {
    CHECK(r.status == 200);
    CHECK(r.body.size() == 300 * 1024 + 2);
    c.reset();
    h.done();
  });
  h.run();
}

TEST_CASE("a request that gets no answer fails, and the next one reconnects", "[client][http]") {
  Harness h;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.options(h.listener->port()));
  std::vector<int> statuses;
  c->send(get("/drop"), [&](Response&& r) {
    statuses.push_back(r.status);
    CHECK_FALSE(r.failure.empty());
    c->send(get("/after"), [&](Response&& r2) {
      statuses.push_back(r2.status);
      CHECK(c->connects() == 2);
      c.reset();
      h.done();
    });
  });
  h.run();
  CHECK(statuses == std::vector<int>{0, 200});
}

TEST_CASE("a refused connect fails every queued request", "[client][http]") {
  Harness h;
  // A port nobody listens on: take one from the system, then let it go.
  uint16_t dead_port = 0;
  {
    uv_tcp_t probe;
    uv_tcp_init(&h.loop, &probe);
    sockaddr_in a{};
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&probe, reinterpret_cast<const sockaddr*>(&a), 0);
    sockaddr_in bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&probe, reinterpret_cast<sockaddr*>(&bound), &len);
    dead_port = ntohs(bound.sin_port);
    uv_close(reinterpret_cast<uv_handle_t*>(&probe), nullptr);
    uv_run(&h.loop, UV_RUN_NOWAIT);
  }
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.options(dead_port, 2));
  int failed = 0;
  for (int i = 0; i < 3; ++i) {
    c->send(get("/x"), [&](Response&& r) {
      CHECK(r.status == 0);
      CHECK(r.failure.find("connect to 127.0.0.1:") == 0);
      if (++failed == 3) {
        c.reset();
        h.done();
      }
    });
  }
  CHECK(failed == 0);  // never from inside send()
  h.run();
  CHECK(failed == 3);
}

TEST_CASE("a client dropped inside its own handler calls no other handler", "[client][http]") {
  Harness h;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.options(h.listener->port(), 3));
  int called = 0;
  for (int i = 0; i < 3; ++i) {
    c->send(get("/d"), [&](Response&&) {
      ++called;
      c.reset();  // the rest are dropped, the socket closes, the object is freed later
      h.done();
    });
  }
  h.run();
  CHECK(called == 1);
}

TEST_CASE("the client side can be bound to another loopback address", "[client][http]") {
  Harness h;
  HttpClientOptions o = h.options(h.listener->port());
  o.source = client::parse_ipv4("127.0.0.2");
  HttpClient::Ptr c = HttpClient::create(&h.loop, o);
  c->send(get("/whoami"), [&](Response&& r) {
    CHECK(r.status == 200);
    c.reset();
    h.done();
  });
  h.run();
  REQUIRE(h.service.peers.size() == 1);
  CHECK(h.service.peers[0] == "127.0.0.2");
}

TEST_CASE("a connect refused at a name's first address falls through to the next, which later connects start at",
          "[client][http]") {
  Harness h;
  RefusingPort refusing;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.named({refusing.port, h.listener->port()}));
  std::vector<int> statuses;
  c->send(get("/drop"), [&](Response&& r) {
    statuses.push_back(r.status);  // 0: dropped by the server, after the connect fell through
    CHECK(c->connects() == 2);
    CHECK(client::address_text(c->address()) == "127.0.0.1:" + std::to_string(h.listener->port()));
    c->send(get("/after"), [&](Response&& r2) {
      statuses.push_back(r2.status);
      CHECK(c->connects() == 3);  // straight to the address that answered
      c.reset();
      h.done();
    });
  });
  h.run();
  CHECK(statuses == std::vector<int>{0, 200});
}

TEST_CASE("when every address of a name refuses, each queued request fails once with every address's reason",
          "[client][http]") {
  Harness h;
  RefusingPort first;
  RefusingPort second;
  HttpClient::Ptr c = HttpClient::create(&h.loop, h.named({first.port, second.port}));
  int failed = 0;
  for (int i = 0; i < 2; ++i) {
    c->send(get("/x"), [&](Response&& r) {
      CHECK(r.status == 0);
      CHECK(r.failure == "connect to localhost:" + std::to_string(second.port) + ": 127.0.0.1:" +
                             std::to_string(first.port) + ": " + uv_strerror(UV_ECONNREFUSED) + "; 127.0.0.1:" +
                             std::to_string(second.port) + ": " + uv_strerror(UV_ECONNREFUSED));
      if (++failed == 2) {
        CHECK(c->connects() == 2);
        c.reset();
        h.done();
      }
    });
  }
  h.run();
  CHECK(failed == 2);
}

TEST_CASE("an IPv6 literal connects over IPv6", "[client][http]") {
  Harness h("::1");
  std::string error;
  HttpClientOptions o;
  o.server = *client::parse_endpoint("[::1]:" + std::to_string(h.listener->port()), &error);
  HttpClient::Ptr c = HttpClient::create(&h.loop, o);
  c->send(get("/six"), [&](Response&& r) {
    CHECK(r.status == 200);
    c.reset();
    h.done();
  });
  h.run();
  REQUIRE(h.service.peers.size() == 1);
  CHECK(h.service.peers[0] == "::1");
}

TEST_CASE("an IPv4 source address is not bound to an IPv6 connection: the request fails", "[client][http]") {
  Harness h("::1");
  std::string error;
  HttpClientOptions o;
  o.server = *client::parse_endpoint("[::1]:" + std::to_string(h.listener->port()), &error);
  o.source = client::parse_ipv4("127.0.0.2");
  HttpClient::Ptr c = HttpClient::create(&h.loop, o);
  c->send(get("/x"), [&](Response&& r) {
    CHECK(r.status == 0);
    CHECK(r.failure.find(uv_strerror(UV_EAFNOSUPPORT)) != std::string::npos);
    c.reset();
    h.done();
  });
  h.run();
  CHECK(h.service.peers.empty());
}

TEST_CASE("a name never resolved fails its requests instead of connecting anywhere", "[client][http]") {
  Harness h;
  std::string error;
  HttpClientOptions o;
  o.server = *client::parse_endpoint("localhost:" + std::to_string(h.listener->port()), &error);
  REQUIRE_FALSE(o.server.resolved());
  HttpClient::Ptr c = HttpClient::create(&h.loop, o);
  c->send(get("/x"), [&](Response&& r) {
    CHECK(r.status == 0);
    CHECK(r.failure.find("not resolved") != std::string::npos);
    c.reset();
    h.done();
  });
  h.run();
  CHECK(h.service.peers.empty());
}

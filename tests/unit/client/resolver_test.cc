// client/resolver on a private libuv loop, with names that resolve without a
// network: `localhost` (from /etc/hosts), and `no-such-host.invalid` (the
// .invalid domain is reserved never to resolve). Each test runs the loop until
// the lookups answered and ends with uv_loop_close() == 0.
#include <catch2/catch.hpp>

#include <uv.h>

#include <optional>
#include <string>

#include "client/endpoint.h"
#include "client/resolver.h"

using sprites::client::Address;
using sprites::client::Endpoint;
using sprites::client::parse_endpoint;
using sprites::client::resolve;
using sprites::client::resolve_before_run;

namespace {

Endpoint parsed(const std::string& text) {
  std::string error;
  std::optional<Endpoint> e = parse_endpoint(text, &error);
  INFO(error);
  REQUIRE(e);
  return *e;
}

struct Loop {
  uv_loop_t loop{};
  Loop() { REQUIRE(uv_loop_init(&loop) == 0); }
  void run_and_close() {
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
};

struct Answer {
  int calls = 0;
  std::optional<Endpoint> endpoint;
  std::string error;
};

void resolve_into(uv_loop_t* loop, Endpoint e, Answer& answer) {
  resolve(loop, std::move(e), [&answer](std::optional<Endpoint> endpoint, std::string error) {
    ++answer.calls;
    answer.endpoint = std::move(endpoint);
    answer.error = std::move(error);
  });
}

}  // namespace

TEST_CASE("localhost resolves to loopback addresses with the endpoint's port, its Host text unchanged",
          "[client][resolver]") {
  Loop l;
  Answer answer;
  resolve_into(&l.loop, parsed("localhost:8000"), answer);
  CHECK(answer.calls == 0);  // a name is answered from a loop callback
  l.run_and_close();
  REQUIRE(answer.calls == 1);
  INFO(answer.error);
  REQUIRE(answer.endpoint);
  const Endpoint& e = *answer.endpoint;
  CHECK(e.text == "localhost:8000");
  CHECK(e.host == "localhost");
  REQUIRE(e.resolved());
  CHECK(e.is_loopback());
  for (const Address& a : e.addresses) {
    CHECK((a.family() == AF_INET || a.family() == AF_INET6));
    CHECK(a.port() == 8000);
  }
  // One entry per address, not one per socket type.
  for (size_t i = 0; i < e.addresses.size(); ++i) {
    for (size_t j = i + 1; j < e.addresses.size(); ++j) {
      CHECK(sprites::client::address_text(e.addresses[i]) != sprites::client::address_text(e.addresses[j]));
    }
  }
}

TEST_CASE("a literal is answered at once, from inside resolve", "[client][resolver]") {
  Loop l;
  Answer v4;
  Answer v6;
  resolve_into(&l.loop, parsed("127.0.0.1:8000"), v4);
  resolve_into(&l.loop, parsed("[::1]:8000"), v6);
  CHECK(v4.calls == 1);
  CHECK(v6.calls == 1);
  REQUIRE(v4.endpoint);
  REQUIRE(v6.endpoint);
  CHECK(v4.endpoint->addresses.size() == 1);
  CHECK(v6.endpoint->addresses.size() == 1);
  CHECK(v6.endpoint->addresses[0].family() == AF_INET6);
  l.run_and_close();
}

TEST_CASE("a name that does not resolve is one error naming it", "[client][resolver]") {
  Loop l;
  Answer answer;
  resolve_into(&l.loop, parsed("no-such-host.invalid:8000"), answer);
  l.run_and_close();
  REQUIRE(answer.calls == 1);
  CHECK_FALSE(answer.endpoint);
  const std::string prefix = "cannot resolve no-such-host.invalid: ";
  CHECK(answer.error.rfind(prefix, 0) == 0);
  CHECK(answer.error.size() > prefix.size());  // the resolver's reason follows
}

TEST_CASE("resolving before the run fills in every name in place and reports the first failure in order",
          "[client][resolver]") {
  Loop l;
  Endpoint literal = parsed("127.0.0.2:8001");
  Endpoint name = parsed("localhost:8000");
  Endpoint missing = parsed("no-such-host.invalid:8000");
  Endpoint also_missing = parsed("neither-is-this.invalid:8000");

  CHECK(resolve_before_run(&l.loop, {&literal, &name}).empty());
  CHECK(name.resolved());
  CHECK(name.is_loopback());
  CHECK(name.text == "localhost:8000");
  CHECK(literal.addresses.size() == 1);

  Endpoint again = parsed("localhost:8002");
  std::string error = resolve_before_run(&l.loop, {&again, &missing, &also_missing});
  CHECK(error.rfind("cannot resolve no-such-host.invalid: ", 0) == 0);
  CHECK(again.resolved());  // the names that did resolve are kept
  CHECK_FALSE(missing.resolved());
  l.run_and_close();
}

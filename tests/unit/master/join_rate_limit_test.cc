// The join rate limit (docs/API.md "Join control"): N joins per second per
// source address with a burst of 2N, what Retry-After says, which addresses
// share a bucket, and the fixed memory under many addresses. Time is the
// relay's fake clock, moved by hand.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>

#include "master/join_rate_limit.h"
#include "relay_fixture.h"

using sprites::master::JoinRateLimit;
using sprites::master::SourceKey;
using sprites::master::source_key;
using sprites::master::test::FakeClock;

namespace {

// The IPv4 address `number` (host byte order), as a join from it is keyed.
SourceKey v4(uint32_t number) {
  sockaddr_storage storage{};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(40000);
  address.sin_addr.s_addr = htonl(number);
  std::memcpy(&storage, &address, sizeof address);
  auto key = source_key(storage);
  REQUIRE(key.has_value());
  return *key;
}

SourceKey v4(const char* text) {
  in_addr address{};
  REQUIRE(::inet_pton(AF_INET, text, &address) == 1);
  return v4(ntohl(address.s_addr));
}

SourceKey v6(const char* text) {
  sockaddr_storage storage{};
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_port = htons(40000);
  REQUIRE(::inet_pton(AF_INET6, text, &address.sin6_addr) == 1);
  std::memcpy(&storage, &address, sizeof address);
  auto key = source_key(storage);
  REQUIRE(key.has_value());
  return *key;
}

}  // namespace

TEST_CASE("an address joins twice its rate at once, then once per interval") {
  FakeClock clock;
  JoinRateLimit limit(clock, 1);
  const SourceKey a = v4("192.0.2.1");
  CHECK(limit.admit(a) == 0);
  CHECK(limit.admit(a) == 0);
  CHECK(limit.admit(a) == 1);  // over: Retry-After 1
  CHECK(limit.admit(a) == 1);  // refused joins are not counted against it
  clock.advance(999);
  CHECK(limit.admit(a) == 1);
  clock.advance(1);
  CHECK(limit.admit(a) == 0);
  CHECK(limit.admit(a) == 1);
  clock.advance(2000);  // a full bucket again
  CHECK(limit.admit(a) == 0);
  CHECK(limit.admit(a) == 0);
  CHECK(limit.admit(a) == 1);
}

TEST_CASE("the burst of a faster limit is twice its rate") {
  FakeClock clock;
  JoinRateLimit limit(clock, 10);
  const SourceKey a = v4("192.0.2.1");
  for (int i = 0; i < 20; ++i) CHECK(limit.admit(a) == 0);
  CHECK(limit.admit(a) == 1);
  clock.advance(100);
  CHECK(limit.admit(a) == 0);
  CHECK(limit.admit(a) == 1);
}

TEST_CASE("a limit under one join per second says how many seconds to wait") {
  FakeClock clock;
  JoinRateLimit limit(clock, 0.25);  // burst 0.5, taken as 1
  const SourceKey a = v4("192.0.2.1");
  CHECK(limit.admit(a) == 0);
  CHECK(limit.admit(a) == 4);
  clock.advance(2500);
  CHECK(limit.admit(a) == 2);  // 1.5 s, rounded up
  clock.advance(1500);
  CHECK(limit.admit(a) == 0);
}

TEST_CASE("one address over the limit does not limit another") {
  FakeClock clock;
  JoinRateLimit limit(clock, 1);
  const SourceKey a = v4("127.0.0.1");
  const SourceKey b = v4("127.0.0.2");
  CHECK(limit.admit(a) == 0);
  CHECK(limit.admit(a) == 0);
  CHECK(limit.admit(a) == 1);
  CHECK(limit.admit(b) == 0);
  CHECK(limit.admit(b) == 0);
  CHECK(limit.admit(b) == 1);
}

TEST_CASE("IPv6 addresses share a bucket per /64, IPv4-mapped ones are IPv4 addresses") {
  CHECK(v6("2001:db8:1:2::1") == v6("2001:db8:1:2:ffff:ffff:ffff:ffff"));
  CHECK_FALSE(v6("2001:db8:1:2::1") == v6("2001:db8:1:3::1"));
  CHECK(v6("::ffff:192.0.2.1") == v4("192.0.2.1"));
  CHECK_FALSE(v6("::ffff:192.0.2.1") == v4("192.0.2.2"));
  CHECK_FALSE(v4("10.0.0.1") == v4("10.0.0.2"));

  FakeClock clock;
  JoinRateLimit limit(clock, 1);
  CHECK(limit.admit(v6("2001:db8::1")) == 0);
  CHECK(limit.admit(v6("2001:db8::2")) == 0);
  CHECK(limit.admit(v6("2001:db8::3")) == 1);
  CHECK(limit.admit(v6("2001:db8:0:1::1")) == 0);
}

TEST_CASE("an address that is neither IPv4 nor IPv6 has no key") {
  sockaddr_storage unix_address{};
  unix_address.ss_family = AF_UNIX;
  CHECK_FALSE(source_key(unix_address).has_value());
}

TEST_CASE("a limited address stays limited while a thousand others join") {
  FakeClock clock;
  JoinRateLimit limit(clock, 1);
  const SourceKey limited = v4("198.51.100.7");
  CHECK(limit.admit(limited) == 0);
  CHECK(limit.admit(limited) == 0);
  for (uint32_t i = 0; i < 1000; ++i) {
    REQUIRE(limit.admit(v4(0x0A000000u + i)) == 0);
  }
  // A quarter of the table in use: its window still has room for everyone.
  CHECK(limit.admit(limited) == 1);
}

TEST_CASE("the table stays the same size under a flood of addresses, and forgets only in the limited's favour") {
  FakeClock clock;
  JoinRateLimit limit(clock, 1);
  const SourceKey limited = v4("198.51.100.7");
  CHECK(limit.admit(limited) == 0);
  CHECK(limit.admit(limited) == 0);
  REQUIRE(limit.admit(limited) == 1);

  // 100,000 addresses join within one moment: each is let in once.
  for (uint32_t i = 0; i < 100000; ++i) {
    REQUIRE(limit.admit(v4(0x0A000000u + i)) == 0);
  }
  CHECK(limit.tracked() <= JoinRateLimit::kSlots);
  CHECK(limit.tracked() > JoinRateLimit::kSlots / 2);
  // Forgotten or not, the limited address is never held back longer than
  // its own joins asked.
  const uint32_t wait = limit.admit(limited);
  CHECK((wait == 0 || wait == 1));

  // Two seconds on, every bucket is full again: nothing is held.
  clock.advance(2000);
  CHECK(limit.tracked() == 0);
  CHECK(limit.admit(limited) == 0);
}

// The pure request helpers every endpoint relies on: query parameters, unsigned
// integers, bearer tokens, path splitting and route matching, including paths
// built to trick a matcher (dot segments, doubled and encoded slashes).
#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/http_request.h"
#include "common/http_routes.h"

using sprites::http::bearer_token;
using sprites::http::HttpRequest;
using sprites::http::match_route;
using sprites::http::parse_uint;
using sprites::http::query_param;
using sprites::http::Route;
using sprites::http::split_path;
using sprites::http::UintParse;

namespace {

HttpRequest with_target(std::string target) {
  HttpRequest r;
  r.target = std::move(target);
  return r;
}

}  // namespace

// ---- HttpRequest::path / query ----------------------------------------------

TEST_CASE("path and query split the target at the first question mark") {
  CHECK(with_target("/v1/nodes/x/events?after=3").path() == "/v1/nodes/x/events");
  CHECK(with_target("/v1/nodes/x/events?after=3").query() == "after=3");
  CHECK(with_target("/healthz").path() == "/healthz");
  CHECK(with_target("/healthz").query().empty());
  CHECK(with_target("/x?").path() == "/x");
  CHECK(with_target("/x?").query().empty());
  CHECK(with_target("/x?a=1?b=2").query() == "a=1?b=2");
  CHECK(with_target("/x?a=1?b=2").path() == "/x");
}

// ---- query_param ----------------------------------------------------------

TEST_CASE("query_param finds a value and is nullopt when the name is absent") {
  CHECK(query_param("after=3&timeout_ms=10", "after") == "3");
  CHECK(query_param("after=3&timeout_ms=10", "timeout_ms") == "10");
  CHECK(query_param("after=3&timeout_ms=10", "timeout") == std::nullopt);
  CHECK(query_param("", "after") == std::nullopt);
  CHECK(query_param("xafter=1&afterx=2", "after") == std::nullopt);
}

TEST_CASE("query_param takes the last of repeated names") {
  CHECK(query_param("after=1&after=2&after=3", "after") == "3");
  CHECK(query_param("after=1&x=0&after=", "after") == "");
  CHECK(query_param("after=1&after", "after") == "");
}

TEST_CASE("query_param gives an empty value to a name without '='") {
  CHECK(query_param("after", "after") == "");
  CHECK(query_param("x=1&after&y=2", "after") == "");
}

TEST_CASE("query_param percent-decodes values and leaves '+' alone") {
  CHECK(query_param("a=%41%62c", "a") == "Abc");
  CHECK(query_param("a=%2f%2F", "a") == "//");
  CHECK(query_param("a=1%2B2", "a") == "1+2");
  CHECK(query_param("a=1+2", "a") == "1+2");
  CHECK(query_param("a=%C3%A9", "a") == "\xC3\xA9");
  CHECK(query_param("a=%26&b=2", "a") == "&");
}

TEST_CASE("query_param keeps malformed percent sequences as they are") {
  CHECK(query_param("a=%", "a") == "%");
  CHECK(query_param("a=%4", "a") == "%4");
  CHECK(query_param("a=%zz", "a") == "%zz");
  CHECK(query_param("a=%4g1", "a") == "%4g1");
  CHECK(query_param("a=x%", "a") == "x%");
  CHECK(query_param("a=%%41", "a") == "%A");
  CHECK(query_param("a=%41%", "a") == "A%");
}

// ---- parse_uint -----------------------------------------------------------

TEST_CASE("parse_uint accepts plain decimal digits") {
  uint64_t v = 99;
  CHECK(parse_uint("0", v) == UintParse::Ok);
  CHECK(v == 0);
  CHECK(parse_uint("42", v) == UintParse::Ok);
  CHECK(v == 42);
  CHECK(parse_uint("007", v) == UintParse::Ok);
  CHECK(v == 7);
  CHECK(parse_uint("18446744073709551615", v) == UintParse::Ok);
  CHECK(v == UINT64_MAX);
  CHECK(parse_uint("000000000000000000000018446744073709551615", v) == UintParse::Ok);
  CHECK(v == UINT64_MAX);
}

TEST_CASE("parse_uint reports a value past 64 bits as too large") {
  uint64_t v = 0;
  CHECK(parse_uint("18446744073709551616", v) == UintParse::TooLarge);
  CHECK(parse_uint("18446744073709551620", v) == UintParse::TooLarge);
  CHECK(parse_uint("99999999999999999999999", v) == UintParse::TooLarge);
}

TEST_CASE("parse_uint rejects empty text, signs, spaces and other characters") {
  uint64_t v = 0;
  for (std::string_view bad : {"", "+1", "-1", "-0", " 1", "1 ", "1 2", "\t1", "0x10", "1e3", "1.0", "١", "abc", "12a"}) {
    CAPTURE(bad);
    CHECK(parse_uint(bad, v) == UintParse::Invalid);
  }
}

// ---- bearer_token ---------------------------------------------------------

TEST_CASE("bearer_token returns the token of a well-formed header") {
  CHECK(bearer_token("Bearer abc123") == "abc123");
  CHECK(bearer_token("Bearer a-b_c.d~e+f/g=") == "a-b_c.d~e+f/g=");
}

TEST_CASE("bearer_token matches the scheme without regard to case") {
  CHECK(bearer_token("bearer tok") == "tok");
  CHECK(bearer_token("BEARER tok") == "tok");
  CHECK(bearer_token("BeArEr tok") == "tok");
}

TEST_CASE("bearer_token accepts several spaces or tabs and trims the ends") {
  CHECK(bearer_token("Bearer    tok") == "tok");
  CHECK(bearer_token("Bearer\ttok") == "tok");
  CHECK(bearer_token("Bearer \t tok") == "tok");
  CHECK(bearer_token("Bearer tok   ") == "tok");
  CHECK(bearer_token("Bearer tok\t") == "tok");
  CHECK(bearer_token("  Bearer tok") == "tok");
}

TEST_CASE("bearer_token rejects malformed headers") {
  for (std::string_view bad : {"", "Bearer", "Bearer ", "Bearer    ", "Bearer\t", "Bearertok", "Basic abc",
                               "Bearer tok en", "Bearer tok\ten", "Bearer: tok", "Token tok", "Bear tok"}) {
    CAPTURE(bad);
    CHECK_FALSE(bearer_token(bad).has_value());
  }
}

// ---- split_path -----------------------------------------------------------

TEST_CASE("split_path splits on slashes and keeps empty segments") {
  std::string_view seg[5];
  REQUIRE(split_path("/a/b/c", seg, 4) == 3);
  CHECK(seg[0] == "a");
  CHECK(seg[1] == "b");
  CHECK(seg[2] == "c");

  REQUIRE(split_path("/a//c", seg, 4) == 3);
  CHECK(seg[1].empty());

  REQUIRE(split_path("/a/", seg, 4) == 2);
  CHECK(seg[0] == "a");
  CHECK(seg[1].empty());

  REQUIRE(split_path("/", seg, 4) == 1);
  CHECK(seg[0].empty());

  REQUIRE(split_path("", seg, 4) == 1);
  CHECK(seg[0].empty());
}

TEST_CASE("split_path reports more segments than max as max plus one") {
  std::string_view seg[5] = {"untouched", "untouched", "untouched", "untouched", "untouched"};
  CHECK(split_path("/a/b/c/d", seg, 4) == 4);
  CHECK(split_path("/a/b/c/d/e", seg, 4) == 5);
  CHECK(split_path("/a/b/c/d/", seg, 4) == 5);
  CHECK(seg[4] == "untouched");  // never writes past max
  CHECK(split_path("/a/b", seg, 1) == 2);
}

// ---- match_route ----------------------------------------------------------

TEST_CASE("match_route recognises every route") {
  CHECK(match_route("/v1/nodes").route == Route::Nodes);
  CHECK(match_route("/v1/stats").route == Route::Stats);
  CHECK(match_route("/metrics").route == Route::Metrics);
  CHECK(match_route("/healthz").route == Route::Healthz);

  auto node = match_route("/v1/nodes/Qm3x0c");
  CHECK(node.route == Route::Node);
  CHECK(node.node == "Qm3x0c");

  auto events = match_route("/v1/nodes/Qm3x0c/events");
  CHECK(events.route == Route::NodeEvents);
  CHECK(events.node == "Qm3x0c");

  auto sprites = match_route("/v1/nodes/Zp81aa/sprites");
  CHECK(sprites.route == Route::NodeSprites);
  CHECK(sprites.node == "Zp81aa");
}

TEST_CASE("match_route rejects unknown paths") {
  CHECK(match_route("/").route == Route::StatusPage);
  for (std::string_view bad : {"//", "", "/v1", "/v2/nodes", "/v1/node", "/V1/nodes", "/v1/nodes/x/event",
                               "/v1/nodes/x/events/y", "/v1/nodes/x/sprites/", "/metrics/x", "/healthz/x",
                               "/v1/stats/x", "/v1/healthz", "/nodes", "/v1/nodes/x/y/z/w"}) {
    CAPTURE(bad);
    CHECK(match_route(bad).route == Route::None);
  }
}

TEST_CASE("match_route does not normalise dot segments") {
  CHECK(match_route("/v1/nodes/../stats").route == Route::None);
  CHECK(match_route("/v1/./stats").route == Route::None);
  // A dot segment where the id goes is taken as an id (one no node has).
  auto m = match_route("/v1/nodes/../events");
  CHECK(m.route == Route::NodeEvents);
  CHECK(m.node == "..");
}

TEST_CASE("match_route does not take a trailing slash as the same path") {
  CHECK(match_route("/v1/stats/").route == Route::None);
  CHECK(match_route("/metrics/").route == Route::None);
  CHECK(match_route("/healthz/").route == Route::None);
  CHECK(match_route("/v1/nodes/").route == Route::None);
  CHECK(match_route("/v1/nodes/x/").route == Route::None);
  CHECK(match_route("/v1/nodes/x/events/").route == Route::None);
}

TEST_CASE("match_route does not collapse doubled slashes") {
  CHECK(match_route("//v1/stats").route == Route::None);
  CHECK(match_route("/v1//stats").route == Route::None);
  CHECK(match_route("//metrics").route == Route::None);
  CHECK(match_route("/v1/nodes//events").route == Route::None);
  CHECK(match_route("/v1/nodes//sprites").route == Route::None);
}

TEST_CASE("match_route keeps an encoded slash inside the id segment") {
  auto m = match_route("/v1/nodes/a%2Fb/events");
  CHECK(m.route == Route::NodeEvents);
  CHECK(m.node == "a%2Fb");
  auto n = match_route("/v1/nodes/a%2Fb");
  CHECK(n.route == Route::Node);
  CHECK(n.node == "a%2Fb");
}

TEST_CASE("match_route sees a query only when the caller forgets path()") {
  CHECK(match_route(with_target("/metrics?x=1").path()).route == Route::Metrics);
  CHECK(match_route(with_target("/v1/stats?").path()).route == Route::Stats);
  HttpRequest poll = with_target("/v1/nodes/abc/events?after=1&timeout_ms=0");
  auto m = match_route(poll.path());
  CHECK(m.route == Route::NodeEvents);
  CHECK(m.node == "abc");
  // The raw target is not a path: matching it directly finds nothing.
  CHECK(match_route("/metrics?x=1").route == Route::None);
}

// The pure helpers behind the pages: which paths name a page or a web file,
// whether an Accept-Encoding value takes gzip, and whether an If-None-Match
// value names an ETag. Each is checked against the forms browsers send and
// against lists built to trick a parser (refusals, odd case, bad weights).
#include <catch2/catch.hpp>

#include <string_view>

#include "common/http_request.h"
#include "common/http_routes.h"

using sprites::http::accepts_gzip;
using sprites::http::etag_listed;
using sprites::http::match_route;
using sprites::http::Route;

// ---- routes -----------------------------------------------------------------

TEST_CASE("/play and /web/{file} are page routes, the file segment carried as sent") {
  CHECK(match_route("/play").route == Route::PlayPage);
  auto m = match_route("/web/app.js");
  CHECK(m.route == Route::WebFile);
  CHECK(m.file == "app.js");
  CHECK(m.node.empty());
  // The segment is not decoded: a name with %2F names no loaded file.
  CHECK(match_route("/web/a%2Fb").file == "a%2Fb");
  // A leading dot is a name like any other here; no such file is loaded.
  CHECK(match_route("/web/.hidden.js").route == Route::WebFile);
}

TEST_CASE("a web path with no name, more segments or a slash too many is no route") {
  for (std::string_view bad : {"/web", "/web/", "/web/../status.html", "/web/a/b", "/web/sub/", "//web/app.js",
                               "/web//app.js", "/play/", "/play/x", "/Play", "/WEB/app.js"}) {
    CAPTURE(bad);
    CHECK(match_route(bad).route == Route::None);
  }
}

// ---- Accept-Encoding ----------------------------------------------------------

TEST_CASE("accepts_gzip takes gzip as browsers list it") {
  CHECK(accepts_gzip("gzip"));
  CHECK(accepts_gzip("gzip, deflate, br"));
  CHECK(accepts_gzip("gzip, deflate, br, zstd"));
  CHECK(accepts_gzip("deflate,gzip"));
  CHECK(accepts_gzip("br;q=1.0, gzip;q=0.8, *;q=0.1"));
  CHECK(accepts_gzip("  gzip  "));
  CHECK(accepts_gzip("GZip"));
  CHECK(accepts_gzip("x-gzip"));
  CHECK(accepts_gzip("gzip;q=1"));
  CHECK(accepts_gzip("gzip;q=1.000"));
  CHECK(accepts_gzip("gzip ; q=0.001"));
  CHECK(accepts_gzip("gzip;Q=0.5"));
}

TEST_CASE("accepts_gzip takes gzip through * unless gzip itself is named") {
  CHECK(accepts_gzip("*"));
  CHECK(accepts_gzip("br, *;q=0.5"));
  CHECK_FALSE(accepts_gzip("*;q=0"));
  CHECK_FALSE(accepts_gzip("*, gzip;q=0"));
  CHECK_FALSE(accepts_gzip("gzip;q=0, *"));
  CHECK(accepts_gzip("gzip;q=0.5, *;q=0"));
}

TEST_CASE("accepts_gzip refuses what does not take gzip") {
  CHECK_FALSE(accepts_gzip(""));
  CHECK_FALSE(accepts_gzip("identity"));
  CHECK_FALSE(accepts_gzip("deflate, br"));
  CHECK_FALSE(accepts_gzip("gzip;q=0"));
  CHECK_FALSE(accepts_gzip("gzip;q=0.0"));
  CHECK_FALSE(accepts_gzip("gzip;q=0.000"));
  CHECK_FALSE(accepts_gzip("gzip; q=0, deflate"));
  // Names that only contain gzip are other codings.
  CHECK_FALSE(accepts_gzip("gzipped"));
  CHECK_FALSE(accepts_gzip("notgzip"));
  CHECK_FALSE(accepts_gzip("gzip-x"));
  CHECK_FALSE(accepts_gzip("g zip"));
  CHECK_FALSE(accepts_gzip(",,,"));
}

TEST_CASE("accepts_gzip counts an entry with a malformed weight for nothing") {
  for (std::string_view bad : {"gzip;q=", "gzip;q=2", "gzip;q=1.5", "gzip;q=0.0001", "gzip;q=-1", "gzip;q=abc",
                               "gzip;q=.5", "gzip;q=1.001", "gzip;q=0.5x"}) {
    CAPTURE(bad);
    CHECK_FALSE(accepts_gzip(bad));
  }
  // A malformed refusal does not refuse: * still decides.
  CHECK(accepts_gzip("gzip;q=zero, *"));
  // Other parameters are ignored.
  CHECK(accepts_gzip("gzip;level=9"));
  CHECK_FALSE(accepts_gzip("gzip;level=9;q=0"));
}

// ---- If-None-Match ------------------------------------------------------------

TEST_CASE("etag_listed finds a tag alone, in a list, weak, or by *") {
  constexpr std::string_view tag = "\"00112233aabbccdd\"";
  CHECK(etag_listed("\"00112233aabbccdd\"", tag));
  CHECK(etag_listed(" \"00112233aabbccdd\" ", tag));
  CHECK(etag_listed("\"x\", \"00112233aabbccdd\"", tag));
  CHECK(etag_listed("\"x\",\"00112233aabbccdd\",\"y\"", tag));
  CHECK(etag_listed("W/\"00112233aabbccdd\"", tag));
  CHECK(etag_listed("\"a,b\", \"00112233aabbccdd\"", tag));
  CHECK(etag_listed("*", tag));
  CHECK(etag_listed(" * ", tag));
}

TEST_CASE("etag_listed does not take a near miss") {
  constexpr std::string_view tag = "\"00112233aabbccdd\"";
  CHECK_FALSE(etag_listed("", tag));
  CHECK_FALSE(etag_listed("00112233aabbccdd", tag));
  CHECK_FALSE(etag_listed("\"00112233aabbccdd-gz\"", tag));
  CHECK_FALSE(etag_listed("\"00112233AABBCCDD\"", tag));
  CHECK_FALSE(etag_listed("w/\"00112233aabbccdd\"", tag));
  CHECK_FALSE(etag_listed("\"00112233aabbccdd", tag));
  CHECK_FALSE(etag_listed("\"x\"junk, \"00112233aabbccdd\"", tag));
  CHECK_FALSE(etag_listed("*, \"x\"", tag));
  CHECK(etag_listed("\"00112233aabbccdd-gz\"", "\"00112233aabbccdd-gz\""));
}

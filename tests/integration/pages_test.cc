// The pages the master serves to people: the status page at `/`, the play
// page at `/play` and the folder's files at `/web/{file}`, read from the
// repository's web/ folder (or --web-dir), with an ETag a browser revalidates
// against (304), gzipped for a browser that takes it, and 404 when the relay
// has no such page. The worker port serves none of them.
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "support/files.h"
#include "support/http_client.h"
#include "support/relay_process.h"

using namespace sprites::test;

namespace {

std::string gunzip(std::string_view packed) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, 15 + 32) == Z_OK);
  std::string out;
  char chunk[4096];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  z.avail_in = static_cast<uInt>(packed.size());
  int result = Z_OK;
  while (result == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    result = inflate(&z, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - z.avail_out);
  }
  inflateEnd(&z);
  CHECK(result == Z_STREAM_END);
  return out;
}

// A --web-dir of the files these tests ask for, removed at the end: pages, a
// script gzip shrinks, one too small to shrink, and what must never be
// served (a dot file, a subfolder's file).
class WebFolder {
 public:
  WebFolder() {
    char templ[] = "/tmp/sprites-web-XXXXXX";
    REQUIRE(::mkdtemp(templ));
    path_ = templ;
    write("status.html", "<!doctype html><title>status</title>");
    write("play.html", "<!doctype html><title>play</title><script src=\"/web/app.js\"></script>");
    for (int i = 0; i < 100; ++i) app_js_ += "export function step" + std::to_string(i) + "(s) { return s + 1; }\n";
    write("app.js", app_js_);
    write("style.css", "body { margin: 0; }");
    write("tiny.js", "f();");
    write(".hidden.js", "secret();");
    std::filesystem::create_directory(path_ + "/sub");
    write("sub/x", "inner");
  }
  ~WebFolder() { std::filesystem::remove_all(path_); }
  WebFolder(const WebFolder&) = delete;
  WebFolder& operator=(const WebFolder&) = delete;

  const std::string& path() const { return path_; }
  const std::string& app_js() const { return app_js_; }

 private:
  void write(const std::string& name, const std::string& bytes) {
    std::ofstream(path_ + "/" + name, std::ios::binary) << bytes;
  }

  std::string path_;
  std::string app_js_;
};

RelayOptions serving(const WebFolder& web) {
  return RelayOptions{{"--web-dir", web.path()}, {}, SPRITES_BIN_DIR, 1, std::nullopt};
}

const HeaderList kBrowserEncodings = {{"Accept-Encoding", "gzip, deflate, br"}};

}  // namespace

TEST_CASE("the status page is served at / from the repository's web folder, revalidated by its ETag") {
  RelayProcess relay(RelayOptions{{}, {}, SPRITES_BIN_DIR, 1, std::nullopt});
  Connection c(relay.master_port());
  Response page = c.request("GET", "/");
  REQUIRE_STATUS(page, 200);
  CHECK(page.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(page.body == read_file(std::string(SPRITES_SOURCE_DIR) + "/web/status.html"));
  CHECK(page.header("Cache-Control") == "no-cache");
  const std::string etag = page.header("ETag");
  REQUIRE(etag.size() == 18);  // a quoted 64-bit hash
  CHECK(etag.front() == '"');

  Response again = c.request("GET", "/", {{"If-None-Match", etag}});
  REQUIRE_STATUS(again, 304);
  CHECK(again.body.empty());
  CHECK(again.header("ETag") == etag);
  Response stale = c.request("GET", "/", {{"If-None-Match", "\"0000000000000000\""}});
  CHECK(stale.status == 200);
  // The page is only for GET; the API's other paths are unchanged.
  check_error(c.request("POST", "/"), 405, "method_not_allowed");
}

TEST_CASE("a relay serves the folder its web-dir option names, without pages / is 404") {
  char dir[] = "/tmp/sprites-web-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string folder = dir;
  {
    std::ofstream(folder + "/status.html") << "<!doctype html><title>mine</title>";
  }
  {
    RelayProcess relay(RelayOptions{{"--web-dir", folder}, {}, SPRITES_BIN_DIR, 1, std::nullopt});
    Response page = Connection(relay.master_port()).request("GET", "/");
    REQUIRE_STATUS(page, 200);
    CHECK(page.body == "<!doctype html><title>mine</title>");
  }
  ::unlink((folder + "/status.html").c_str());
  ::rmdir(folder.c_str());
  RelayProcess relay(RelayOptions{{"--web-dir", folder}, {}, SPRITES_BIN_DIR, 1, std::nullopt});
  check_error(Connection(relay.master_port()).request("GET", "/"), 404, "not_found");
  // Everything else serves as before.
  CHECK(Connection(relay.master_port()).request("GET", "/healthz").status == 200);
}

TEST_CASE("the play page is served at /play from the repository's web folder") {
  RelayProcess relay(RelayOptions{{}, {}, SPRITES_BIN_DIR, 1, std::nullopt});
  Response page = Connection(relay.master_port()).request("GET", "/play");
  REQUIRE_STATUS(page, 200);
  CHECK(page.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(page.body == read_file(std::string(SPRITES_SOURCE_DIR) + "/web/play.html"));
}

TEST_CASE("the play page is served at /play whatever its query string") {
  WebFolder web;
  RelayProcess relay(serving(web));
  Connection c(relay.master_port());
  for (const char* target : {"/play", "/play?group=g", "/play?group=g&name=ann"}) {
    CAPTURE(target);
    Response page = c.request("GET", target);
    REQUIRE_STATUS(page, 200);
    CHECK(page.header("Content-Type") == "text/html; charset=utf-8");
    CHECK(page.header("X-Content-Type-Options") == "nosniff");
    CHECK(page.header("Cache-Control") == "no-cache");
    CHECK(page.body == "<!doctype html><title>play</title><script src=\"/web/app.js\"></script>");
  }
  // / is still the status page.
  CHECK(c.request("GET", "/").body == "<!doctype html><title>status</title>");
}

TEST_CASE("a web file is served by its name with its content type and nosniff") {
  WebFolder web;
  RelayProcess relay(serving(web));
  Connection c(relay.master_port());
  Response app = c.request("GET", "/web/app.js");
  REQUIRE_STATUS(app, 200);
  CHECK(app.header("Content-Type") == "text/javascript; charset=utf-8");
  CHECK(app.header("X-Content-Type-Options") == "nosniff");
  CHECK(app.header("Cache-Control") == "no-cache");
  // Without Accept-Encoding: the file as it is, marked as one of two variants.
  CHECK_FALSE(app.headers.has("Content-Encoding"));
  CHECK(app.header("Vary") == "Accept-Encoding");
  CHECK(app.header("Content-Length") == std::to_string(web.app_js().size()));
  CHECK(app.body == web.app_js());

  Response css = c.request("GET", "/web/style.css?v=2");
  REQUIRE_STATUS(css, 200);
  CHECK(css.header("Content-Type") == "text/css; charset=utf-8");
  CHECK(css.body == "body { margin: 0; }");
  // The pages are files under /web too.
  CHECK(c.request("GET", "/web/play.html").body == c.request("GET", "/play").body);
}

TEST_CASE("a web file is sent gzipped with its own ETag to a browser that takes gzip") {
  WebFolder web;
  RelayProcess relay(serving(web));
  Connection c(relay.master_port());
  Response plain = c.request("GET", "/web/app.js");
  REQUIRE_STATUS(plain, 200);
  Response packed = c.request("GET", "/web/app.js", kBrowserEncodings);
  REQUIRE_STATUS(packed, 200);
  CHECK(packed.header("Content-Encoding") == "gzip");
  CHECK(packed.header("Vary") == "Accept-Encoding");
  CHECK(packed.header("Content-Type") == "text/javascript; charset=utf-8");
  CHECK(packed.header("X-Content-Type-Options") == "nosniff");
  CHECK(packed.header("Content-Length") == std::to_string(packed.body.size()));
  CHECK(packed.body.size() < web.app_js().size());
  CHECK(gunzip(packed.body) == web.app_js());
  CHECK_FALSE(packed.header("ETag").empty());
  CHECK(packed.header("ETag") != plain.header("ETag"));

  // Codings compare without case, and * takes gzip too.
  CHECK(c.request("GET", "/web/app.js", {{"Accept-Encoding", "br, GZIP"}}).header("Content-Encoding") == "gzip");
  CHECK(c.request("GET", "/web/app.js", {{"Accept-Encoding", "*"}}).header("Content-Encoding") == "gzip");
  // Two Accept-Encoding fields are one list.
  CHECK(c.request("GET", "/web/app.js", {{"Accept-Encoding", "br"}, {"Accept-Encoding", "gzip"}})
            .header("Content-Encoding") == "gzip");
  CHECK_FALSE(c.request("GET", "/web/app.js", {{"Accept-Encoding", "*"}, {"Accept-Encoding", "gzip;q=0"}})
                  .headers.has("Content-Encoding"));
  // A refusal or another coding gets the file as it is.
  for (const char* refusal : {"gzip;q=0", "gzip;q=0, deflate", "*, gzip;q=0", "deflate, br", "identity", ""}) {
    CAPTURE(refusal);
    Response identity = c.request("GET", "/web/app.js", {{"Accept-Encoding", refusal}});
    REQUIRE_STATUS(identity, 200);
    CHECK_FALSE(identity.headers.has("Content-Encoding"));
    CHECK(identity.header("Vary") == "Accept-Encoding");
    CHECK(identity.header("ETag") == plain.header("ETag"));
    CHECK(identity.body == web.app_js());
  }
}

TEST_CASE("a file gzip does not shrink is always sent as it is") {
  WebFolder web;
  RelayProcess relay(serving(web));
  Connection c(relay.master_port());
  Response tiny = c.request("GET", "/web/tiny.js", kBrowserEncodings);
  REQUIRE_STATUS(tiny, 200);
  CHECK_FALSE(tiny.headers.has("Content-Encoding"));
  CHECK_FALSE(tiny.headers.has("Vary"));
  CHECK(tiny.body == "f();");
  CHECK(tiny.header("Content-Type") == "text/javascript; charset=utf-8");
}

TEST_CASE("each variant of a web file is revalidated by its own ETag") {
  WebFolder web;
  RelayProcess relay(serving(web));
  Connection c(relay.master_port());
  const std::string plain_tag = c.request("GET", "/web/app.js").header("ETag");
  const std::string packed_tag = c.request("GET", "/web/app.js", kBrowserEncodings).header("ETag");
  REQUIRE(plain_tag.size() == 18);
  REQUIRE(packed_tag != plain_tag);

  Response plain = c.request("GET", "/web/app.js", {{"If-None-Match", plain_tag}});
  REQUIRE_STATUS(plain, 304);
  CHECK(plain.body.empty());
  CHECK(plain.header("ETag") == plain_tag);
  CHECK(plain.header("Vary") == "Accept-Encoding");
  CHECK_FALSE(plain.headers.has("Content-Encoding"));

  Response packed =
      c.request("GET", "/web/app.js", {{"Accept-Encoding", "gzip, deflate, br"}, {"If-None-Match", packed_tag}});
  REQUIRE_STATUS(packed, 304);
  CHECK(packed.body.empty());
  CHECK(packed.header("ETag") == packed_tag);
  CHECK(packed.header("Vary") == "Accept-Encoding");

  // A list of tags, a weak form of the tag, or *.
  CHECK(c.request("GET", "/web/app.js", {{"If-None-Match", "\"0000000000000000\", " + plain_tag}}).status == 304);
  CHECK(c.request("GET", "/web/app.js", {{"If-None-Match", "W/" + plain_tag}}).status == 304);
  CHECK(c.request("GET", "/web/app.js", {{"If-None-Match", "*"}}).status == 304);

  // One variant's tag does not revalidate the other: the browser gets the
  // variant it asked for, whole.
  Response switched = c.request("GET", "/web/app.js", {{"If-None-Match", packed_tag}});
  REQUIRE_STATUS(switched, 200);
  CHECK(switched.body == web.app_js());
  Response upgraded =
      c.request("GET", "/web/app.js", {{"Accept-Encoding", "gzip, deflate, br"}, {"If-None-Match", plain_tag}});
  REQUIRE_STATUS(upgraded, 200);
  CHECK(upgraded.header("Content-Encoding") == "gzip");
  CHECK(gunzip(upgraded.body) == web.app_js());
}

TEST_CASE("a web path that names no file read from the folder is 404, another method is 405") {
  WebFolder web;
  RelayProcess relay(serving(web));
  Connection c(relay.master_port());
  for (const char* target : {"/web/.hidden.js", "/web/sub", "/web/sub/x", "/web/../status.html", "/web/nope.js",
                             "/web/", "/web", "/web/%2e%2e/status.html", "/web/..%2fstatus.html", "/web//app.js",
                             "/web/app.js/", "/play/", "/play.html"}) {
    CAPTURE(target);
    check_error(c.request("GET", target), 404, "not_found");
  }
  Response post = c.request("POST", "/web/app.js");
  check_error(post, 405, "method_not_allowed");
  CHECK(post.header("Allow") == "GET, OPTIONS");
  check_error(c.request("DELETE", "/play"), 405, "method_not_allowed");
  // The connection is still good after all of these.
  CHECK(c.request("GET", "/web/tiny.js").status == 200);
}

TEST_CASE("the worker port serves no pages") {
  WebFolder web;
  RelayProcess relay(serving(web));
  Connection c(relay.worker_port());
  for (const char* target : {"/play", "/web/app.js", "/"}) {
    CAPTURE(target);
    check_error(c.request("GET", target), 404, "not_found");
  }
}

// The pages the master serves to people: the status page at `/`, read from
// the repository's web/ folder (or --web-dir), with an ETag a browser
// revalidates against (304), and 404 when the relay has no pages.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "support/http_client.h"
#include "support/relay_process.h"

using namespace sprites::test;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("the status page is served at / from the repository's web folder, revalidated by its ETag") {
  RelayProcess relay(RelayOptions{{}, {}, SPRITES_BIN_DIR, 1, std::nullopt});
  Connection c(relay.master_port());
  Response page = c.request("GET", "/");
  REQUIRE_STATUS(page, 200);
  CHECK(page.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(page.body == slurp(std::string(SPRITES_SOURCE_DIR) + "/web/status.html"));
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

// What WebPages reads from its folder and keeps: which files become pages,
// their content types and ETags, and the gzip copies of text files (kept only
// when smaller, decompressing to exactly the file, with an ETag of their own).
#include <catch2/catch.hpp>

#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "master/web_pages.h"

using sprites::master::WebPage;
using sprites::master::WebPages;

namespace {

// A folder of files that exists for the duration of a test.
class TempFolder {
 public:
  TempFolder() {
    char templ[] = "/tmp/sprites-web-pages-test-XXXXXX";
    REQUIRE(::mkdtemp(templ) != nullptr);
    path_ = templ;
  }
  ~TempFolder() { std::filesystem::remove_all(path_); }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;

  void write(const std::string& name, std::string_view bytes) const {
    std::ofstream(path_ + "/" + name, std::ios::binary) << bytes;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

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

std::string repetitive_script() {
  std::string js;
  for (int i = 0; i < 200; ++i) js += "function draw" + std::to_string(i) + "(ctx) { ctx.fillRect(0, 0, 8, 8); }\n";
  return js;
}

}  // namespace

TEST_CASE("only plain files directly in the folder become pages, by exact name") {
  TempFolder dir;
  dir.write("status.html", "<!doctype html>");
  dir.write(".hidden.js", "secret()");
  std::filesystem::create_directory(dir.path() + "/sub");
  dir.write("sub/inner.js", "inner()");
  std::filesystem::create_symlink(dir.path() + "/status.html", dir.path() + "/link.html");

  WebPages pages;
  std::string why;
  REQUIRE(pages.load(dir.path(), why));
  CHECK(pages.size() == 1);
  REQUIRE(pages.find("status.html"));
  CHECK(pages.find("status.html")->body == "<!doctype html>");
  for (std::string_view absent : {".hidden.js", "sub", "sub/inner.js", "link.html", "STATUS.HTML", "status.htm",
                                  "", "./status.html"}) {
    CAPTURE(absent);
    CHECK(pages.find(absent) == nullptr);
  }
}

TEST_CASE("a folder that cannot be read is refused with the reason") {
  WebPages pages;
  std::string why;
  CHECK_FALSE(pages.load("/nonexistent/sprites-web", why));
  CHECK(why.find("/nonexistent/sprites-web") != std::string::npos);
  CHECK(pages.size() == 0);
}

TEST_CASE("each page has the content type of its extension") {
  TempFolder dir;
  for (const char* name : {"a.html", "a.js", "a.css", "a.svg", "a.json", "a.png", "a.ico", "a.bin"}) {
    dir.write(name, "x");
  }
  WebPages pages;
  std::string why;
  REQUIRE(pages.load(dir.path(), why));
  CHECK(pages.find("a.html")->content_type == "text/html; charset=utf-8");
  CHECK(pages.find("a.js")->content_type == "text/javascript; charset=utf-8");
  CHECK(pages.find("a.css")->content_type == "text/css; charset=utf-8");
  CHECK(pages.find("a.svg")->content_type == "image/svg+xml");
  CHECK(pages.find("a.json")->content_type == "application/json");
  CHECK(pages.find("a.png")->content_type == "image/png");
  CHECK(pages.find("a.ico")->content_type == "image/x-icon");
  CHECK(pages.find("a.bin")->content_type == "application/octet-stream");
}

TEST_CASE("a text file gzip makes smaller keeps a gzip copy with its own ETag") {
  TempFolder dir;
  const std::string js = repetitive_script();
  dir.write("app.js", js);
  WebPages pages;
  std::string why;
  REQUIRE(pages.load(dir.path(), why));
  const WebPage* app = pages.find("app.js");
  REQUIRE(app);
  CHECK(app->body == js);
  REQUIRE(app->has_gzip());
  CHECK(app->gzip_body.size() < js.size() / 4);
  CHECK(gunzip(app->gzip_body) == js);
  REQUIRE(app->etag.size() == 18);
  CHECK(app->gzip_etag == app->etag.substr(0, 17) + "-gz\"");
}

TEST_CASE("no gzip copy is kept when it would not be smaller, nor for images") {
  TempFolder dir;
  dir.write("tiny.js", "f()");
  std::string image(4096, '\0');  // compresses well, but images are sent as they are
  dir.write("big.png", image);
  WebPages pages;
  std::string why;
  REQUIRE(pages.load(dir.path(), why));
  CHECK_FALSE(pages.find("tiny.js")->has_gzip());
  CHECK(pages.find("tiny.js")->gzip_etag.empty());
  CHECK_FALSE(pages.find("big.png")->has_gzip());
}

TEST_CASE("the same file gives the same gzip copy on every load") {
  TempFolder dir;
  dir.write("app.js", repetitive_script());
  WebPages first, second;
  std::string why;
  REQUIRE(first.load(dir.path(), why));
  REQUIRE(second.load(dir.path(), why));
  CHECK(first.find("app.js")->gzip_body == second.find("app.js")->gzip_body);
  CHECK(first.find("app.js")->gzip_etag == second.find("app.js")->gzip_etag);
}

// WebPages: the pages the master serves to people, read once from a folder at
// start and kept in memory, so serving them touches no disk and costs the
// long-poll path nothing.
//
// Routes (master/api.cc): `/` is status.html, `/play` is play.html (its query
// string is the page's business), `/web/{file}` is any file read, by its exact
// name; every other name, and a method other than GET, gets the JSON 404 or
// 405 of any path. Answers carry the content type of the file's extension and
// `X-Content-Type-Options: nosniff`.
//
// The folder is --web-dir; by default `web/` beside the build folder of this
// binary (<repo>/build/sprites-master -> <repo>/web, what the README's start
// command runs), else `share/sprites/web` of the tree the package was unpacked
// in (<prefix>/lib/sprites/sprites-master -> <prefix>/share/sprites/web), else
// /usr/share/sprites/web. Only regular
// files of at most kMaxFileBytes directly in it, whose names do not start
// with '.', are read, through no symlink: a name from a URL can only ever be
// looked up among those names, never joined to a path.
//
// Each page has a strong ETag (FNV-1a of its bytes) and
// `Cache-Control: no-cache`: a browser revalidates and gets 304 while the page
// is unchanged. A text file (html, js, css, svg, json) is also kept gzipped
// when that makes it smaller, compressed once here rather than per request.
// It is sent gzipped to a client whose Accept-Encoding takes gzip, with its
// own ETag (the plain one with `-gz` inside the quotes, so a cache never
// mistakes one body for the other), and every answer for such a file says
// `Vary: Accept-Encoding`. Dropped alternative: precompressed `.gz` files in
// the folder, which a deploy can forget to rebuild; the pages are small and
// read once, so compressing them at start costs nothing worth saving.
//
// A master without the folder serves no pages (404, with a log line at start
// saying where it looked); the relay itself does not need them.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/http_connection.h"

namespace sprites::master {

struct WebPage {
  std::string body;
  std::string content_type;
  std::string etag;  // quoted, as sent
  // The body as gzip, for a text file it makes smaller; else empty.
  std::string gzip_body;
  std::string gzip_etag;  // quoted, as sent

  bool has_gzip() const { return !gzip_body.empty(); }
};

class WebPages {
 public:
  static constexpr size_t kMaxFileBytes = 1u << 20;

  // The folder to read: `configured`, or the defaults above when it is empty.
  static std::string folder(const std::string& configured);
  // Reads the folder's files; false (with `why`) when it cannot be read.
  bool load(const std::string& dir, std::string& why);
  // The file named `name` ("status.html"), or nullptr.
  const WebPage* find(std::string_view name) const;
  size_t size() const { return pages_.size(); }

 private:
  std::map<std::string, WebPage, std::less<>> pages_;
};

// Answers a GET for the file `name` of `pages` (nullptr: none loaded): 200
// (gzipped when the client takes it), 304 for its ETag, or 404.
void serve_page(http::HttpConnection& conn, const http::HttpRequest& req, const WebPages* pages, std::string_view name,
                uint32_t slot);

}  // namespace sprites::master

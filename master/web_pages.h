// WebPages: the pages the master serves to people (the status page at `/`),
// read once from a folder at start and kept in memory, so serving them
// touches no disk and costs the long-poll path nothing.
//
// The folder is --web-dir; by default `web/` beside the build folder of this
// binary (<repo>/build/sprites-master -> <repo>/web, what the README's start
// command runs), else /usr/share/sprites/web (an installed copy). Only regular
// files of at most kMaxFileBytes directly in it are read, through no
// symlink. Each page has a strong ETag (FNV-1a of its bytes) and
// `Cache-Control: no-cache`: a browser revalidates and gets 304 while the page
// is unchanged.
//
// A master without the folder serves no pages (404, with a log line at start
// saying where it looked); the relay itself does not need them.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace sprites::master {

struct WebPage {
  std::string body;
  std::string content_type;
  std::string etag;  // quoted, as sent
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

}  // namespace sprites::master

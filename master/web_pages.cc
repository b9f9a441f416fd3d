// See web_pages.h.
#include "master/web_pages.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cinttypes>
#include <cstdio>
#include <memory>

#include "common/fnv1a.h"
#include "common/http_request.h"

namespace sprites::master {
namespace {

struct FileKind {
  std::string_view extension;
  std::string_view content_type;
  bool text;  // worth a gzip copy
};

constexpr FileKind kKinds[] = {
    {".html", "text/html; charset=utf-8", true},
    {".js", "text/javascript; charset=utf-8", true},
    {".css", "text/css; charset=utf-8", true},
    {".svg", "image/svg+xml", true},
    {".json", "application/json", true},
    {".png", "image/png", false},
    {".ico", "image/x-icon", false},
};

FileKind kind_of(std::string_view name) {
  for (const FileKind& k : kKinds) {
    if (name.ends_with(k.extension)) return k;
  }
  return {{}, "application/octet-stream", false};
}

// `body` as one gzip member (RFC 1952) at the highest level; empty when zlib
// fails. No name or time goes in the gzip header, so a file gives the same
// copy on every start, as its ETag (made from the plain bytes) promises.
std::string gzip(std::string_view body) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&z, static_cast<uLong>(body.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  z.avail_in = static_cast<uInt>(body.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (result != Z_STREAM_END) out.clear();
  return out;
}

bool read_file(int dir_fd, const char* name, std::string& out) {
  const int fd = ::openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            static_cast<uint64_t>(st.st_size) <= WebPages::kMaxFileBytes;
  if (ok) {
    out.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < out.size()) {
      const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    ok = got == out.size();
  }
  ::close(fd);
  return ok;
}

}  // namespace

std::string WebPages::folder(const std::string& configured) {
  if (!configured.empty()) return configured;
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    std::string path(exe, static_cast<size_t>(n));
    const size_t slash = path.rfind('/');
    if (slash != std::string::npos) {
      // A checkout (<repo>/build/sprites-master), then an installed tree
      // wherever it was unpacked (<prefix>/lib/sprites/sprites-master).
      const std::string dir = path.substr(0, slash);
      for (const std::string& candidate : {dir + "/../web", dir + "/../../share/sprites/web"}) {
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return candidate;
      }
    }
  }
  return "/usr/share/sprites/web";
}

bool WebPages::load(const std::string& dir, std::string& why) {
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    why = "no folder " + dir;
    return false;
  }
  std::unique_ptr<DIR, int (*)(DIR*)> listing(::fdopendir(::dup(dir_fd)), ::closedir);
  if (!listing) {
    ::close(dir_fd);
    why = "cannot list " + dir;
    return false;
  }
  while (dirent* e = ::readdir(listing.get())) {
    const std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue;
    WebPage page;
    if (!read_file(dir_fd, name.c_str(), page.body)) continue;  // not a small regular file
    const FileKind kind = kind_of(name);
    page.content_type = kind.content_type;
    char tag[24];
    std::snprintf(tag, sizeof tag, "\"%016" PRIx64 "\"", Fnv1a().add(page.body).value());
    page.etag = tag;
    if (kind.text) {
      std::string packed = gzip(page.body);
      if (!packed.empty() && packed.size() < page.body.size()) {
        page.gzip_body = std::move(packed);
        page.gzip_etag = page.etag;
        page.gzip_etag.insert(page.gzip_etag.size() - 1, "-gz");
      }
    }
    pages_[name] = std::move(page);
  }
  ::close(dir_fd);
  return true;
}

const WebPage* WebPages::find(std::string_view name) const {
  auto it = pages_.find(name);
  return it == pages_.end() ? nullptr : &it->second;
}

// Answers a GET of page `name` (see the header).
void serve_page(http::HttpConnection& conn, const http::HttpRequest& req, const WebPages* pages, std::string_view name,
                uint32_t slot) {
  if (!pages || pages->size() == 0) {
    conn.respond_error(slot, 404, "not_found", "this relay serves no pages (see --web-dir)");
    return;
  }
  const WebPage* p = pages->find(name);
  if (!p) {
    conn.respond_error(slot, 404, "not_found", "no such path");
    return;
  }
  const bool gzipped = p->has_gzip() && http::accepts_gzip(req.accept_encoding);
  const std::string& etag = gzipped ? p->gzip_etag : p->etag;
  std::string headers = "ETag: " + etag + "\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n";
  if (p->has_gzip()) headers.append("Vary: Accept-Encoding\r\n");
  if (http::etag_listed(req.if_none_match, etag)) {
    // The variant's ETag and Vary are what a cache matches its copy by.
    conn.respond(slot, 304, {}, {}, headers);
    return;
  }
  if (gzipped) headers.append("Content-Encoding: gzip\r\n");
  conn.respond(slot, 200, p->content_type, gzipped ? p->gzip_body : p->body, headers);
}

}  // namespace sprites::master

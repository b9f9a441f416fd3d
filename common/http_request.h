// HttpRequest: what the HTTP layer hands a service once a request is complete,
// plus the small pure helpers every endpoint needs (path, query, bearer token,
// unsigned integers).
//
// Only the headers the relay acts on are kept (Authorization, Expect, and for
// the pages If-None-Match and Accept-Encoding; framing is llhttp's business);
// the rest are counted against the header limit and dropped. Keeping fewer
// headers keeps a request small and the parse cheap.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sprites::http {

enum class Method : uint8_t { Get, Post, Delete, Options, Head, Put, Patch, Other };

struct HttpRequest {
  Method method = Method::Other;
  std::string target;  // the raw request-target, e.g. /v1/nodes/x/events?after=3
  bool has_authorization = false;
  std::string authorization;  // the header value as sent
  bool expect_continue = false;
  std::string if_none_match;  // the header value as sent (pages: master/web_pages.h)
  std::string accept_encoding;  // the values as sent, several fields joined by ", "
  bool has_body = false;   // Content-Length > 0 or chunked
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool keep_alive = true;  // false for Connection: close and for HTTP/1.0
  std::string body;

  // Back to a fresh request; the strings keep their capacity (pooled requests).
  void reset() {
    method = Method::Other;
    target.clear();
    has_authorization = false;
    authorization.clear();
    expect_continue = false;
    if_none_match.clear();
    accept_encoding.clear();
    has_body = false;
    has_content_length = false;
    content_length = 0;
    keep_alive = true;
    body.clear();
  }

  std::string_view path() const;   // target up to '?'
  std::string_view query() const;  // after '?', empty if none
};

// ASCII case-insensitive equality (header names, content codings).
bool iequals(std::string_view a, std::string_view b);

// The value of the last `name=value` pair in a query string, percent-decoded
// ('+' stays '+'); nullopt when the name is absent. A pair without '=' has an
// empty value.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

// Non-negative decimal integers: digits only, no sign, no spaces.
enum class UintParse { Ok, Invalid, TooLarge };
UintParse parse_uint(std::string_view text, uint64_t& out);

// The token of an `Authorization: Bearer <token>` header (scheme matched without
// regard to case, exactly one space or more, token non-empty and free of
// whitespace); nullopt when the header is malformed.
std::optional<std::string_view> bearer_token(std::string_view header);

// Whether an Accept-Encoding value takes a gzip body: a `gzip` (or `x-gzip`)
// entry decides by its weight, else a `*` entry does; q absent or above 0
// accepts, `q=0` refuses, an entry with a malformed weight counts for nothing.
// Codings compare without regard to case. An empty value takes none.
bool accepts_gzip(std::string_view accept_encoding);

// Whether an If-None-Match value names `etag` (a quoted entity-tag as the
// server sends it): `*`, or a comma-separated list of entity-tags compared
// weakly (`W/"x"` names `"x"`, as RFC 9110 asks for this header). A list that
// stops parsing names nothing after that point.
bool etag_listed(std::string_view if_none_match, std::string_view etag);

// Splits "/a/b/c" into at most `max` segments; returns the count, or max+1 when
// there are more. An empty segment (as in "//") is kept as empty.
size_t split_path(std::string_view path, std::string_view* segments, size_t max);

}  // namespace sprites::http

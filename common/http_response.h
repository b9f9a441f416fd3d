// Response serialisation: every response of both ports is built here, so the
// headers docs/API.md requires on all of them (Access-Control-Allow-Origin,
// Content-Length, Content-Type for JSON) cannot be forgotten by an endpoint.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sprites::http {

inline constexpr std::string_view kJson = "application/json";
inline constexpr std::string_view kText = "text/plain; charset=utf-8";

// Appends a whole HTTP/1.1 response to `out`. `extra_headers` is zero or more
// complete "Name: value\r\n" lines. With `close`, adds "Connection: close".
// An empty content type with an empty body (204) sends neither header but
// Content-Length is still sent for every status except 1xx, 204 and 304.
void append_response(std::string& out, uint16_t status, std::string_view content_type,
                     std::string_view body, std::string_view extra_headers, bool close);

// {"error": code, "message": message} with both strings JSON-escaped.
std::string error_body(std::string_view code, std::string_view message);

// Appends `text` as a JSON string literal (with quotes). `text` must be valid UTF-8.
void append_json_string(std::string& out, std::string_view text);

// Appends `v` in decimal (a JSON number), without a temporary string.
void append_uint(std::string& out, uint64_t v);

std::string_view reason_phrase(uint16_t status);

}  // namespace sprites::http

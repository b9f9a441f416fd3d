// Response serialisation: the headers every response must carry (docs/API.md
// "Transport"), error bodies, and JSON string escaping.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "common/http_response.h"

using sprites::http::append_json_string;
using sprites::http::append_response;
using sprites::http::error_body;
using sprites::http::kJson;
using sprites::http::kText;

namespace {

struct Parsed {
  std::string status_line;
  std::string head;  // header lines, each ending in \r\n
  std::string body;
};

Parsed split(const std::string& response) {
  Parsed p;
  size_t eol = response.find("\r\n");
  size_t end = response.find("\r\n\r\n");
  REQUIRE(eol != std::string::npos);
  REQUIRE(end != std::string::npos);
  p.status_line = response.substr(0, eol);
  p.head = response.substr(eol + 2, end + 2 - (eol + 2));
  p.body = response.substr(end + 4);
  return p;
}

bool has_line(const Parsed& p, std::string_view line) {
  return ("\r\n" + p.head).find("\r\n" + std::string(line) + "\r\n") != std::string::npos;
}

bool has_header(const Parsed& p, std::string_view name) {
  return ("\r\n" + p.head).find("\r\n" + std::string(name) + ":") != std::string::npos;
}

std::string json_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

}  // namespace

TEST_CASE("a JSON response has the status line, CORS, content type and length") {
  std::string out;
  append_response(out, 200, kJson, R"({"a":1})", {}, false);
  Parsed p = split(out);
  CHECK(p.status_line == "HTTP/1.1 200 OK");
  CHECK(has_line(p, "Access-Control-Allow-Origin: *"));
  CHECK(has_line(p, "Content-Type: application/json"));
  CHECK(has_line(p, "Content-Length: 7"));
  CHECK_FALSE(has_header(p, "Connection"));
  CHECK(p.body == R"({"a":1})");
}

TEST_CASE("append_response appends to what is already there") {
  std::string out = "previous";
  append_response(out, 202, kJson, "{}", {}, false);
  CHECK(out.rfind("previousHTTP/1.1 202 Accepted\r\n", 0) == 0);
}

TEST_CASE("status lines carry the reason phrase") {
  for (auto [status, line] : {std::pair<uint16_t, std::string_view>{201, "HTTP/1.1 201 Created"},
                              {400, "HTTP/1.1 400 Bad Request"},
                              {401, "HTTP/1.1 401 Unauthorized"},
                              {404, "HTTP/1.1 404 Not Found"},
                              {405, "HTTP/1.1 405 Method Not Allowed"},
                              {413, "HTTP/1.1 413 Content Too Large"},
                              {429, "HTTP/1.1 429 Too Many Requests"},
                              {431, "HTTP/1.1 431 Request Header Fields Too Large"},
                              {503, "HTTP/1.1 503 Service Unavailable"}}) {
    std::string out;
    append_response(out, status, kJson, "{}", {}, false);
    CHECK(split(out).status_line == line);
  }
}

TEST_CASE("an empty body still has a Content-Length of 0") {
  std::string out;
  append_response(out, 200, kText, "", {}, false);
  Parsed p = split(out);
  CHECK(has_line(p, "Content-Length: 0"));
  CHECK(has_line(p, "Content-Type: text/plain; charset=utf-8"));
  CHECK(p.body.empty());
}

TEST_CASE("a 204 has no Content-Length and no Content-Type") {
  std::string out;
  append_response(out, 204, {}, {}, {}, false);
  Parsed p = split(out);
  CHECK(p.status_line == "HTTP/1.1 204 No Content");
  CHECK(has_line(p, "Access-Control-Allow-Origin: *"));
  CHECK_FALSE(has_header(p, "Content-Length"));
  CHECK_FALSE(has_header(p, "Content-Type"));
  CHECK(p.body.empty());
  CHECK(out.size() >= 4);
  CHECK(out.compare(out.size() - 4, 4, "\r\n\r\n") == 0);
}

TEST_CASE("a response asked to close says Connection: close") {
  std::string out;
  append_response(out, 400, kJson, "{}", {}, true);
  CHECK(has_line(split(out), "Connection: close"));
}

TEST_CASE("extra headers go into the header block") {
  std::string out;
  append_response(out, 503, kJson, "{}", "Retry-After: 1\r\nAllow: GET, OPTIONS\r\n", false);
  Parsed p = split(out);
  CHECK(has_line(p, "Retry-After: 1"));
  CHECK(has_line(p, "Allow: GET, OPTIONS"));
  CHECK(p.body == "{}");
}

TEST_CASE("error_body is JSON with error and message") {
  auto j = nlohmann::json::parse(error_body("unknown_node", "no such node"));
  CHECK(j.size() == 2);
  CHECK(j.at("error") == "unknown_node");
  CHECK(j.at("message") == "no such node");

  auto k = nlohmann::json::parse(error_body("bad_request", "unexpected \"x\" at \\ line\n"));
  CHECK(k.at("message") == "unexpected \"x\" at \\ line\n");
}

TEST_CASE("append_json_string escapes quotes and backslashes") {
  CHECK(json_string("a\"b") == R"("a\"b")");
  CHECK(json_string("a\\b") == R"("a\\b")");
  CHECK(json_string("") == R"("")");
}

TEST_CASE("append_json_string escapes every control character") {
  CHECK(json_string("\n\r\t") == R"("\n\r\t")");
  CHECK(json_string(std::string_view("\0", 1)) == R"("\u0000")");
  CHECK(json_string("\x01\x1f") == R"("\u0001\u001f")");
  std::string all;
  for (int c = 0; c < 0x20; ++c) all.push_back(static_cast<char>(c));
  std::string quoted = json_string(all);
  for (char c : quoted) CHECK(static_cast<unsigned char>(c) >= 0x20);
  CHECK(nlohmann::json::parse(quoted).get<std::string>() == all);
}

TEST_CASE("append_json_string keeps UTF-8 as it is") {
  std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80 \x7F";
  CHECK(json_string(text) == "\"" + text + "\"");
  CHECK(nlohmann::json::parse(json_string(text)).get<std::string>() == text);
}

// See http_response.h. Hand-built header blocks: this runs for every response on
// both ports, so it appends into one string without intermediate objects.
#include "common/http_response.h"

#include <charconv>

namespace sprites::http {

std::string_view reason_phrase(uint16_t status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

void append_response(std::string& out, uint16_t status, std::string_view content_type,
                     std::string_view body, std::string_view extra_headers, bool close) {
  char number[24];
  out.append("HTTP/1.1 ");
  auto [end, ec] = std::to_chars(number, number + sizeof number, status);
  (void)ec;
  out.append(number, end);
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append("\r\nAccess-Control-Allow-Origin: *\r\n");
  if (!content_type.empty()) {
    out.append("Content-Type: ");
    out.append(content_type);
    out.append("\r\n");
  }
  if (status >= 200 && status != 204 && status != 304) {
    out.append("Content-Length: ");
    auto [len_end, len_ec] = std::to_chars(number, number + sizeof number, body.size());
    (void)len_ec;
    out.append(number, len_end);
    out.append("\r\n");
  }
  if (close) out.append("Connection: close\r\n");
  out.append(extra_headers);
  out.append("\r\n");
  out.append(body);
}

void append_uint(std::string& out, uint64_t v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  (void)ec;  // 24 bytes hold every uint64_t
  out.append(digits, end);
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto plain = [](unsigned char c) { return c >= 0x20 && c != '"' && c != '\\'; };
  out.reserve(out.size() + text.size() + 2);
  out.push_back('"');
  // Ids and most names need no escape: copy runs of plain bytes whole.
  size_t i = 0;
  while (i < text.size()) {
    size_t run = i;
    while (run < text.size() && plain(static_cast<unsigned char>(text[run]))) ++run;
    out.append(text.data() + i, run - i);
    if (run == text.size()) break;
    auto c = static_cast<unsigned char>(text[run]);
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
    i = run + 1;
  }
  out.push_back('"');
}

std::string error_body(std::string_view code, std::string_view message) {
  std::string out;
  out.reserve(32 + code.size() + message.size());
  out.append("{\"error\":");
  append_json_string(out, code);
  out.append(",\"message\":");
  append_json_string(out, message);
  out.push_back('}');
  return out;
}

}  // namespace sprites::http

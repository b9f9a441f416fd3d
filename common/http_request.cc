// Pure request helpers; see http_request.h. No allocation except for a decoded
// query value.
#include "common/http_request.h"

#include <algorithm>

namespace sprites::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A qvalue ("0", "0.5", "1.000"; RFC 9110 12.4.2) in thousandths, or -1 when
// it is malformed.
int qvalue_thousandths(std::string_view text) {
  if (text.empty() || (text[0] != '0' && text[0] != '1')) return -1;
  int value = (text[0] - '0') * 1000;
  if (text.size() == 1) return value;
  if (text[1] != '.' || text.size() > 5) return -1;
  int scale = 100;
  for (char c : text.substr(2)) {
    if (c < '0' || c > '9') return -1;
    value += (c - '0') * scale;
    scale /= 10;
  }
  return value > 1000 ? -1 : value;
}

// The weight of one Accept-Encoding entry's parameters (";q=0.5"), 1000 when
// none is given, -1 when it is malformed.
int entry_weight(std::string_view params) {
  int q = 1000;
  while (!params.empty()) {
    params.remove_prefix(1);  // the ';'
    const size_t semi = params.find(';');
    const std::string_view param = trim_spaces(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi);
    const size_t eq = param.find('=');
    if (eq == std::string_view::npos || !iequals(trim_spaces(param.substr(0, eq)), "q")) continue;
    q = qvalue_thousandths(trim_spaces(param.substr(eq + 1)));
    if (q < 0) return -1;
  }
  return q;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}


std::string_view HttpRequest::path() const {
  std::string_view t = target;
  size_t q = t.find('?');
  return q == std::string_view::npos ? t : t.substr(0, q);
}

std::string_view HttpRequest::query() const {
  std::string_view t = target;
  size_t q = t.find('?');
  return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  std::optional<std::string> found;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key == name) {
      found = eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1));
    }
  }
  return found;
}

UintParse parse_uint(std::string_view text, uint64_t& out) {
  if (text.empty()) return UintParse::Invalid;
  uint64_t value = 0;
  bool too_large = false;
  for (char c : text) {
    if (c < '0' || c > '9') return UintParse::Invalid;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) too_large = true;
    if (!too_large) value = value * 10 + digit;
  }
  if (too_large) return UintParse::TooLarge;
  out = value;
  return UintParse::Ok;
}

std::optional<std::string_view> bearer_token(std::string_view header) {
  while (!header.empty() && is_space(header.front())) header.remove_prefix(1);
  while (!header.empty() && is_space(header.back())) header.remove_suffix(1);
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size() || !is_space(header[kScheme.size()])) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return std::nullopt;
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && is_space(token.front())) token.remove_prefix(1);
  if (token.empty()) return std::nullopt;
  for (char c : token) {
    if (is_space(c)) return std::nullopt;
  }
  return token;
}

bool accepts_gzip(std::string_view accept_encoding) {
  int gzip_q = -1;  // -1: not named
  int any_q = -1;
  while (!accept_encoding.empty()) {
    const size_t comma = accept_encoding.find(',');
    const std::string_view entry = accept_encoding.substr(0, comma);
    accept_encoding = comma == std::string_view::npos ? std::string_view{} : accept_encoding.substr(comma + 1);
    const size_t semi = entry.find(';');
    const std::string_view coding = trim_spaces(entry.substr(0, semi));
    const int q = entry_weight(semi == std::string_view::npos ? std::string_view{} : entry.substr(semi));
    if (q < 0) continue;
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
      gzip_q = std::max(gzip_q, q);
    } else if (coding == "*") {
      any_q = std::max(any_q, q);
    }
  }
  return gzip_q >= 0 ? gzip_q > 0 : any_q > 0;
}

bool etag_listed(std::string_view if_none_match, std::string_view etag) {
  if (trim_spaces(if_none_match) == "*") return true;
  std::string_view rest = if_none_match;
  while (true) {
    while (!rest.empty() && (is_space(rest.front()) || rest.front() == ',')) rest.remove_prefix(1);
    if (rest.empty()) return false;
    if (rest.starts_with("W/")) rest.remove_prefix(2);
    if (rest.empty() || rest.front() != '"') return false;
    const size_t close = rest.find('"', 1);
    if (close == std::string_view::npos) return false;
    if (rest.substr(0, close + 1) == etag) return true;
    rest.remove_prefix(close + 1);
    if (!rest.empty() && !is_space(rest.front()) && rest.front() != ',') return false;
  }
}

size_t split_path(std::string_view path, std::string_view* segments, size_t max) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  size_t count = 0;
  while (true) {
    size_t slash = path.find('/');
    if (count == max) return max + 1;
    segments[count++] = path.substr(0, slash);
    if (slash == std::string_view::npos) return count;
    path.remove_prefix(slash + 1);
  }
}

}  // namespace sprites::http

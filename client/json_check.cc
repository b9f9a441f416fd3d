// See json_check.h. One forward pass over the bytes with an explicit stack of
// open containers (no recursion, so no depth limit, as in nlohmann).
#include "client/json_check.h"

#include <locale.h>

#include <cmath>
#include <cstdlib>
#include <string>

namespace sprites::client {
namespace {

class Checker {
 public:
  explicit Checker(std::string_view text)
      : p_(reinterpret_cast<const unsigned char*>(text.data())), end_(p_ + text.size()) {}

  bool run() {
    if (end_ - p_ >= 3 && p_[0] == 0xEF && p_[1] == 0xBB && p_[2] == 0xBF) p_ += 3;
    skip_space();
    if (!value()) return false;
    for (;;) {
      skip_space();
      if (open_.empty()) return at_token_end();
      char container = open_.back();
      if (has(',')) {
        ++p_;
        skip_space();
        if (container == '{' && !key()) return false;
        if (!value()) return false;
        continue;
      }
      if (has(container == '{' ? '}' : ']')) {
        ++p_;
        open_.pop_back();
        continue;
      }
      return false;
    }
  }

 private:
  bool has(unsigned char c) const { return p_ < end_ && *p_ == c; }
  // Where a token would start, nlohmann's lexer takes a NUL byte for the end
  // of the input.
  bool at_token_end() const { return p_ == end_ || *p_ == '\0'; }

  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  // At a key: a string, then ':'; leaves p_ at the value.
  bool key() {
    if (!has('"') || !string()) return false;
    skip_space();
    if (!has(':')) return false;
    ++p_;
    skip_space();
    return true;
  }

  // One value; a container is opened (and its first key read) and left for
  // run() to walk.
  bool value() {
    if (at_token_end()) return false;
    switch (*p_) {
      case '{':
        ++p_;
        skip_space();
        if (has('}')) {
          ++p_;
          return true;
        }
        open_.push_back('{');
        return key() && value();
      case '[':
        ++p_;
        skip_space();
        if (has(']')) {
          ++p_;
          return true;
        }
        open_.push_back('[');
        return value();
      case '"': return string();
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return number();
    }
  }

  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size()) return false;
    if (std::string_view(reinterpret_cast<const char*>(p_), word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  static int hex(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // After "\u": four hex digits; -1 when they are not.
  int code_unit() {
    if (end_ - p_ < 4) return -1;
    int out = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hex(p_[i]);
      if (h < 0) return -1;
      out = out * 16 + h;
    }
    p_ += 4;
    return out;
  }

  bool escape() {  // at the byte after '\'
    if (p_ == end_) return false;
    switch (*p_++) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': return true;
      case 'u': break;
      default: return false;
    }
    int unit = code_unit();
    if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return false;
    if (unit < 0xD800 || unit > 0xDBFF) return true;
    // A high surrogate: a low one must follow.
    if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
    p_ += 2;
    int low = code_unit();
    return low >= 0xDC00 && low <= 0xDFFF;
  }

  // A continuation byte in [lo, hi].
  bool next_in(unsigned char lo, unsigned char hi) {
    if (p_ == end_ || *p_ < lo || *p_ > hi) return false;
    ++p_;
    return true;
  }

  // One UTF-8 sequence of two or more bytes (RFC 3629, as nlohmann checks it).
  bool multibyte() {
    unsigned char c = *p_++;
    if (c >= 0xC2 && c <= 0xDF) return next_in(0x80, 0xBF);
    if (c == 0xE0) return next_in(0xA0, 0xBF) && next_in(0x80, 0xBF);
    if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return next_in(0x80, 0xBF) && next_in(0x80, 0xBF);
    if (c == 0xED) return next_in(0x80, 0x9F) && next_in(0x80, 0xBF);
    if (c == 0xF0) return next_in(0x90, 0xBF) && next_in(0x80, 0xBF) && next_in(0x80, 0xBF);
    if (c >= 0xF1 && c <= 0xF3) return next_in(0x80, 0xBF) && next_in(0x80, 0xBF) && next_in(0x80, 0xBF);
    if (c == 0xF4) return next_in(0x80, 0x8F) && next_in(0x80, 0xBF) && next_in(0x80, 0xBF);
    return false;
  }

  bool string() {  // at the opening quote
    ++p_;
    while (p_ < end_) {
      unsigned char c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        ++p_;
        if (!escape()) return false;
      } else if (c < 0x80) {
        ++p_;
      } else if (!multibyte()) {
        return false;
      }
    }
    return false;
  }

  bool digits() {
    const unsigned char* start = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ != start;
  }

  bool number() {
    const unsigned char* start = p_;
    if (has('-')) ++p_;
    if (has('0')) {
      ++p_;
    } else if (p_ == end_ || *p_ < '1' || *p_ > '9' || !digits()) {
      return false;
    }
    bool integer = true;
    if (has('.')) {
      ++p_;
      if (!digits()) return false;
      integer = false;
    }
    if (has('e') || has('E')) {
      ++p_;
      if (has('+') || has('-')) ++p_;
      if (!digits()) return false;
      integer = false;
    }
    // nlohmann reads a number that fits no 64-bit integer as a double and
    // refuses one that overflows it. Up to 19 digits always fit.
    if (integer && p_ - start <= 19) return true;
    return finite(start);
  }

  bool finite(const unsigned char* start) const {
    static locale_t c_locale = ::newlocale(LC_ALL_MASK, "C", nullptr);
    std::string token(reinterpret_cast<const char*>(start), static_cast<size_t>(p_ - start));
    return std::isfinite(::strtod_l(token.c_str(), nullptr, c_locale));
  }

  const unsigned char* p_;
  const unsigned char* end_;
  std::string open_;  // '{' or '[' per open container, innermost last
};

}  // namespace

bool is_json(std::string_view text) { return Checker(text).run(); }

}  // namespace sprites::client

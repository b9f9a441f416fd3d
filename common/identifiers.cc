// See identifiers.h.
#include "common/identifiers.h"

#include <cstdint>

namespace sprites {
namespace {

bool id_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

}  // namespace

bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxNodeIdChars) return false;
  for (char c : id) {
    if (!id_char(c)) return false;
  }
  return true;
}

bool valid_group(std::string_view group) {
  if (group.size() > kMaxGroupChars) return false;
  for (char c : group) {
    if (!id_char(c) && c != '.') return false;
  }
  return true;
}

bool valid_name(std::string_view name) {
  // Bytes bound code points from above, so short names skip the count.
  return valid_utf8(name) && (name.size() <= kMaxNameChars || count_code_points(name) <= kMaxNameChars);
}

size_t count_code_points(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

size_t utf8_sequence_length(std::string_view s) {
  if (s.empty()) return 0;
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return len;
}

bool valid_utf8(std::string_view text) {
  while (!text.empty()) {
    size_t n = utf8_sequence_length(text);
    if (n == 0) return false;
    text.remove_prefix(n);
  }
  return true;
}

}  // namespace sprites

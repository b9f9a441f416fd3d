// See join_body.h. Joins are rare next to throws, so a DOM parse is fine here.
#include "master/join_body.h"

#include <nlohmann/json.hpp>

namespace sprites::master {
namespace {

constexpr JoinBodyError kInvalidJson{"invalid_json", "the body must be empty or a JSON object"};
constexpr JoinBodyError kInvalidGroup{"invalid_group", "group must be a string of 0-64 characters [A-Za-z0-9._-]"};
constexpr JoinBodyError kInvalidName{"invalid_name", "name must be a string of at most 64 characters of valid UTF-8"};
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool valid_group(std::string_view g) {
  if (g.size() > 64) return false;
  for (char c : g) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

// Length of the valid UTF-8 sequence at the start of `s`, or 0.
size_t utf8_sequence(std::string_view s) {
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

std::string replace_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  while (!text.empty()) {
    size_t n = utf8_sequence(text);
    if (n == 0) {
      out.append(kReplacement);
      text.remove_prefix(1);
    } else {
      out.append(text.substr(0, n));
      text.remove_prefix(n);
    }
  }
  return out;
}

}  // namespace

bool valid_utf8(std::string_view text) {
  while (!text.empty()) {
    size_t n = utf8_sequence(text);
    if (n == 0) return false;
    text.remove_prefix(n);
  }
  return true;
}

std::variant<JoinBody, JoinBodyError> parse_join_body(std::string_view body) {
  JoinBody out;
  if (body.empty()) return out;
  // nlohmann stops at a NUL byte as at the end of input: "{}\0junk" would pass.
  if (body.find('\0') != std::string_view::npos) return kInvalidJson;
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  bool repaired = false;
  if (doc.is_discarded() && !valid_utf8(body)) {
    doc = nlohmann::json::parse(replace_invalid_utf8(body), nullptr, false);
    repaired = true;
  }
  if (doc.is_discarded() || !doc.is_object()) return kInvalidJson;
  auto group = doc.find("group");
  auto name = doc.find("name");
  if (group != doc.end()) {
    if (!group->is_string() || !valid_group(group->get_ref<const std::string&>())) return kInvalidGroup;
    out.group = group->get<std::string>();
  }
  if (name != doc.end()) {
    if (!name->is_string()) return kInvalidName;
    const std::string& text = name->get_ref<const std::string&>();
    if (repaired && text.find(kReplacement) != std::string::npos) return kInvalidName;
    if (code_points(text) > 64) return kInvalidName;
    out.name = text;
  }
  if (repaired) return kInvalidJson;  // the bad bytes were somewhere else
  return out;
}

}  // namespace sprites::master

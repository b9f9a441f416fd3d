// See join_body.h. Joins are rare next to throws, so a DOM parse is fine here.
#include "master/join_body.h"

#include <nlohmann/json.hpp>

#include "common/identifiers.h"
#include "common/json_limits.h"

namespace sprites::master {
namespace {

constexpr JoinBodyError kInvalidJson{"invalid_json", "the body must be empty or a JSON object"};
constexpr JoinBodyError kInvalidGroup{"invalid_group", "group must be a string of 0-64 characters [A-Za-z0-9._-]"};
constexpr JoinBodyError kInvalidName{"invalid_name", "name must be a string of at most 64 characters of valid UTF-8"};
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

std::string replace_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  while (!text.empty()) {
    size_t n = utf8_sequence_length(text);
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

std::variant<JoinBody, JoinBodyError> parse_join_body(std::string_view body) {
  JoinBody out;
  if (body.empty()) return out;
  // nlohmann stops at a NUL byte as at the end of input: "{}\0junk" would pass.
  if (body.find('\0') != std::string_view::npos) return kInvalidJson;
  // The same nesting bound as a throw body (common/json_limits.h): deeper
  // values are not kept, and the body is refused.
  bool too_deep = false;
  auto bounded = [&too_deep](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth >= static_cast<int>(kMaxJsonDepth)) too_deep = true;  // depth 0: the body's own object
    return !too_deep;
  };
  nlohmann::json doc = nlohmann::json::parse(body, bounded, /*allow_exceptions=*/false);
  bool repaired = false;
  if (doc.is_discarded() && !too_deep && !valid_utf8(body)) {
    doc = nlohmann::json::parse(replace_invalid_utf8(body), bounded, false);
    repaired = true;
  }
  if (too_deep || doc.is_discarded() || !doc.is_object()) return kInvalidJson;
  auto group = doc.find("group");
  auto name = doc.find("name");
  if (group != doc.end()) {
    if (!group->is_string() || !valid_group(group->get_ref<const std::string&>())) return kInvalidGroup;
    out.group = group->get<std::string>();
    out.has_group = true;
  }
  if (name != doc.end()) {
    if (!name->is_string()) return kInvalidName;
    const std::string& text = name->get_ref<const std::string&>();
    if (repaired && text.find(kReplacement) != std::string::npos) return kInvalidName;
    if (count_code_points(text) > kMaxNameChars) return kInvalidName;
    out.name = text;
    out.has_name = true;
  }
  if (repaired) return kInvalidJson;  // the bad bytes were somewhere else
  return out;
}

}  // namespace sprites::master

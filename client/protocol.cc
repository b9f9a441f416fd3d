// See protocol.h.
#include "client/protocol.h"

#include <charconv>

#include "client/json_check.h"
#include "common/http_response.h"

namespace sprites::client {

EventType event_type(std::string_view name) {
  if (name == "sprite") return EventType::Sprite;
  if (name == "neighbors") return EventType::Neighbors;
  if (name == "returned") return EventType::Returned;
  return EventType::Unknown;
}

std::string join_body(const std::optional<std::string>& group, const std::optional<std::string>& name) {
  std::string out = "{";
  if (group) {
    out.append("\"group\":");
    http::append_json_string(out, *group);
  }
  if (name) {
    if (group) out.push_back(',');
    out.append("\"name\":");
    http::append_json_string(out, *name);
  }
  out.push_back('}');
  return out;
}

std::string throw_body(Direction direction, std::string_view sprite_json, std::optional<std::string_view> id) {
  std::string out;
  out.reserve(sprite_json.size() + 64);
  out.append("{\"direction\":\"").append(direction_name(direction)).append("\",\"sprite\":");
  out.append(sprite_json);
  if (id) {
    out.append(",\"id\":");
    http::append_json_string(out, *id);
  }
  out.push_back('}');
  return out;
}

std::string node_target(std::string_view node) { return "/v1/nodes/" + std::string(node); }

std::string sprites_target(std::string_view node) { return node_target(node) + "/sprites"; }

std::string events_target(std::string_view node, uint64_t after, std::optional<uint64_t> timeout_ms) {
  std::string out = node_target(node);
  out.append("/events?after=").append(std::to_string(after));
  if (timeout_ms) out.append("&timeout_ms=").append(std::to_string(*timeout_ms));
  return out;
}

std::optional<Json> parse_json(std::string_view body) {
  Json value = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

namespace {

// A cursor over JSON text known to be valid: only skipping, no checking.
struct RawScanner {
  std::string_view text;
  size_t pos = 0;

  bool done() const { return pos >= text.size(); }
  bool at(char c) const { return !done() && text[pos] == c; }
  void skip_space() {
    while (!done() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) ++pos;
  }
  // At a '"': returns the raw content between the quotes and moves past them.
  std::string_view string() {
    size_t begin = ++pos;
    while (!done() && text[pos] != '"') pos += text[pos] == '\\' ? 2 : 1;
    std::string_view out = text.substr(begin, std::min(pos, text.size()) - begin);
    ++pos;
    return out;
  }
  void value() {
    if (done()) return;
    char c = text[pos];
    if (c == '"') {
      string();
      return;
    }
    if (c == '{' || c == '[') {
      int depth = 0;
      while (!done()) {
        char d = text[pos];
        if (d == '"') {
          string();
          continue;
        }
        ++pos;
        if (d == '{' || d == '[') ++depth;
        else if ((d == '}' || d == ']') && --depth == 0) return;
      }
      return;
    }
    while (!done() && text[pos] != ',' && text[pos] != '}' && text[pos] != ']' && text[pos] != ' ' &&
           text[pos] != '\t' && text[pos] != '\n' && text[pos] != '\r') {
      ++pos;
    }
  }
  // Past a ',' before the next item; false at the end of the container.
  bool next_item() {
    skip_space();
    if (!at(',')) return false;
    ++pos;
    skip_space();
    return true;
  }
};

// The content of a JSON string (the bytes between its quotes), unescaped.
std::string unescape(std::string_view content) {
  if (content.find('\\') == std::string_view::npos) return std::string(content);
  std::string quoted;
  quoted.reserve(content.size() + 2);
  quoted.append(1, '"').append(content).append(1, '"');
  Json value = Json::parse(quoted, nullptr, /*allow_exceptions=*/false);
  return value.is_string() ? value.get<std::string>() : std::string();
}

bool key_is(std::string_view raw_key, std::string_view key) {
  if (raw_key.find('\\') == std::string_view::npos) return raw_key == key;
  return unescape(raw_key) == key;
}

}  // namespace

RawObject::RawObject(std::string_view text) : text_(text) {
  RawScanner s{text_};
  if (text_.starts_with("\xEF\xBB\xBF")) s.pos = 3;  // a byte order mark, skipped as nlohmann does
  s.skip_space();
  if (!s.at('{')) return;
  ++s.pos;
  s.skip_space();
  while (s.at('"')) {
    std::string_view name = s.string();
    s.skip_space();
    if (!s.at(':')) return;
    ++s.pos;
    s.skip_space();
    size_t begin = s.pos;
    s.value();
    add(Member{name, text_.substr(begin, s.pos - begin)});
    if (!s.next_item()) return;
  }
}

RawObject RawObject::checked(std::string_view body) { return RawObject(is_json(body) ? body : std::string_view()); }

void RawObject::add(Member m) {
  if (count_ < kInlineMembers) inline_[count_] = m;
  else spilled_.push_back(m);
  ++count_;
}

std::optional<std::string_view> RawObject::member(std::string_view key) const {
  for (size_t i = count_; i-- > 0;) {  // the last of a repeated key counts
    const Member& m = i < kInlineMembers ? inline_[i] : spilled_[i - kInlineMembers];
    if (key_is(m.key, key)) return m.value;
  }
  return std::nullopt;
}

bool RawObject::read_uint(std::string_view key, uint64_t& out) const {
  std::optional<std::string_view> v = member(key);
  if (!v || v->empty()) return false;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), value);
  if (ec != std::errc() || end != v->data() + v->size()) return false;  // "-1", "1.5", "1e3", "\"7\""
  out = value;
  return true;
}

bool RawObject::read_string(std::string_view key, std::string& out) const {
  std::optional<std::string_view> v = member(key);
  if (!v || v->size() < 2 || v->front() != '"') return false;
  out = unescape(v->substr(1, v->size() - 2));
  return true;
}

bool RawObject::read_bool(std::string_view key, bool& out) const {
  std::optional<std::string_view> v = member(key);
  if (v == "true") out = true;
  else if (v == "false") out = false;
  else return false;
  return true;
}

std::optional<std::vector<std::string_view>> RawObject::array_elements(std::string_view key) const {
  std::optional<std::string_view> v = member(key);
  if (!v || !v->starts_with('[')) return std::nullopt;
  std::vector<std::string_view> out;
  RawScanner s{*v, 1};
  s.skip_space();
  if (s.at(']')) return out;
  do {
    size_t begin = s.pos;
    s.value();
    out.push_back(v->substr(begin, s.pos - begin));
  } while (s.next_item());
  return out;
}

bool read_node_ref(const RawObject& value, NodeRef& out) {
  NodeRef ref;
  if (!value.read_string("node", ref.node)) return false;
  value.read_string("name", ref.name);  // a name may be empty; absent is tolerated
  out = std::move(ref);
  return true;
}

bool read_position(const RawObject& value, Position& out) {
  Position p;
  if (!value.read_uint("row", p.row) || !value.read_uint("col", p.col)) return false;
  out = p;
  return true;
}

bool read_neighbours(const RawObject& value, Neighbours& out) {
  Neighbours n;
  for (Direction d : kAllDirections) {
    if (!read_member(value, direction_name(d), read_node_ref, n[d])) return false;
  }
  out = std::move(n);
  return true;
}

std::string error_code(const Response& response) {
  if (!response.answered()) return {};
  std::string code;
  RawObject::checked(response.body).read_string("error", code);
  return code;
}

std::string outcome(const Response& response) {
  if (!response.answered()) return "no answer";
  std::string out = std::to_string(response.status);
  if (response.status >= 400) {
    std::string code = error_code(response);
    if (!code.empty()) out.append(" ").append(code);
  }
  return out;
}

std::string describe(const Response& response) {
  if (!response.answered()) return response.failure.empty() ? "no answer" : response.failure;
  std::string out = std::to_string(response.status);
  RawObject body = RawObject::checked(response.body);
  std::string code, message;
  if (body.read_string("error", code)) {
    out.append(" ").append(code);
    if (body.read_string("message", message)) out.append(": ").append(message);
  } else if (!response.body.empty()) {
    out.append(" ").append(response.body.substr(0, 200));
  }
  return out;
}

std::optional<std::string> url_address(std::string_view url) {
  size_t scheme = 0;
  for (std::string_view prefix : {"http://", "https://"}) {
    if (url.substr(0, prefix.size()) == prefix) scheme = prefix.size();
  }
  if (scheme == 0) return std::nullopt;
  std::string_view rest = url.substr(scheme);
  rest = rest.substr(0, rest.find('/'));
  if (rest.empty() || rest.find(':') == std::string_view::npos) return std::nullopt;
  return std::string(url.substr(0, scheme + rest.size()));
}

std::optional<std::string> redirect_address(const Response& response) {
  if (response.status != 307) return std::nullopt;
  Json body = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("location") || !body["location"].is_string()) return std::nullopt;
  return url_address(body["location"].get<std::string>());
}

}  // namespace sprites::client

// See event_text.h.
#include "master/event_text.h"

#include "common/http_response.h"

namespace sprites::master {
namespace {

// An empty string reserved for `bytes`.
std::string reserved(size_t bytes) {
  std::string text;
  text.reserve(bytes);
  return text;
}

}  // namespace

void append_ref(std::string& out, EventRef ref) {
  out.append("{\"node\":");
  http::append_json_string(out, ref.node);
  out.append(",\"name\":");
  http::append_json_string(out, ref.name);
  out.push_back('}');
}

std::string sprite_event_text(EventRef from, Direction direction, std::optional<std::string_view> id,
                              std::string_view sprite, uint32_t& tail_at) {
  std::string text = reserved(96 + from.node.size() + from.name.size() + (id ? id->size() : 0) + sprite.size());
  text.append("\"type\":\"sprite\",\"from\":");
  append_ref(text, from);
  text.push_back(',');
  tail_at = static_cast<uint32_t>(text.size());
  text.append("\"direction\":\"");
  text.append(direction_name(direction));
  text.append("\",");
  if (id) {
    text.append("\"id\":");
    http::append_json_string(text, *id);
    text.push_back(',');
  }
  text.append("\"sprite\":");
  text.append(sprite);
  text.push_back('}');
  return text;
}

std::string returned_event_text(EventRef to, std::string_view tail, uint32_t& tail_at) {
  std::string text = reserved(96 + to.node.size() + to.name.size() + tail.size());
  text.append("\"type\":\"returned\",\"to\":");
  append_ref(text, to);
  text.push_back(',');
  tail_at = static_cast<uint32_t>(text.size());
  text.append(tail);
  return text;
}

std::string neighbors_event_text(std::string_view place) {
  constexpr std::string_view kType = "\"type\":\"neighbors\",";
  std::string text = reserved(kType.size() + place.size() + 1);
  text.append(kType);
  text.append(place);
  text.push_back('}');
  return text;
}

void append_with_seq(std::string& out, uint64_t seq, std::string_view text) {
  out.append("{\"seq\":");
  http::append_uint(out, seq);
  out.push_back(',');
  out.append(text);
}

std::string with_seq(uint64_t seq, std::string_view text) {
  std::string out = reserved(8 + 20 + 1 + text.size());
  append_with_seq(out, seq, text);
  return out;
}

}  // namespace sprites::master

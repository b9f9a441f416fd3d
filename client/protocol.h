// The client side of docs/API.md's wire shapes: request targets and bodies a
// client sends, and the pieces of answers it reads (node references,
// positions, neighbour sets, events, errors).
//
// Answers are read with nlohmann's ordered_json: it keeps members in the order
// the relay sent them, and lookups over the handful of members of an event are
// as quick as a map's. Every reader here returns false on a shape it does not
// know instead of throwing: answers come from the network.
//
// Poll answers, the one answer a busy client reads per event, are not built
// into a DOM: is_json (json_check.h) checks the whole answer, then a RawObject
// finds the few members the client acts on in the bytes themselves. The DOM of
// a small poll answer cost the swarm 25k instructions, 60% of its user-space
// work per throw (callgrind, closed loop). Events stay as the relay sent them,
// so a tool prints them byte for byte.
//
// Left out: anything a server needs (validation of ids and names beyond what a
// client must check before sending).
//
// Dropped alternative: a typed struct for every answer, filled by nlohmann's
// from_json. Events are handed on (printed, measured) more than they are
// read, and the few members the client acts on are read where they are used.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/transport.h"
#include "common/direction.h"

namespace sprites::client {

using Json = nlohmann::ordered_json;

struct NodeRef {
  std::string node;
  std::string name;
};

struct Position {
  uint64_t row = 0;
  uint64_t col = 0;
};

// A node's four neighbours, indexed by Direction.
struct Neighbours {
  std::array<NodeRef, 4> by_direction;
  NodeRef& operator[](Direction d) { return by_direction[static_cast<size_t>(d)]; }
  const NodeRef& operator[](Direction d) const { return by_direction[static_cast<size_t>(d)]; }
};

enum class EventType : uint8_t { Sprite, Neighbors, Returned, Unknown };

EventType event_type(std::string_view name);

// The relay address of an `http://host:port[/...]` or `https://host:port[/...]`
// URL (a relay's public URL, or a redirect's location) with its scheme and
// without its path, "https://relay.example.com:8443", which parse_endpoint
// reads as a TLS endpoint; nullopt for anything else.
std::optional<std::string> url_address(std::string_view url);
// The relay address a 307 answer points at (its body's `location`, which the
// relay sends beside the Location header: the transports surface no headers).
std::optional<std::string> redirect_address(const Response& response);

// ---- requests ---------------------------------------------------------------

// {"group": ..., "name": ...}; a member is left out when not given.
std::string join_body(const std::optional<std::string>& group, const std::optional<std::string>& name);
// {"direction": ..., "sprite": <sprite_json spliced byte for byte>, "id": ...}.
std::string throw_body(Direction direction, std::string_view sprite_json, std::optional<std::string_view> id);

std::string node_target(std::string_view node);      // /v1/nodes/{id}
std::string sprites_target(std::string_view node);   // /v1/nodes/{id}/sprites
// /v1/nodes/{id}/events?after=C, plus &timeout_ms=T unless `timeout_ms` is unset.
std::string events_target(std::string_view node, uint64_t after, std::optional<uint64_t> timeout_ms);

// ---- answers ----------------------------------------------------------------

// Parses a body; nullopt when it is not JSON.
std::optional<Json> parse_json(std::string_view body);

// The top-level members of a JSON object, indexed in one pass over its bytes.
// The text must already be known to be valid JSON (checked(), or a part of such
// a text): RawObject only skips over values, it does not check them. Keys are
// compared after unescaping; for a key given twice the last one counts, as in
// a parse. Anything that is not an object has no members. The index lives in
// the object (a dozen members) and spills to the heap only beyond that.
class RawObject {
 public:
  explicit RawObject(std::string_view text);
  // An answer's body: indexed when it is JSON (is_json), else with no members.
  static RawObject checked(std::string_view body);

  std::string_view text() const { return text_; }
  // The bytes of the member's value, as sent.
  std::optional<std::string_view> member(std::string_view key) const;
  // A non-negative integer member (digits only); false when absent or of another type.
  bool read_uint(std::string_view key, uint64_t& out) const;
  // A string member, unescaped; false when absent or of another type.
  bool read_string(std::string_view key, std::string& out) const;
  // A true or false member; false when absent or of another type.
  bool read_bool(std::string_view key, bool& out) const;
  // The byte spans of the elements of an array member; nullopt when the
  // member is absent or not an array.
  std::optional<std::vector<std::string_view>> array_elements(std::string_view key) const;

 private:
  struct Member {
    std::string_view key;  // the bytes between the quotes, escapes as sent
    std::string_view value;
  };
  static constexpr size_t kInlineMembers = 12;

  void add(Member m);

  std::string_view text_;
  std::array<Member, kInlineMembers> inline_{};
  std::vector<Member> spilled_;
  size_t count_ = 0;
};

// Readers of the protocol's shapes, from a RawObject of valid JSON; each
// leaves `out` alone and returns false on a shape it does not know.
bool read_node_ref(const RawObject& value, NodeRef& out);  // {"node":..., "name":...}
bool read_position(const RawObject& value, Position& out);  // {"row":..., "col":...}
bool read_neighbours(const RawObject& value, Neighbours& out);  // {"left": ref, "right": ..., "up": ..., "down": ...}
// The member `key` of `object` read with one of the readers above; false when
// it is absent.
template <typename T>
bool read_member(const RawObject& object, std::string_view key, bool (*reader)(const RawObject&, T&), T& out) {
  std::optional<std::string_view> v = object.member(key);
  return v && reader(RawObject(*v), out);
}

// The `error` code of a JSON error body, "" when the body is not one.
std::string error_code(const Response& response);
// For counting answers by kind: "202", "429 rate_limited", "503 node_limit",
// or "no answer" when there was none.
std::string outcome(const Response& response);
// For people: "429 rate_limited: <message>", or the failure reason.
std::string describe(const Response& response);

}  // namespace sprites::client

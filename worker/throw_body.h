// Validation of a throw request body (POST /v1/nodes/{id}/sprites).
//
// The body must be a JSON object with
//   "direction": one of "left", "right", "up", "down"           (else invalid_direction)
//   "sprite":    a JSON object                                   (else invalid_sprite)
//   "id":        optional string of at most 64 code points       (else invalid_sprite)
// Other members are ignored. A body that is not JSON, or not an object, is
// invalid_json; so is one nested deeper than kMaxThrowDepth. When a member
// appears twice the last one counts (as for nlohmann's DOM). JSON null is a
// value, not an absence: "id": null is invalid_sprite.
//
// Checks run in that order (json, then direction, then sprite/id), so a body
// with several faults gets the first one's error.
//
// The sprite is not re-serialised: `sprite` is a view of the exact bytes of the
// sprite object inside the body (from its '{' to its matching '}'), so integers
// beyond 53 bits, number spellings and key order reach the receiver untouched.
// Parsing uses nlohmann's SAX interface (no DOM is built: a throw costs no
// allocation per JSON value), and a small scanner finds the raw sprite bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "common/direction.h"
#include "common/identifiers.h"
#include "common/json_limits.h"

namespace sprites::worker {

inline constexpr size_t kMaxThrowDepth = kMaxJsonDepth;
inline constexpr size_t kMaxSpriteIdChars = kMaxNameChars;

struct ThrowBody {
  Direction direction = Direction::Left;
  bool has_id = false;
  std::string id;            // decoded string value (escapes resolved), valid UTF-8
  std::string_view sprite;   // raw bytes of the sprite object, a view into the body
};

struct ThrowBodyError {
  std::string_view code;  // "invalid_json", "invalid_direction" or "invalid_sprite"
  std::string message;    // for humans, e.g. "direction must be one of left, right, up, down"
};

std::variant<ThrowBody, ThrowBodyError> parse_throw_body(std::string_view body);

}  // namespace sprites::worker

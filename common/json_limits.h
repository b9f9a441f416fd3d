// JSON limits: how deep a JSON value that the relay passes on may nest, and a
// check of a stored value against it.
//
// docs/API.md lets a throw body nest at most 64 levels, counting the body's
// own object, so that receivers' parsers are safe; the sprite inside it, one
// level down, nests at most 63 on its own. The worker checks the body as it
// arrives (worker/throw_body); the master checks a sprite it reads back from
// a snapshot with is_json_object_within().
//
// Dropped alternative: nlohmann's DOM parse with a depth callback. It builds
// the whole value only to throw it away; the SAX pass below keeps nothing.
#pragma once

#include <cstddef>
#include <string_view>

namespace sprites {

inline constexpr size_t kMaxJsonDepth = 64;

// True when `text` is exactly one JSON object (no NUL byte, nothing after it)
// nested at most `max_depth` levels deep, itself included.
bool is_json_object_within(std::string_view text, size_t max_depth);

}  // namespace sprites

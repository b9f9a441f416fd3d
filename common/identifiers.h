// The protocol's identifier rules (docs/API.md "Identifiers"), in one place
// for every part that has to check them: the join body, the throw body, and
// the snapshot loader, which checks what it reads back as if it came from the
// network.
//
//   node id    1-32 of [A-Za-z0-9_-]
//   group      0-64 of [A-Za-z0-9._-]
//   name       0-64 code points of valid UTF-8 (a sprite's id follows the same
//              rule: at most 64 characters)
//
// UTF-8 is valid when it has no overlong forms, no surrogates and nothing past
// U+10FFFF (RFC 3629), which is what nlohmann's parser accepts in a string.
#pragma once

#include <cstddef>
#include <string_view>

namespace sprites {

inline constexpr size_t kMaxNodeIdChars = 32;
inline constexpr size_t kMaxGroupChars = 64;
inline constexpr size_t kMaxNameChars = 64;

bool valid_node_id(std::string_view id);
bool valid_group(std::string_view group);
// Valid UTF-8 of at most kMaxNameChars code points (names and sprite ids).
bool valid_name(std::string_view name);

bool valid_utf8(std::string_view text);
// Length of the valid UTF-8 sequence at the start of `text`, or 0 when it
// does not start with one (or is empty).
size_t utf8_sequence_length(std::string_view text);
// Code points in valid UTF-8: the bytes that do not continue a sequence.
size_t count_code_points(std::string_view utf8);

}  // namespace sprites

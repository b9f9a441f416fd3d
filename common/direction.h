// Direction: the four edges of a screen a sprite can be thrown off.
//
// Shared by the worker (which parses it from a throw body), the IPC messages
// (which carry it as one byte) and the master's grid (which walks it). Kept as a
// tiny enum rather than a string so that the hot path compares bytes, not text.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sprites {

enum class Direction : uint8_t { Left = 0, Right = 1, Up = 2, Down = 3 };

inline constexpr Direction kAllDirections[] = {Direction::Left, Direction::Right, Direction::Up,
                                               Direction::Down};

// "left", "right", "up", "down".
std::string_view direction_name(Direction d);

// The exact lower-case names only; anything else is nullopt.
std::optional<Direction> parse_direction(std::string_view text);

// The byte form used on the IPC wire; nullopt for a byte that names no direction.
std::optional<Direction> direction_from_byte(uint8_t byte);

}  // namespace sprites

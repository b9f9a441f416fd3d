// Names and wire bytes of Direction; see direction.h.
#include "common/direction.h"

namespace sprites {

std::string_view direction_name(Direction d) {
  switch (d) {
    case Direction::Left: return "left";
    case Direction::Right: return "right";
    case Direction::Up: return "up";
    case Direction::Down: return "down";
  }
  return "left";  // unreachable: every enumerator is handled above
}

std::optional<Direction> parse_direction(std::string_view text) {
  for (Direction d : kAllDirections) {
    if (direction_name(d) == text) return d;
  }
  return std::nullopt;
}

std::optional<Direction> direction_from_byte(uint8_t byte) {
  if (byte > static_cast<uint8_t>(Direction::Down)) return std::nullopt;
  return static_cast<Direction>(byte);
}

}  // namespace sprites

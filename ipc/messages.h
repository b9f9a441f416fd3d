// Typed IPC messages: what the bodies of the frames in frame.h carry.
//
// Each message has an encoder that returns the frame body and a decoder that
// rejects a malformed body (returns false) instead of trusting its lengths. The
// sprite travels as the raw JSON bytes the client sent (the worker validated
// them), so the master never re-parses or re-serialises it.
//
// Body layouts (integers little-endian; str8 = u8 length + bytes, str16 = u16
// length + bytes, str32 = u32 length + bytes):
//   Hello:       u32 worker pid
//   Throw:       u8 direction, str8 node id, str8 token, u8 has_id, str16 sprite id,
//                str32 sprite JSON
// (The sprite id is at most 64 code points, which can be 256 bytes of UTF-8:
// one more than a str8 holds.)
//   ThrowResult: u16 HTTP status, str32 JSON response body
//   Rejected:    u32 number of throws the worker answered with a 4xx
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/direction.h"

namespace sprites::ipc {

struct HelloMessage {
  uint32_t pid = 0;
};

struct ThrowMessage {
  Direction direction = Direction::Left;
  std::string_view node;       // thrower's node id from the URL (at most 255 bytes)
  std::string_view token;      // bearer token from the Authorization header (at most 255 bytes)
  bool has_id = false;
  std::string_view sprite_id;  // at most 65535 bytes
  std::string_view sprite;     // raw JSON text of the sprite object
};

struct ThrowResultMessage {
  uint16_t status = 0;       // 202, or the error status
  std::string_view body;     // the JSON response body to send to the client
};

struct RejectedMessage {
  uint32_t count = 0;
};

// Encoders return the frame body. Precondition for Throw: node and token are
// at most 255 bytes each (the worker checks this before encoding).
std::string encode(const HelloMessage& m);
std::string encode(const ThrowMessage& m);
std::string encode(const ThrowResultMessage& m);
std::string encode(const RejectedMessage& m);

// Decoders fill `out` with views into `body` and return false on any malformed
// body: truncated, trailing bytes, a length past the end, an invalid direction
// byte, has_id not 0 or 1.
bool decode(std::string_view body, HelloMessage& out);
bool decode(std::string_view body, ThrowMessage& out);
bool decode(std::string_view body, ThrowResultMessage& out);
bool decode(std::string_view body, RejectedMessage& out);

}  // namespace sprites::ipc

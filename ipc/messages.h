// Typed IPC messages: what the bodies of the frames in frame.h carry.
//
// Each message has an encoder that returns the frame body and a decoder that
// rejects a malformed body (returns false) instead of trusting its lengths. The
// sprite travels as the raw JSON bytes the client sent (the worker validated
// them), so the master never re-parses or re-serialises it.
//
// Body layouts (integers little-endian; str8 = u8 length + bytes, str16 = u16
// length + bytes, str32 = u32 length + bytes):
//   Hello:       u32 worker pid, u32 IPC version (kIpcVersion), u32 the worker's
//                --max-body-bytes
//   Throw:       u64 expires_at_ms, u8 direction, str8 node id, str16 token,
//                u8 has_id, str16 sprite id, str32 sprite JSON
// (The sprite id is at most 64 code points, which can be 256 bytes of UTF-8:
// one more than a str8 holds. The token is whatever the client sent, up to the
// header limit: the master, not the worker, decides what a wrong one gets.)
//   ThrowResult: u16 HTTP status, str32 JSON response body
//   Rejected:    u8 error code (common/reject_code.h), u32 number of throws the
//                worker answered with a 4xx of that code, 1 to kMaxRejectedPerFrame
//   Figures:     u32 open worker-port connections, u64 throws received (every
//                request to the throw endpoint since the worker started), u64
//                bytes queued for the master and not yet written
//   Ping, Pong:  empty; the frame id pairs them
//
// expires_at_ms is CLOCK_MONOTONIC in milliseconds (monotonic_ms(): one clock
// for every process of the host): the worker has answered the client 503 by
// then, so a master that reads the throw later drops it unread.
//
// The frame sizes a worker may send follow from these layouts and its
// --max-body-bytes (max_throw_frame_length), so the master can bound each
// worker's frames by what a valid throw needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/direction.h"
#include "common/reject_code.h"

namespace sprites::ipc {

// Bumped whenever a layout above changes: master and workers of one relay are
// one build, and a worker of another build is refused at its Hello.
inline constexpr uint32_t kIpcVersion = 3;
inline constexpr uint32_t kMaxRejectedPerFrame = 1u << 16;
inline constexpr size_t kMaxNodeIdBytes = 255;   // str8
// A str16 holds more, but no Authorization header the HTTP layer lets
// through (8 KiB for the whole header block) holds a longer token.
inline constexpr size_t kMaxTokenBytes = 8192;
inline constexpr size_t kMaxSpriteIdBytes = 0xffff;

struct HelloMessage {
  uint32_t pid = 0;
  uint32_t version = kIpcVersion;
  uint32_t max_body_bytes = 0;
};

struct ThrowMessage {
  uint64_t expires_at_ms = 0;  // monotonic_ms() after which the worker has given up
  Direction direction = Direction::Left;
  std::string_view node;       // thrower's node id from the URL (at most 255 bytes)
  std::string_view token;      // bearer token from the Authorization header (at most 65535 bytes)
  bool has_id = false;
  std::string_view sprite_id;  // at most 65535 bytes
  std::string_view sprite;     // raw JSON text of the sprite object
};

struct ThrowResultMessage {
  uint16_t status = 0;       // 202, or the error status
  std::string_view body;     // the JSON response body to send to the client
};

struct RejectedMessage {
  RejectCode code = RejectCode::Other;
  uint32_t count = 0;
};

struct FiguresMessage {
  uint32_t connections = 0;
  uint64_t throws = 0;
  uint64_t queued_bytes = 0;
};

// The longest Throw frame (type, id and body) a worker whose throw bodies are
// at most `max_body_bytes` can send, given the limits the worker checks
// before encoding: node id 32 bytes, token kMaxTokenBytes, sprite id 256 bytes.
uint32_t max_throw_frame_length(uint32_t max_body_bytes);

// CLOCK_MONOTONIC in milliseconds.
uint64_t monotonic_ms();

// Encoders return the frame body. Precondition for Throw: node at most
// kMaxNodeIdBytes, token at most kMaxTokenBytes, sprite id at most
// kMaxSpriteIdBytes (the worker checks these before encoding).
std::string encode(const HelloMessage& m);
std::string encode(const ThrowMessage& m);
std::string encode(const ThrowResultMessage& m);
std::string encode(const RejectedMessage& m);
std::string encode(const FiguresMessage& m);

// Decoders fill `out` with views into `body` and return false on any malformed
// body: truncated, trailing bytes, a length past the end, an invalid direction
// byte, has_id not 0 or 1, a Rejected count of 0 or over kMaxRejectedPerFrame.
bool decode(std::string_view body, HelloMessage& out);
bool decode(std::string_view body, ThrowMessage& out);
bool decode(std::string_view body, ThrowResultMessage& out);
bool decode(std::string_view body, RejectedMessage& out);
bool decode(std::string_view body, FiguresMessage& out);

}  // namespace sprites::ipc

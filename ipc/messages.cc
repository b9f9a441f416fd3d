// Typed IPC message bodies (layouts in messages.h): the one place that turns a
// frame body into fields and back.
//
// Owns: byte-by-byte little-endian assembly and a bounds-checked reader that
// rejects a body which is short, long, or names a length past its end. Leaves
// out: framing (frame.cc) and any judgement of the field values beyond what the
// wire allows (the master decides whether a node id or token is any good).
//
// Integers are assembled from shifted bytes, never by memcpy of a struct or an
// integer, so the format is the same on any host and no padding or alignment
// leaks onto the wire.
//
// Dropped alternative: JSON bodies. The sprite is already JSON, but wrapping it
// would mean escaping and re-parsing it in the master on every throw; a binary
// envelope around the raw bytes costs a few length checks instead.
#include "ipc/messages.h"

#include <time.h>

#include <algorithm>
#include <cstdlib>

#include "common/log.h"
#include "ipc/frame.h"

namespace sprites::ipc {
namespace {

constexpr size_t kMaxStr8 = 0xff;

void put_u8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }

void put_u16(std::string& out, uint16_t v) {
  put_u8(out, static_cast<uint8_t>(v & 0xffu));
  put_u8(out, static_cast<uint8_t>((v >> 8) & 0xffu));
}

void put_u32(std::string& out, uint32_t v) {
  put_u8(out, static_cast<uint8_t>(v & 0xffu));
  put_u8(out, static_cast<uint8_t>((v >> 8) & 0xffu));
  put_u8(out, static_cast<uint8_t>((v >> 16) & 0xffu));
  put_u8(out, static_cast<uint8_t>((v >> 24) & 0xffu));
}

void put_u64(std::string& out, uint64_t v) {
  put_u32(out, static_cast<uint32_t>(v & 0xffffffffu));
  put_u32(out, static_cast<uint32_t>(v >> 32));
}

void put_str8(std::string& out, std::string_view s, const char* field) {
  if (s.size() > kMaxStr8) {
    // The caller promised to check this; a silently cut id would misroute a throw.
    LOG_ERROR("ipc: %s is %zu bytes, more than a str8 holds", field, s.size());
    std::abort();
  }
  put_u8(out, static_cast<uint8_t>(s.size()));
  out.append(s);
}

void put_str16(std::string& out, std::string_view s, const char* field) {
  if (s.size() > 0xffffu) {
    LOG_ERROR("ipc: %s is %zu bytes, more than a str16 holds", field, s.size());
    std::abort();
  }
  put_u16(out, static_cast<uint16_t>(s.size()));
  out.append(s);
}

void put_str32(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// Reads fields front to back. Any read past the end poisons the reader, so a
// decoder can read every field and check ok once at the end.
class BodyReader {
 public:
  explicit BodyReader(std::string_view body) : body_(body) {}

  uint8_t u8() {
    if (!take(1)) return 0;
    return byte(pos_ - 1);
  }

  uint16_t u16() {
    if (!take(2)) return 0;
    return static_cast<uint16_t>(byte(pos_ - 2) | byte(pos_ - 1) << 8);
  }

  uint32_t u32() {
    if (!take(4)) return 0;
    return static_cast<uint32_t>(byte(pos_ - 4)) | static_cast<uint32_t>(byte(pos_ - 3)) << 8 |
           static_cast<uint32_t>(byte(pos_ - 2)) << 16 |
           static_cast<uint32_t>(byte(pos_ - 1)) << 24;
  }

  uint64_t u64() {
    const uint64_t low = u32();
    const uint64_t high = u32();
    return low | high << 32;
  }

  std::string_view bytes(size_t n) {
    if (!take(n)) return {};
    return body_.substr(pos_ - n, n);
  }

  std::string_view str8() { return bytes(u8()); }
  std::string_view str16() { return bytes(u16()); }
  std::string_view str32() { return bytes(u32()); }

  // Every field was present and nothing follows the last one.
  bool complete() const { return ok_ && pos_ == body_.size(); }

 private:
  bool take(size_t n) {
    if (!ok_ || n > body_.size() - pos_) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  uint8_t byte(size_t at) const { return static_cast<uint8_t>(body_[at]); }

  std::string_view body_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

uint32_t max_throw_frame_length(uint32_t max_body_bytes) {
  // type + id, then the Throw body's fields at their largest valid sizes.
  const uint64_t length = kMinFrameLength + 8 + 1 + (1 + 32) + (2 + kMaxTokenBytes) + 1 + (2 + 256) +
                          (4 + static_cast<uint64_t>(max_body_bytes));
  return static_cast<uint32_t>(std::min<uint64_t>(length, kMaxFrameLength));
}

uint64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

std::string encode(const HelloMessage& m) {
  std::string out;
  put_u32(out, m.pid);
  put_u32(out, m.version);
  put_u32(out, m.max_body_bytes);
  return out;
}

std::string encode(const ThrowMessage& m) {
  std::string out;
  out.reserve(8 + 1 + 1 + m.node.size() + 2 + m.token.size() + 1 + 2 + m.sprite_id.size() + 4 +
              m.sprite.size());
  put_u64(out, m.expires_at_ms);
  put_u8(out, static_cast<uint8_t>(m.direction));
  put_str8(out, m.node, "node id");
  put_str16(out, m.token, "token");
  put_u8(out, m.has_id ? 1 : 0);
  put_str16(out, m.sprite_id, "sprite id");
  put_str32(out, m.sprite);
  return out;
}

std::string encode(const ThrowResultMessage& m) {
  std::string out;
  out.reserve(2 + 4 + m.body.size());
  put_u16(out, m.status);
  put_str32(out, m.body);
  return out;
}

std::string encode(const RejectedMessage& m) {
  std::string out;
  out.push_back(static_cast<char>(m.code));
  put_u32(out, m.count);
  return out;
}

std::string encode(const FiguresMessage& m) {
  std::string out;
  put_u32(out, m.connections);
  put_u64(out, m.throws);
  put_u64(out, m.queued_bytes);
  return out;
}

bool decode(std::string_view body, HelloMessage& out) {
  BodyReader r(body);
  const uint32_t pid = r.u32();
  const uint32_t version = r.u32();
  const uint32_t max_body_bytes = r.u32();
  if (!r.complete()) return false;
  out.pid = pid;
  out.version = version;
  out.max_body_bytes = max_body_bytes;
  return true;
}

bool decode(std::string_view body, ThrowMessage& out) {
  BodyReader r(body);
  const uint64_t expires_at_ms = r.u64();
  const uint8_t direction_byte = r.u8();
  const std::string_view node = r.str8();
  const std::string_view token = r.str16();
  const uint8_t has_id = r.u8();
  const std::string_view sprite_id = r.str16();
  const std::string_view sprite = r.str32();
  if (!r.complete()) return false;
  const std::optional<Direction> direction = direction_from_byte(direction_byte);
  if (!direction || has_id > 1) return false;
  out.expires_at_ms = expires_at_ms;
  out.direction = *direction;
  out.node = node;
  out.token = token;
  out.has_id = has_id == 1;
  out.sprite_id = sprite_id;
  out.sprite = sprite;
  return true;
}

bool decode(std::string_view body, ThrowResultMessage& out) {
  BodyReader r(body);
  const uint16_t status = r.u16();
  const std::string_view response = r.str32();
  if (!r.complete()) return false;
  out.status = status;
  out.body = response;
  return true;
}

bool decode(std::string_view body, RejectedMessage& out) {
  BodyReader r(body);
  const uint8_t code = r.u8();
  const uint32_t count = r.u32();
  if (!r.complete() || code >= kRejectCodes || count == 0 || count > kMaxRejectedPerFrame) return false;
  out.code = static_cast<RejectCode>(code);
  out.count = count;
  return true;
}

bool decode(std::string_view body, FiguresMessage& out) {
  BodyReader r(body);
  const uint32_t connections = r.u32();
  const uint64_t throws = r.u64();
  const uint64_t queued_bytes = r.u64();
  if (!r.complete()) return false;
  out.connections = connections;
  out.throws = throws;
  out.queued_bytes = queued_bytes;
  return true;
}

}  // namespace sprites::ipc

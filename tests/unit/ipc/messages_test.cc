// Behaviour of the typed IPC message bodies (ipc/messages.h): every message
// survives a round trip, the bytes are the documented little-endian layout, and
// any malformed body is refused rather than read past its end.
#include "ipc/messages.h"

#include "ipc/frame.h"

#include <catch2/catch.hpp>

#include <string>

namespace {

using sprites::Direction;
using sprites::kAllDirections;
using sprites::ipc::decode;
using sprites::ipc::encode;
using sprites::ipc::FiguresMessage;
using sprites::ipc::HelloMessage;
using sprites::ipc::RejectedMessage;
using sprites::ipc::ThrowMessage;
using sprites::ipc::ThrowResultMessage;

// True when no proper prefix of `body` decodes as a message of type M.
template <typename M>
bool every_truncation_rejected(const std::string& body) {
  for (size_t length = 0; length < body.size(); ++length) {
    M out{};
    if (decode(std::string_view(body.data(), length), out)) return false;
  }
  return true;
}

template <typename M>
bool trailing_byte_rejected(std::string body) {
  body.push_back('\0');
  M out{};
  return !decode(body, out);
}

ThrowMessage sample_throw() {
  ThrowMessage m;
  m.expires_at_ms = 0x0102030405060708ull;
  m.direction = Direction::Down;
  m.node = "node-7";
  m.token = "secret-token";
  m.has_id = true;
  m.sprite_id = "sprite-42";
  m.sprite = R"({"id":"sprite-42","x":1})";
  return m;
}

// Offsets in an encoded sample_throw(): u64 expiry, direction, then str8 node,
// str16 token, has_id.
constexpr size_t kDirectionOffset = 8;
size_t has_id_offset(const ThrowMessage& m) { return 8 + 1 + 1 + m.node.size() + 2 + m.token.size(); }

}  // namespace

TEST_CASE("a Hello round-trips its pid, IPC version and body limit as little-endian words") {
  const std::string body = encode(HelloMessage{0x11223344u, 2, 0x00004000u});
  CHECK(body == std::string("\x44\x33\x22\x11\x02\x00\x00\x00\x00\x40\x00\x00", 12));
  HelloMessage out;
  REQUIRE(decode(body, out));
  CHECK(out.pid == 0x11223344u);
  CHECK(out.version == 2);
  CHECK(out.max_body_bytes == 16384);
  CHECK(every_truncation_rejected<HelloMessage>(body));
  CHECK(trailing_byte_rejected<HelloMessage>(body));
}

TEST_CASE("a Rejected round-trips as its code byte and four little-endian bytes") {
  const std::string body = encode(RejectedMessage{sprites::RejectCode::MailboxFull, 0x00010000u});
  CHECK(body == std::string("\x07\x00\x00\x01\x00", 5));
  RejectedMessage out;
  REQUIRE(decode(body, out));
  CHECK(out.code == sprites::RejectCode::MailboxFull);
  CHECK(out.count == sprites::ipc::kMaxRejectedPerFrame);
  CHECK(every_truncation_rejected<RejectedMessage>(body));
  CHECK(trailing_byte_rejected<RejectedMessage>(body));
}

TEST_CASE("a Rejected count of zero or over the per-frame bound, or an unknown code, is refused, not added up") {
  for (uint32_t count : {0u, sprites::ipc::kMaxRejectedPerFrame + 1, 0xffffffffu}) {
    RejectedMessage out{sprites::RejectCode::Other, 5};
    INFO(count);
    CHECK_FALSE(decode(encode(RejectedMessage{sprites::RejectCode::RateLimited, count}), out));
    CHECK(out.count == 5);
  }
  RejectedMessage out{sprites::RejectCode::Other, 5};
  CHECK_FALSE(decode(std::string("\x09\x01\x00\x00\x00", 5), out));  // one past the last code
  CHECK(out.count == 5);
}

TEST_CASE("a Figures round-trips its three figures and refuses a wrong length") {
  FiguresMessage m;
  m.connections = 70000;
  m.throws = 1ull << 40;
  m.queued_bytes = 8u << 20;
  const std::string body = encode(m);
  CHECK(body.size() == 20);
  FiguresMessage out;
  REQUIRE(decode(body, out));
  CHECK(out.connections == 70000);
  CHECK(out.throws == (1ull << 40));
  CHECK(out.queued_bytes == (8u << 20));
  CHECK(every_truncation_rejected<FiguresMessage>(body));
  CHECK(trailing_byte_rejected<FiguresMessage>(body));
}

TEST_CASE("a ThrowResult round-trips with its status and body") {
  ThrowResultMessage m;
  m.status = 409;
  m.body = R"({"error":"conflict"})";
  const std::string body = encode(m);
  CHECK(body.substr(0, 6) == std::string("\x99\x01\x14\x00\x00\x00", 6));
  ThrowResultMessage out;
  REQUIRE(decode(body, out));
  CHECK(out.status == 409);
  CHECK(out.body == m.body);
  CHECK(every_truncation_rejected<ThrowResultMessage>(body));
  CHECK(trailing_byte_rejected<ThrowResultMessage>(body));
}

TEST_CASE("a ThrowResult with an empty body round-trips") {
  const std::string body = encode(ThrowResultMessage{202, ""});
  CHECK(body.size() == 6);
  ThrowResultMessage out;
  REQUIRE(decode(body, out));
  CHECK(out.status == 202);
  CHECK(out.body.empty());
}

TEST_CASE("a Throw round-trips every field") {
  const ThrowMessage m = sample_throw();
  const std::string body = encode(m);
  ThrowMessage out;
  REQUIRE(decode(body, out));
  CHECK(out.expires_at_ms == 0x0102030405060708ull);
  CHECK(body.substr(0, 8) == std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
  CHECK(out.direction == Direction::Down);
  CHECK(out.node == "node-7");
  CHECK(out.token == "secret-token");
  CHECK(out.has_id);
  CHECK(out.sprite_id == "sprite-42");
  CHECK(out.sprite == m.sprite);
}

TEST_CASE("a Throw round-trips every direction") {
  for (Direction d : kAllDirections) {
    ThrowMessage m = sample_throw();
    m.direction = d;
    ThrowMessage out;
    REQUIRE(decode(encode(m), out));
    CHECK(out.direction == d);
  }
}

TEST_CASE("a Throw without a sprite id and with empty strings round-trips") {
  ThrowMessage m;
  m.direction = Direction::Left;
  const std::string body = encode(m);
  CHECK(body == std::string(19, '\0'));  // u64 expiry, u8 dir, u8 node, u16 token, u8 has_id, u16 id, u32 sprite
  ThrowMessage out;
  out.has_id = true;
  REQUIRE(decode(body, out));
  CHECK_FALSE(out.has_id);
  CHECK(out.node.empty());
  CHECK(out.token.empty());
  CHECK(out.sprite_id.empty());
  CHECK(out.sprite.empty());
}

TEST_CASE("a Throw with a 255-byte node id, a long token, a 256-byte sprite id and a large sprite round-trips") {
  const std::string node(255, 'n');
  const std::string token(9000, 't');  // past a str8: the master decides what a wrong token gets
  const std::string sprite_id(256, 's');  // 64 four-byte code points: past a str8
  const std::string sprite(70000, 'j');  // past any u16 length
  ThrowMessage m;
  m.direction = Direction::Up;
  m.node = node;
  m.token = token;
  m.has_id = true;
  m.sprite_id = sprite_id;
  m.sprite = sprite;
  const std::string body = encode(m);
  ThrowMessage out;
  REQUIRE(decode(body, out));
  CHECK(out.node == node);
  CHECK(out.token == token);
  CHECK(out.sprite_id == sprite_id);
  CHECK(out.sprite == sprite);
}

TEST_CASE("a Throw is rejected when truncated anywhere or followed by extra bytes") {
  const std::string body = encode(sample_throw());
  CHECK(every_truncation_rejected<ThrowMessage>(body));
  CHECK(trailing_byte_rejected<ThrowMessage>(body));
}

TEST_CASE("a Throw with an unknown direction byte is rejected") {
  std::string body = encode(sample_throw());
  for (int byte : {4, 5, 0x7f, 0xff}) {
    body[kDirectionOffset] = static_cast<char>(byte);
    ThrowMessage out;
    INFO("direction byte " << byte);
    CHECK_FALSE(decode(body, out));
  }
}

TEST_CASE("a Throw whose has_id is neither 0 nor 1 is rejected") {
  const ThrowMessage m = sample_throw();
  std::string body = encode(m);
  const size_t at = has_id_offset(m);
  REQUIRE(body[at] == '\x01');
  for (int byte : {2, 0x80, 0xff}) {
    body[at] = static_cast<char>(byte);
    ThrowMessage out;
    INFO("has_id byte " << byte);
    CHECK_FALSE(decode(body, out));
  }
  body[at] = '\0';
  ThrowMessage out;
  CHECK(decode(body, out));
  CHECK_FALSE(out.has_id);
}

TEST_CASE("a string length pointing past the end of the body is rejected") {
  // node length 200 with only a few bytes behind it.
  const std::string node_overrun(std::string(8, '\0') +
                                 std::string("\x00\xc8"
                                             "abc",
                                             5));
  ThrowMessage throw_out;
  CHECK_FALSE(decode(node_overrun, throw_out));

  // sprite str32 length 0xffffffff.
  ThrowMessage m;
  std::string body = encode(m);
  body.replace(body.size() - 4, 4, "\xff\xff\xff\xff");
  CHECK_FALSE(decode(body, throw_out));

  // ThrowResult body length one more than present.
  std::string result = encode(ThrowResultMessage{200, "ok"});
  result[2] = '\x03';
  ThrowResultMessage result_out;
  CHECK_FALSE(decode(result, result_out));
}

TEST_CASE("a failed decode leaves the output untouched") {
  HelloMessage hello{7, 2, 100};
  CHECK_FALSE(decode(std::string_view("\x01\x02", 2), hello));
  CHECK(hello.pid == 7);
  CHECK(hello.max_body_bytes == 100);
}

TEST_CASE("the longest throw frame bound holds the largest valid throw, and no more than that needs") {
  const uint32_t max_body = 16384;
  ThrowMessage m;
  const std::string node(32, 'n');
  const std::string token(sprites::ipc::kMaxTokenBytes, 't');
  const std::string sprite_id(256, 's');
  const std::string sprite(max_body, 'j');  // a sprite is shorter than the whole body
  m.node = node;
  m.token = token;
  m.has_id = true;
  m.sprite_id = sprite_id;
  m.sprite = sprite;
  const size_t frame = sprites::ipc::kMinFrameLength + encode(m).size();
  CHECK(frame == sprites::ipc::max_throw_frame_length(max_body));
  CHECK(sprites::ipc::max_throw_frame_length(1u << 30) == sprites::ipc::kMaxFrameLength);
}

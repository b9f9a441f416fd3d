// Behaviour of parse_throw_body (worker/throw_body.h): what a throw body must
// look like, which error each fault gets and in what order, and that the sprite
// reaches the master as the exact bytes the thrower sent.
#include "worker/throw_body.h"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <variant>

namespace {

using sprites::Direction;
using sprites::worker::kMaxSpriteIdChars;
using sprites::worker::kMaxThrowDepth;
using sprites::worker::parse_throw_body;
using sprites::worker::ThrowBody;
using sprites::worker::ThrowBodyError;

// The body must outlive the result: the sprite is a view into it. Calling this
// on a temporary is fine only within one full expression.
ThrowBody accepted(const std::string& body) {
  auto result = parse_throw_body(body);
  if (const auto* err = std::get_if<ThrowBodyError>(&result)) {
    FAIL("rejected with " << err->code << ": " << err->message << "\nbody: " << body);
  }
  const ThrowBody& parsed = std::get<ThrowBody>(result);
  // The view points into the body, not at a copy.
  REQUIRE(parsed.sprite.data() >= body.data());
  REQUIRE(parsed.sprite.data() + parsed.sprite.size() <= body.data() + body.size());
  return parsed;
}

ThrowBodyError rejected(const std::string& body) {
  auto result = parse_throw_body(body);
  if (std::holds_alternative<ThrowBody>(result)) FAIL("accepted: " << body);
  ThrowBodyError err = std::get<ThrowBodyError>(result);
  CHECK_FALSE(err.message.empty());
  // Messages end up in a JSON response; they must never echo raw body bytes.
  for (char c : err.message) CHECK(static_cast<unsigned char>(c) < 0x80);
  return err;
}

std::string error_code(const std::string& body) { return std::string(rejected(body).code); }

// {"direction":"up","sprite":SPRITE}
std::string throw_of(const std::string& sprite) {
  return R"({"direction":"up","sprite":)" + sprite + "}";
}

std::string with_id(const std::string& id_json) {
  return R"({"direction":"up","sprite":{},"id":)" + id_json + "}";
}

std::string repeat(std::string_view unit, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += unit;
  return out;
}

}  // namespace

TEST_CASE("a minimal throw is accepted") {
  const std::string body = R"({"direction":"right","sprite":{"kind":"ball"}})";
  ThrowBody t = accepted(body);
  CHECK(t.direction == Direction::Right);
  CHECK(t.sprite == R"({"kind":"ball"})");
  CHECK_FALSE(t.has_id);
  CHECK(t.id.empty());
}

TEST_CASE("each of the four directions is recognised") {
  CHECK(accepted(R"({"direction":"left","sprite":{}})").direction == Direction::Left);
  CHECK(accepted(R"({"direction":"right","sprite":{}})").direction == Direction::Right);
  CHECK(accepted(R"({"direction":"up","sprite":{}})").direction == Direction::Up);
  CHECK(accepted(R"({"direction":"down","sprite":{}})").direction == Direction::Down);
}

TEST_CASE("the sprite view excludes surrounding whitespace and keeps inner whitespace") {
  const std::string body =
      " \r\n\t{ \"sprite\" \n:\t { \"a\" : [ 1 , 2 ] ,\n \"b\" : { } }\r\n , \"direction\" : \"down\" } \n";
  ThrowBody t = accepted(body);
  CHECK(t.direction == Direction::Down);
  CHECK(t.sprite == "{ \"a\" : [ 1 , 2 ] ,\n \"b\" : { } }");
}

TEST_CASE("an empty sprite object is a sprite") {
  CHECK(accepted(throw_of("{}")).sprite == "{}");
  CHECK(accepted(throw_of("{ }")).sprite == "{ }");
}

TEST_CASE("numbers in the sprite reach the receiver byte for byte") {
  const std::string sprite =
      R"({"u64":18446744073709551615,"i64":-9223372036854775808,"beyond":123456789012345678901234567890,)"
      R"("max":1e308,"tenth":0.1,"exp":1E-5,"neg_zero":-0.0,"plus":2.50e+3})";
  CHECK(accepted(throw_of(sprite)).sprite == sprite);
}

TEST_CASE("strings with escapes and brackets inside the sprite do not confuse the scanner") {
  const std::string sprite =
      R"({"q":"she said \"}\" and ]","bs":"\\","bs_quote":"\\\"","brackets":"{[{[","u":"\u00e9\ud83d\ude00",)"
      R"("nested":{"a":[{"b":"}"},[]],"c":{"d":{"e":null}}},"t":true,"f":false})";
  CHECK(accepted(throw_of(sprite)).sprite == sprite);
}

TEST_CASE("raw UTF-8 text in the sprite is kept") {
  const std::string sprite = "{\"name\":\"caf\xC3\xA9 \xF0\x9F\x8E\xB2\"}";
  CHECK(accepted(throw_of(sprite)).sprite == sprite);
}

TEST_CASE("members before the sprite are skipped whatever they hold") {
  const std::string body =
      R"({"k\"ey":"v\\","arr":[1,"]",{"sprite":{"no":1}}],"num":-1.5e3,"lit":null,)"
      R"("obj":{"sprite":{"no":2}},"text":"\"sprite\":{\"no\":3}","sprite":{"yes":true},)"
      R"("direction":"left","after":[{}]})";
  ThrowBody t = accepted(body);
  CHECK(t.direction == Direction::Left);
  CHECK(t.sprite == R"({"yes":true})");
}

TEST_CASE("members named like ours inside the sprite or other values do not count") {
  const std::string body =
      R"({"sprite":{"direction":"sideways","id":5,"sprite":1},"direction":"up","x":{"id":null}})";
  ThrowBody t = accepted(body);
  CHECK(t.direction == Direction::Up);
  CHECK_FALSE(t.has_id);
  CHECK(t.sprite == R"({"direction":"sideways","id":5,"sprite":1})");
}

TEST_CASE("a body starting with a UTF-8 byte order mark is accepted") {
  const std::string body = "\xEF\xBB\xBF{\"direction\":\"up\",\"sprite\":{\"a\":1}}";
  CHECK(accepted(body).sprite == R"({"a":1})");
}

TEST_CASE("when a member appears twice the last one counts") {
  SECTION("direction") {
    CHECK(accepted(R"({"direction":"left","direction":"down","sprite":{}})").direction ==
          Direction::Down);
    CHECK(accepted(R"({"direction":5,"direction":"up","sprite":{}})").direction == Direction::Up);
    CHECK(error_code(R"({"direction":"left","direction":5,"sprite":{}})") == "invalid_direction");
    CHECK(error_code(R"({"direction":"left","direction":"north","sprite":{}})") ==
          "invalid_direction");
  }
  SECTION("sprite") {
    CHECK(accepted(R"({"direction":"up","sprite":{"a":1},"sprite":{"b":2}})").sprite ==
          R"({"b":2})");
    CHECK(accepted(R"({"sprite":{"a":1},"direction":"up","sprite":{"b":2},"z":{"c":3}})").sprite ==
          R"({"b":2})");
    CHECK(accepted(R"({"direction":"up","sprite":null,"sprite":{"b":2}})").sprite == R"({"b":2})");
    CHECK(error_code(R"({"direction":"up","sprite":{"a":1},"sprite":null})") == "invalid_sprite");
    CHECK(error_code(R"({"direction":"up","sprite":{"a":1},"sprite":[]})") == "invalid_sprite");
  }
  SECTION("id") {
    ThrowBody t = accepted(R"({"direction":"up","sprite":{},"id":"first","id":"second"})");
    CHECK(t.id == "second");
    CHECK(accepted(R"({"direction":"up","sprite":{},"id":null,"id":"ok"})").id == "ok");
    CHECK(error_code(R"({"direction":"up","sprite":{},"id":"ok","id":null})") == "invalid_sprite");
  }
}

TEST_CASE("keys are compared after their escapes are decoded") {
  const std::string body = R"({"\u0064irection":"l\u0065ft","spr\u0069te":{"a":1},"i\u0064":"\u00e9"})";
  ThrowBody t = accepted(body);
  CHECK(t.direction == Direction::Left);
  CHECK(t.sprite == R"({"a":1})");
  CHECK(t.has_id);
  CHECK(t.id == "\xC3\xA9");

  // An escaped key is a duplicate like any other: the last one wins.
  CHECK(accepted(R"({"direction":"up","sprite":{"a":1},"\u0073prite":{"b":2}})").sprite ==
        R"({"b":2})");
  CHECK(accepted(R"({"direction":"up","\u0073prite":{"a":1},"sprite":{"b":2}})").sprite ==
        R"({"b":2})");

  // Near misses are other members.
  CHECK(error_code(R"({"direction":"up","sprite\u0000":{}})") == "invalid_sprite");
  CHECK(error_code(R"({"direction":"up","Sprite":{}})") == "invalid_sprite");
  CHECK(error_code(R"({"direction":"up","sprite ":{}})") == "invalid_sprite");
  CHECK(error_code(R"({"Direction":"up","sprite":{}})") == "invalid_direction");
}

TEST_CASE("a body that is not JSON is invalid_json") {
  CHECK(error_code("") == "invalid_json");
  {
    auto result = parse_throw_body(std::string_view{});  // null data()
    REQUIRE(std::holds_alternative<ThrowBodyError>(result));
    CHECK(std::get<ThrowBodyError>(result).code == "invalid_json");
  }
  CHECK(error_code("   \r\n") == "invalid_json");
  CHECK(error_code("{") == "invalid_json");
  CHECK(error_code(R"({"direction":"up","sprite":{})") == "invalid_json");
  CHECK(error_code(R"({'direction':'up','sprite':{}})") == "invalid_json");
  CHECK(error_code(R"({"direction":"up","sprite":{},})") == "invalid_json");
  CHECK(error_code(R"({"direction":"up","sprite":{"a":NaN}})") == "invalid_json");
  CHECK(error_code(R"({"direction":"up","sprite":{"a":01}})") == "invalid_json");
  CHECK(error_code(R"({"direction":"up",/* c */"sprite":{}})") == "invalid_json");
  CHECK(error_code("{\"direction\":\"up\",\"sprite\":{\"a\":\"tab\there\"}}") == "invalid_json");
  CHECK(error_code(R"({"direction":"up","sprite":{"a":1e400}})") == "invalid_json");
}

TEST_CASE("anything after the object is invalid_json") {
  const std::string good = R"({"direction":"up","sprite":{}})";
  CHECK(error_code(good + " x") == "invalid_json");
  CHECK(error_code(good + "{}") == "invalid_json");
  CHECK(error_code(good + ",") == "invalid_json");
  // nlohmann alone stops at a NUL as if the input ended there.
  CHECK(error_code(good + std::string(1, '\0')) == "invalid_json");
  CHECK(error_code(good + std::string(1, '\0') + "garbage") == "invalid_json");
  CHECK(error_code(std::string(1, '\0') + good) == "invalid_json");
  // Trailing whitespace is not garbage.
  CHECK(accepted(good + " \r\n\t").sprite == "{}");
}

TEST_CASE("a top-level value other than an object is invalid_json") {
  CHECK(error_code("[]") == "invalid_json");
  CHECK(error_code(R"([{"direction":"up","sprite":{}}])") == "invalid_json");
  CHECK(error_code(R"("{\"direction\":\"up\"}")") == "invalid_json");
  CHECK(error_code("null") == "invalid_json");
  CHECK(error_code("true") == "invalid_json");
  CHECK(error_code("42") == "invalid_json");
}

TEST_CASE("invalid UTF-8 anywhere in the body is invalid_json") {
  const std::string prefix = R"({"direction":"up","sprite":{"s":")";
  const std::string suffix = "\"}}";
  CHECK(error_code(prefix + "\xFF" + suffix) == "invalid_json");          // never valid
  CHECK(error_code(prefix + "\xC0\xAF" + suffix) == "invalid_json");      // overlong '/'
  CHECK(error_code(prefix + "\xE2\x82" + suffix) == "invalid_json");      // truncated
  CHECK(error_code(prefix + "\x80" + suffix) == "invalid_json");          // lone continuation
  CHECK(error_code(prefix + "\xED\xA0\x80" + suffix) == "invalid_json");  // encoded surrogate
  CHECK(error_code(prefix + "\xF4\x90\x80\x80" + suffix) == "invalid_json");  // > U+10FFFF
  CHECK(error_code(prefix + "\\ud800" + suffix) == "invalid_json");  // lone escaped surrogate
  CHECK(error_code(prefix + "\\udc00" + suffix) == "invalid_json");
  CHECK(error_code("{\"direction\":\"up\",\"sprite\":{\"\xFF\":1}}") == "invalid_json");  // in a key
  CHECK(error_code("{\"direction\":\"up\",\"id\":\"\xC3\",\"sprite\":{}}") == "invalid_json");
  CHECK(error_code("{\"direction\":\"up\",\"sprite\":{}}\xFF") == "invalid_json");
}

TEST_CASE("nesting up to the depth limit is accepted and one more level is invalid_json") {
  REQUIRE(kMaxThrowDepth == 64);
  // The body object is level 1 and the sprite level 2, so k arrays inside the
  // sprite reach level 2 + k.
  const size_t k = kMaxThrowDepth - 2;
  const std::string deepest = R"({"n":)" + repeat("[", k) + repeat("]", k) + "}";
  CHECK(accepted(throw_of(deepest)).sprite == deepest);

  const std::string too_deep = R"({"n":)" + repeat("[", k + 1) + repeat("]", k + 1) + "}";
  CHECK(error_code(throw_of(too_deep)) == "invalid_json");

  // Objects count like arrays, and depth counts outside the sprite too: the
  // body is level 1, so n objects under "x" reach level 1 + n.
  const auto nested_objects = [](size_t n) {
    return repeat(R"({"a":)", n) + "1" + repeat("}", n);
  };
  CHECK(accepted(R"({"direction":"up","sprite":{},"x":)" + nested_objects(kMaxThrowDepth - 1) + "}")
            .sprite == "{}");
  CHECK(error_code(R"({"direction":"up","sprite":{},"x":)" + nested_objects(kMaxThrowDepth) + "}") ==
        "invalid_json");
}

TEST_CASE("a 16 KiB run of brackets is rejected without exhausting the stack") {
  CHECK(error_code(std::string(16 * 1024, '[')) == "invalid_json");
  CHECK(error_code(std::string(16 * 1024, '{')) == "invalid_json");
  CHECK(error_code(throw_of(R"({"a":)" + std::string(16 * 1024, '['))) == "invalid_json");
  // Well-formed but far too deep.
  const std::string balanced = repeat("[", 8 * 1024) + repeat("]", 8 * 1024);
  CHECK(error_code(throw_of(R"({"a":)" + balanced + "}")) == "invalid_json");
}

TEST_CASE("direction missing, not a string or not one of the four is invalid_direction") {
  CHECK(error_code(R"({"sprite":{}})") == "invalid_direction");
  CHECK(error_code(R"({})") == "invalid_direction");
  CHECK(error_code(R"({"direction":null,"sprite":{}})") == "invalid_direction");
  CHECK(error_code(R"({"direction":1,"sprite":{}})") == "invalid_direction");
  CHECK(error_code(R"({"direction":true,"sprite":{}})") == "invalid_direction");
  CHECK(error_code(R"({"direction":["up"],"sprite":{}})") == "invalid_direction");
  CHECK(error_code(R"({"direction":{"up":1},"sprite":{}})") == "invalid_direction");
  CHECK(error_code(R"({"direction":"","sprite":{}})") == "invalid_direction");
  CHECK(error_code(R"({"direction":"Left","sprite":{}})") == "invalid_direction");
  CHECK(error_code(R"({"direction":"left ","sprite":{}})") == "invalid_direction");
  CHECK(error_code(R"({"direction":"left\u0000","sprite":{}})") == "invalid_direction");
  CHECK(error_code(R"({"direction":"north","sprite":{}})") == "invalid_direction");
}

TEST_CASE("sprite missing or not an object is invalid_sprite") {
  CHECK(error_code(R"({"direction":"up"})") == "invalid_sprite");
  CHECK(error_code(R"({"direction":"up","sprite":null})") == "invalid_sprite");
  CHECK(error_code(R"({"direction":"up","sprite":[]})") == "invalid_sprite");
  CHECK(error_code(R"({"direction":"up","sprite":"{}"})") == "invalid_sprite");
  CHECK(error_code(R"({"direction":"up","sprite":7})") == "invalid_sprite");
  CHECK(error_code(R"({"direction":"up","sprite":false})") == "invalid_sprite");
}

TEST_CASE("an id is an optional string of at most 64 code points") {
  REQUIRE(kMaxSpriteIdChars == 64);
  SECTION("absent") {
    ThrowBody t = accepted(R"({"direction":"up","sprite":{}})");
    CHECK_FALSE(t.has_id);
  }
  SECTION("empty") {
    ThrowBody t = accepted(with_id(R"("")"));
    CHECK(t.has_id);
    CHECK(t.id.empty());
  }
  SECTION("escapes are decoded") {
    CHECK(accepted(with_id(R"("s-991")")).id == "s-991");
    CHECK(accepted(with_id(R"("a\"b\\c\u0041")")).id == "a\"b\\cA");
  }
  SECTION("ASCII at and over the limit") {
    CHECK(accepted(with_id('"' + repeat("x", 64) + '"')).id == repeat("x", 64));
    CHECK(error_code(with_id('"' + repeat("x", 65) + '"')) == "invalid_sprite");
  }
  SECTION("multi-byte code points are counted once each") {
    const std::string e_acute = "\xC3\xA9";          // 2 bytes
    const std::string die = "\xF0\x9F\x8E\xB2";      // 4 bytes
    CHECK(accepted(with_id('"' + repeat(e_acute, 64) + '"')).id == repeat(e_acute, 64));
    CHECK(error_code(with_id('"' + repeat(e_acute, 65) + '"')) == "invalid_sprite");
    CHECK(accepted(with_id('"' + repeat(die, 64) + '"')).id.size() == 256);
    CHECK(error_code(with_id('"' + repeat(die, 65) + '"')) == "invalid_sprite");
    // Escaped surrogate pairs are one code point too.
    CHECK(accepted(with_id('"' + repeat(R"(\ud83c\udfb2)", 64) + '"')).id == repeat(die, 64));
    CHECK(error_code(with_id('"' + repeat(R"(\ud83c\udfb2)", 65) + '"')) == "invalid_sprite");
  }
  SECTION("not a string") {
    CHECK(error_code(with_id("null")) == "invalid_sprite");
    CHECK(error_code(with_id("42")) == "invalid_sprite");
    CHECK(error_code(with_id("true")) == "invalid_sprite");
    CHECK(error_code(with_id(R"(["a"])")) == "invalid_sprite");
    CHECK(error_code(with_id(R"({"a":1})")) == "invalid_sprite");
  }
}

TEST_CASE("with several faults the first check's error wins") {
  // Not JSON beats everything.
  CHECK(error_code(R"({"direction":"north","sprite":1)") == "invalid_json");
  CHECK(error_code("[\"direction\"]") == "invalid_json");
  // Too deep beats a bad direction.
  CHECK(error_code(R"({"direction":"north","x":)" + repeat("[", 70) + repeat("]", 70) + "}") ==
        "invalid_json");
  // Direction beats sprite and id.
  CHECK(error_code(R"({"sprite":null,"id":5})") == "invalid_direction");
  CHECK(error_code(R"({"direction":"north","sprite":[],"id":null})") == "invalid_direction");
  // Sprite and id are both invalid_sprite.
  CHECK(error_code(R"({"direction":"up","sprite":{},"id":null})") == "invalid_sprite");
  CHECK(error_code(R"({"direction":"up","id":"ok"})") == "invalid_sprite");
}

TEST_CASE("a sprite filling most of a 16 KiB body is cut out exactly") {
  std::string sprite = "{";
  for (int i = 0; i < 800; ++i) {
    if (i) sprite += ',';
    sprite += "\"k" + std::to_string(i) + "\":[" + std::to_string(i) + ",\"}\"]";
  }
  sprite += '}';
  REQUIRE(sprite.size() < 16 * 1024);
  const std::string body = R"({"id":"big","sprite":)" + sprite + R"(,"direction":"down"})";
  ThrowBody t = accepted(body);
  CHECK(t.sprite == sprite);
  CHECK(t.id == "big");
  CHECK(t.direction == Direction::Down);
}

// Throw body validation: one SAX pass to judge the body, one scan to cut the
// sprite's bytes out of it.
//
// Owns: the JSON checks of a throw (syntax, strict UTF-8, top-level object,
// depth bound, the direction/sprite/id members) and the mapping of each fault
// to its protocol error. Leaves out: size limits (the HTTP layer enforces the
// body limit before we are called) and anything about nodes or tokens.
//
// How: nlohmann::json::sax_parse drives ThrowBodySax, which keeps only a few
// words of state: the nesting depth, which top-level member the next value
// belongs to, and what kind of value the last "direction", "id" and "sprite"
// had. SAX hands us decoded keys, so "spr\u0069te" is the key sprite, and it
// also tells us the ordinal of the last top-level "sprite" member. Returning
// false from start_object/start_array once the depth passes kMaxThrowDepth
// stops the parse there, so a 16 KiB run of '[' costs 65 steps (nlohmann's
// parser is iterative anyway, so no recursion can blow the stack). Then
// MemberScanner walks the already-validated text to that ordinal, skipping
// values by string-aware bracket matching, and returns the value's exact bytes.
// Because the scanner finds the member by ordinal, it never decodes a key: the
// escape rules live in one place (nlohmann's lexer).
//
// nlohmann treats a NUL byte as end of input, so NULs are refused up front.
//
// Dropped: parsing into a DOM and re-dumping "sprite". It allocates per value,
// and dump() would rewrite numbers (1e308 -> 1e+308, big integers beyond 64
// bits -> doubles) and whitespace, while the receiver should get what the
// thrower sent. Also dropped: matching keys a second time in the scanner by
// decoding them there; a second decoder could disagree with the first.
#include "worker/throw_body.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/identifiers.h"

namespace sprites::worker {
namespace {

using Json = nlohmann::json;

// Which top-level member the next value belongs to.
enum class Slot : uint8_t { Other, Direction, Id, Sprite };

// What the last occurrence of a member held.
enum class Seen : uint8_t { Missing, String, Object, Other };

enum class JsonFault : uint8_t { None, Syntax, NotObject, TooDeep };

class ThrowBodySax {
 public:
  explicit ThrowBodySax(ThrowBody& out) : out_(out) {}

  bool null() { return scalar(Seen::Other); }
  bool boolean(bool /*value*/) { return scalar(Seen::Other); }
  bool number_integer(Json::number_integer_t /*value*/) { return scalar(Seen::Other); }
  bool number_unsigned(Json::number_unsigned_t /*value*/) { return scalar(Seen::Other); }
  bool number_float(Json::number_float_t /*value*/, const Json::string_t& /*text*/) {
    return scalar(Seen::Other);
  }
  // Only reachable from binary formats (CBOR, ...), never from JSON text.
  bool binary(Json::binary_t& /*value*/) { return scalar(Seen::Other); }

  bool string(Json::string_t& value) {
    if (depth_ == 1) {
      // Only the last occurrence is read, and only when it was a string, so
      // overwriting here is what makes "last duplicate wins" hold.
      if (slot_ == Slot::Direction) {
        direction_ = parse_direction(value);
      } else if (slot_ == Slot::Id) {
        out_.id.assign(value);  // reuses the string's capacity across duplicates
      }
    }
    return scalar(Seen::String);
  }

  bool start_object(std::size_t /*elements*/) { return enter(Seen::Object); }
  bool start_array(std::size_t /*elements*/) { return enter(Seen::Other); }
  bool end_object() { return leave(); }
  bool end_array() { return leave(); }

  bool key(Json::string_t& name) {
    if (depth_ != 1) return true;
    slot_ = Slot::Other;
    if (name == "direction") {
      slot_ = Slot::Direction;
    } else if (name == "id") {
      slot_ = Slot::Id;
    } else if (name == "sprite") {
      slot_ = Slot::Sprite;
      sprite_member_ = members_;
    }
    ++members_;
    return true;
  }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const Json::exception& /*error*/) {
    fault_ = JsonFault::Syntax;
    error_position_ = position;
    return false;
  }

  JsonFault fault() const { return fault_; }
  std::size_t error_position() const { return error_position_; }
  Seen direction_seen() const { return direction_seen_; }
  std::optional<Direction> direction() const { return direction_; }
  Seen id_seen() const { return id_seen_; }
  Seen sprite_seen() const { return sprite_seen_; }
  std::size_t sprite_member() const { return sprite_member_; }

 private:
  // Called for every value before it is descended into (containers) or
  // consumed (scalars). Returns false to stop the parse.
  bool value(Seen kind) {
    if (depth_ == 0) {
      if (kind == Seen::Object) return true;
      fault_ = JsonFault::NotObject;
      return false;
    }
    if (depth_ == 1) {
      switch (slot_) {
        case Slot::Direction: direction_seen_ = kind; break;
        case Slot::Id: id_seen_ = kind; break;
        case Slot::Sprite: sprite_seen_ = kind; break;
        case Slot::Other: break;
      }
    }
    return true;
  }

  bool scalar(Seen kind) { return value(kind); }

  bool enter(Seen kind) {
    if (!value(kind)) return false;
    if (++depth_ > kMaxThrowDepth) {
      fault_ = JsonFault::TooDeep;
      return false;
    }
    return true;
  }

  bool leave() {
    --depth_;
    return true;
  }

  ThrowBody& out_;
  std::size_t depth_ = 0;    // containers currently open
  std::size_t members_ = 0;  // top-level members seen so far
  std::size_t sprite_member_ = 0;
  std::size_t error_position_ = 0;
  std::optional<Direction> direction_;
  Slot slot_ = Slot::Other;
  Seen direction_seen_ = Seen::Missing;
  Seen id_seen_ = Seen::Missing;
  Seen sprite_seen_ = Seen::Missing;
  JsonFault fault_ = JsonFault::None;
};

// Walks text that nlohmann has already accepted as a JSON object, so it only
// needs the grammar of valid JSON, not its error cases. Every loop is still
// bounded by the text's end, so a disagreement with the parser could yield a
// wrong view (caught by the caller) but never an out-of-bounds read.
class MemberScanner {
 public:
  explicit MemberScanner(std::string_view text) : text_(text) {}

  // The exact bytes of the value of the top-level member with this ordinal
  // (0-based), or an empty view if there is none.
  std::string_view member_value(std::size_t ordinal) {
    // nlohmann skips one leading UTF-8 byte order mark; so must we.
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
    skip_whitespace();
    if (!consume('{')) return {};
    for (std::size_t i = 0;; ++i) {
      skip_whitespace();
      if (!at('"')) return {};
      skip_string();  // the key
      skip_whitespace();
      if (!consume(':')) return {};
      skip_whitespace();
      const std::size_t start = pos_;
      skip_value();
      if (i == ordinal) return text_.substr(start, pos_ - start);
      skip_whitespace();
      if (!consume(',')) return {};
    }
  }

 private:
  static bool is_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

  bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

  bool consume(char c) {
    if (!at(c)) return false;
    ++pos_;
    return true;
  }

  void skip_whitespace() {
    while (pos_ < text_.size() && is_whitespace(text_[pos_])) ++pos_;
  }

  // From an opening quote to just past its closing quote. Valid JSON has no
  // raw control characters in strings, and every backslash starts an escape
  // whose second byte is never a quote that closes the string.
  void skip_string() {
    ++pos_;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return;
      }
      pos_ += (c == '\\') ? 2 : 1;
    }
  }

  void skip_value() {
    if (pos_ >= text_.size()) return;
    const char first = text_[pos_];
    if (first == '"') {
      skip_string();
      return;
    }
    if (first == '{' || first == '[') {
      // Brackets are balanced in valid JSON, so one counter for both kinds is
      // enough; quotes hide brackets inside strings.
      std::size_t open = 0;
      while (pos_ < text_.size()) {
        const char c = text_[pos_];
        if (c == '"') {
          skip_string();
          continue;
        }
        ++pos_;
        if (c == '{' || c == '[') {
          ++open;
        } else if (c == '}' || c == ']') {
          if (--open == 0) return;
        }
      }
      return;
    }
    // A number or a literal: runs to the next delimiter.
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ',' || c == '}' || c == ']' || is_whitespace(c)) return;
      ++pos_;
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

ThrowBodyError error(std::string_view code, std::string message) {
  return ThrowBodyError{code, std::move(message)};
}

constexpr std::string_view kInvalidJson = "invalid_json";
constexpr std::string_view kInvalidDirection = "invalid_direction";
constexpr std::string_view kInvalidSprite = "invalid_sprite";

}  // namespace

std::variant<ThrowBody, ThrowBodyError> parse_throw_body(std::string_view body) {
  // nlohmann's lexer takes a NUL byte for the end of input (for C strings), so
  // "{...}\0garbage" would pass. Valid JSON text never holds a raw NUL, so any
  // NUL is a syntax error; memchr makes this pass cheap.
  // (An empty view may have a null data(), which memchr must not see.)
  const void* nul = body.empty() ? nullptr : std::memchr(body.data(), '\0', body.size());
  if (nul != nullptr) {
    const auto at = static_cast<std::size_t>(static_cast<const char*>(nul) - body.data());
    return error(kInvalidJson, "body is not valid JSON (at byte " + std::to_string(at) + ")");
  }

  ThrowBody out;
  ThrowBodySax sax(out);
  const char* const begin = body.data();
  const char* const end = begin + body.size();
  const bool parsed = Json::sax_parse(begin, end, &sax);

  if (!parsed || sax.fault() != JsonFault::None) {
    switch (sax.fault()) {
      case JsonFault::NotObject: return error(kInvalidJson, "body must be a JSON object");
      case JsonFault::TooDeep:
        return error(kInvalidJson, "body is nested more than " +
                                       std::to_string(kMaxThrowDepth) + " levels deep");
      case JsonFault::Syntax:
      case JsonFault::None:
        // nlohmann's own message quotes the offending bytes, which may be
        // invalid UTF-8 that the error response could not carry; give the
        // offset instead.
        return error(kInvalidJson,
                     "body is not valid JSON (at byte " + std::to_string(sax.error_position()) + ")");
    }
  }

  if (sax.direction_seen() == Seen::Missing) {
    return error(kInvalidDirection, "direction is missing; it must be one of left, right, up, down");
  }
  if (sax.direction_seen() != Seen::String || !sax.direction()) {
    return error(kInvalidDirection, "direction must be one of left, right, up, down");
  }
  out.direction = *sax.direction();

  if (sax.sprite_seen() == Seen::Missing) return error(kInvalidSprite, "sprite is missing");
  if (sax.sprite_seen() != Seen::Object) return error(kInvalidSprite, "sprite must be a JSON object");

  out.has_id = sax.id_seen() != Seen::Missing;
  if (out.has_id) {
    // Bytes bound code points from above, so short ids skip the count.
    if (sax.id_seen() != Seen::String ||
        (out.id.size() > kMaxSpriteIdChars && count_code_points(out.id) > kMaxSpriteIdChars)) {
      return error(kInvalidSprite, "id must be a string of at most " +
                                       std::to_string(kMaxSpriteIdChars) + " characters");
    }
  }

  out.sprite = MemberScanner(body).member_value(sax.sprite_member());
  if (out.sprite.size() < 2 || out.sprite.front() != '{' || out.sprite.back() != '}') {
    // The parser saw an object here; a scanner that disagrees is a bug in this
    // file, not bad input.
    std::fprintf(stderr, "throw_body: scanner lost the sprite member %zu\n", sax.sprite_member());
    std::abort();
  }
  return out;
}

}  // namespace sprites::worker

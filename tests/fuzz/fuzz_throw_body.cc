// Fuzzes worker::parse_throw_body, the validator every throw body goes through
// before its sprite bytes are relayed verbatim to another node.
//
// Besides crashes and sanitizer reports, it checks the validator against an
// independent oracle: nlohmann's DOM parse of the same bytes, with the rules of
// throw_body.h applied to the tree (first failing check wins: json, direction,
// sprite/id). On success the sprite view must lie inside the input, start with
// '{' and end with '}', parse on its own as a JSON object, and equal the DOM's
// "sprite" member (so the raw scanner cut out the member the parser judged, the
// last of duplicates included); direction and id must equal the DOM's. Every
// error message must be valid UTF-8, since the worker sends it back in JSON.
//
// Left out: size limits (the HTTP layer enforces them before the validator).
// Dropped alternative: a second hand-written JSON grammar as the oracle. It
// would disagree with nlohmann on corners (BOM, number spellings) that the
// validator inherits on purpose; the DOM shares the lexer, so only the
// validator's own logic (SAX bookkeeping, member scanner, depth, id length) is
// under test.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/direction.h"
#include "worker/throw_body.h"

namespace {

using Json = nlohmann::json;
using sprites::worker::kMaxSpriteIdChars;
using sprites::worker::kMaxThrowDepth;
using sprites::worker::parse_throw_body;
using sprites::worker::ThrowBody;
using sprites::worker::ThrowBodyError;

[[noreturn]] void fail(const char* what, std::string_view body) {
  std::fprintf(stderr, "fuzz_throw_body: %s (body of %zu bytes)\n", what, body.size());
  std::abort();
}

#define CHECK(cond, body) \
  do {                    \
    if (!(cond)) fail("check failed: " #cond, body); \
  } while (0)

// Containers open at the deepest point, the top-level one counted as 1.
// Iterative: a deeply nested DOM must not recurse here either.
size_t depth_of(const Json& root) {
  size_t deepest = 0;
  std::vector<std::pair<const Json*, size_t>> todo{{&root, 1}};
  while (!todo.empty()) {
    auto [node, depth] = todo.back();
    todo.pop_back();
    if (!node->is_structured()) continue;
    if (depth > deepest) deepest = depth;
    for (const Json& child : *node) todo.emplace_back(&child, depth + 1);
  }
  return deepest;
}

size_t code_points(const std::string& utf8) {
  size_t n = 0;
  for (unsigned char c : utf8) n += (c & 0xC0) != 0x80;
  return n;
}

// What throw_body.h says the answer must be, from the DOM.
std::string_view expected_code(std::string_view body, const Json& doc) {
  if (body.find('\0') != std::string_view::npos) return "invalid_json";
  if (doc.is_discarded() || !doc.is_object() || depth_of(doc) > kMaxThrowDepth) return "invalid_json";
  auto direction = doc.find("direction");
  if (direction == doc.end() || !direction->is_string() ||
      !sprites::parse_direction(direction->get_ref<const std::string&>())) {
    return "invalid_direction";
  }
  auto sprite = doc.find("sprite");
  if (sprite == doc.end() || !sprite->is_object()) return "invalid_sprite";
  auto id = doc.find("id");
  if (id != doc.end() &&
      (!id->is_string() || code_points(id->get_ref<const std::string&>()) > kMaxSpriteIdChars)) {
    return "invalid_sprite";
  }
  return {};  // valid
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly `size` bytes, so ASan catches a read one past the end.
  std::vector<char> owned(data, data + size);
  const std::string_view body(owned.data(), owned.size());

  auto result = parse_throw_body(body);
  const Json doc = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  const std::string_view want = expected_code(body, doc);

  if (auto* error = std::get_if<ThrowBodyError>(&result)) {
    if (error->code != want) {
      std::fprintf(stderr, "validator said %.*s, the DOM oracle %s\n", static_cast<int>(error->code.size()),
                   error->code.data(), want.empty() ? "valid" : std::string(want).c_str());
      fail("error code disagrees with the DOM oracle", body);
    }
    CHECK(!error->message.empty(), body);
    // Throws type_error 316 on invalid UTF-8, which libFuzzer reports as a crash.
    (void)Json(error->message).dump();
    return 0;
  }

  const ThrowBody& out = std::get<ThrowBody>(result);
  if (!want.empty()) {
    std::fprintf(stderr, "validator accepted, the DOM oracle says %s\n", std::string(want).c_str());
    fail("accepted a body the DOM oracle rejects", body);
  }
  // The sprite is a view into the body, of one whole object.
  CHECK(out.sprite.data() >= body.data(), body);
  CHECK(out.sprite.data() + out.sprite.size() <= body.data() + body.size(), body);
  CHECK(out.sprite.size() >= 2 && out.sprite.front() == '{' && out.sprite.back() == '}', body);
  const Json sprite = Json::parse(out.sprite.begin(), out.sprite.end(), nullptr, false);
  CHECK(!sprite.is_discarded() && sprite.is_object(), body);
  CHECK(sprite == doc.at("sprite"), body);
  CHECK(sprites::direction_name(out.direction) == doc.at("direction").get_ref<const std::string&>(), body);
  CHECK(out.has_id == doc.contains("id"), body);
  if (out.has_id) CHECK(out.id == doc.at("id").get_ref<const std::string&>(), body);
  else CHECK(out.id.empty(), body);
  return 0;
}

// Fuzzes master::parse_join_body (POST /v1/nodes) and sprites::valid_utf8.
//
// The oracles are independent of join_body.cc:
// - valid_utf8 is compared with a validator written from the table of
//   well-formed byte sequences in the Unicode standard (Table 3-7), which
//   checks byte ranges instead of decoding code points as join_body.cc does.
// - For a body that is valid UTF-8, the answer follows from nlohmann's DOM and
//   the rules of join_body.h: empty is OK; not JSON or not an object is
//   invalid_json; then group (a string of 0-64 [A-Za-z0-9._-]); then name (a
//   string of at most 64 code points). Result fields must equal the DOM's. A
//   raw NUL byte anywhere, or nesting deeper than 64 levels, makes the body
//   invalid_json.
// - For a body that is not valid UTF-8 the answer must be an error, and
//   invalid_group only if the body is a JSON object once its bad bytes are
//   replaced (the "repair" path); we do not re-implement the repair, so which
//   error that path picks is only checked for being one of the three.
// Every accepted name must be valid UTF-8 of at most 64 code points, every
// group must match its character set.
//
// Dropped alternative: asserting the repaired-body error exactly. That needs a
// second copy of the replacement rule, which would share any misreading of it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/identifiers.h"
#include "master/join_body.h"

namespace {

using Json = nlohmann::json;
using sprites::master::JoinBody;
using sprites::master::JoinBodyError;
using sprites::master::parse_join_body;
using sprites::valid_utf8;

[[noreturn]] void fail(const char* what, std::string_view body) {
  std::fprintf(stderr, "fuzz_join_body: %s (input of %zu bytes)\n", what, body.size());
  std::abort();
}

#define CHECK(cond, body) \
  do {                    \
    if (!(cond)) fail("check failed: " #cond, body); \
  } while (0)

// Unicode 15, Table 3-7 "Well-Formed UTF-8 Byte Sequences", row by row.
bool well_formed_utf8(std::string_view s) {
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    const size_t left = s.size() - i;
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    if (b0 <= 0x7F) {
      i += 1;
    } else if (in(b0, 0xC2, 0xDF) && left >= 2 && in(b(1), 0x80, 0xBF)) {
      i += 2;
    } else if (b0 == 0xE0 && left >= 3 && in(b(1), 0xA0, 0xBF) && in(b(2), 0x80, 0xBF)) {
      i += 3;
    } else if ((in(b0, 0xE1, 0xEC) || in(b0, 0xEE, 0xEF)) && left >= 3 && in(b(1), 0x80, 0xBF) &&
               in(b(2), 0x80, 0xBF)) {
      i += 3;
    } else if (b0 == 0xED && left >= 3 && in(b(1), 0x80, 0x9F) && in(b(2), 0x80, 0xBF)) {
      i += 3;
    } else if (b0 == 0xF0 && left >= 4 && in(b(1), 0x90, 0xBF) && in(b(2), 0x80, 0xBF) &&
               in(b(3), 0x80, 0xBF)) {
      i += 4;
    } else if (in(b0, 0xF1, 0xF3) && left >= 4 && in(b(1), 0x80, 0xBF) && in(b(2), 0x80, 0xBF) &&
               in(b(3), 0x80, 0xBF)) {
      i += 4;
    } else if (b0 == 0xF4 && left >= 4 && in(b(1), 0x80, 0x8F) && in(b(2), 0x80, 0xBF) &&
               in(b(3), 0x80, 0xBF)) {
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

bool group_chars(std::string_view g) {
  if (g.size() > 64) return false;
  for (char c : g) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

size_t code_points(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// How deep a parsed value nests, itself counted (a scalar: 0).
size_t nesting(const Json& value) {
  if (!value.is_structured()) return 0;
  size_t deepest = 0;
  for (const Json& child : value) deepest = std::max(deepest, nesting(child));
  return deepest + 1;
}

// The answer join_body.h promises for a body of valid UTF-8: an error code, or
// empty for success.
std::string_view expected_code(std::string_view body, const Json& doc) {
  if (body.empty()) return {};
  // JSON text never holds a raw NUL, but nlohmann's lexer stops at one as if
  // the input ended there, so "{}\0junk" would parse; the oracle says no.
  if (body.find('\0') != std::string_view::npos) return "invalid_json";
  if (doc.is_discarded() || !doc.is_object()) return "invalid_json";
  if (nesting(doc) > 64) return "invalid_json";  // the throw body's bound
  auto group = doc.find("group");
  if (group != doc.end() && (!group->is_string() || !group_chars(group->get_ref<const std::string&>()))) {
    return "invalid_group";
  }
  auto name = doc.find("name");
  if (name != doc.end() && (!name->is_string() || code_points(name->get_ref<const std::string&>()) > 64)) {
    return "invalid_name";
  }
  return {};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<char> owned(data, data + size);
  const std::string_view body(owned.data(), owned.size());

  const bool utf8 = well_formed_utf8(body);
  if (valid_utf8(body) != utf8) fail(utf8 ? "valid_utf8 refused well-formed UTF-8" : "valid_utf8 accepted ill-formed UTF-8", body);

  auto result = parse_join_body(body);
  if (auto* error = std::get_if<JoinBodyError>(&result)) {
    CHECK(error->code == "invalid_json" || error->code == "invalid_group" || error->code == "invalid_name", body);
    CHECK(!error->message.empty(), body);
    if (utf8) {
      const Json doc = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
      const std::string_view want = expected_code(body, doc);
      if (error->code != want) {
        std::fprintf(stderr, "parse_join_body said %.*s, the oracle %s\n", static_cast<int>(error->code.size()),
                     error->code.data(), want.empty() ? "valid" : std::string(want).c_str());
        fail("error code disagrees with the DOM oracle", body);
      }
    }
    return 0;
  }

  const JoinBody& out = std::get<JoinBody>(result);
  // Bad bytes never make a valid join: JSON text must be UTF-8.
  CHECK(utf8, body);
  CHECK(group_chars(out.group), body);
  CHECK(well_formed_utf8(out.name) && code_points(out.name) <= 64, body);
  if (body.empty()) {
    CHECK(out.group.empty() && out.name.empty(), body);
    return 0;
  }
  const Json doc = Json::parse(body.begin(), body.end(), nullptr, false);
  CHECK(expected_code(body, doc).empty(), body);
  CHECK(out.group == doc.value("group", std::string()), body);
  CHECK(out.name == doc.value("name", std::string()), body);
  return 0;
}

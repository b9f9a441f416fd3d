// Node ids and tokens: their alphabet and length, their randomness, and the
// constant-time token comparison (which compares in 8-byte words, so every
// position of a 22-character token is tried, the overlapping ones included).
#include "master/node_id.h"

#include <catch2/catch.hpp>

#include <set>
#include <string>

namespace {

using sprites::master::kNodeIdChars;
using sprites::master::kTokenChars;
using sprites::master::new_node_id;
using sprites::master::new_token;
using sprites::master::Token;
using sprites::master::token_equals;
using sprites::master::token_text;

bool only(std::string_view text, std::string_view alphabet) {
  return text.find_first_not_of(alphabet) == std::string_view::npos;
}

TEST_CASE("node ids are 10 base62 characters and do not repeat") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = new_node_id();
    CHECK(id.size() == kNodeIdChars);
    CHECK(only(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"));
    seen.insert(id);
  }
  CHECK(seen.size() == 1000);
}

TEST_CASE("in a cluster, node ids begin with their home relay and stay within 15 bytes while they can") {
  const std::string base62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = new_node_id("abcdef-");
    REQUIRE(id.size() == 15);  // std::string's inline buffer: no heap block per node
    CHECK(id.substr(0, 7) == "abcdef-");
    CHECK(only(id.substr(7), base62));
    seen.insert(id);
  }
  CHECK(seen.size() == 1000);
  CHECK(new_node_id("r1-").size() == 15);
  // A long relay id keeps at least 8 random characters.
  std::string id = new_node_id("abcdefghijklmnop-");
  CHECK(id.size() == 17 + 8);
  CHECK(only(id.substr(17), base62));
}

TEST_CASE("tokens are 22 base64url characters and do not repeat") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const Token token = new_token();
    std::string_view text = token_text(token);
    CHECK(text.size() == kTokenChars);
    CHECK(only(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"));
    seen.insert(std::string(text));
  }
  CHECK(seen.size() == 1000);
}

TEST_CASE("a token equals only its own text, whichever byte differs") {
  const Token token = new_token();
  const std::string text(token_text(token));
  CHECK(token_equals(token, text));
  for (size_t i = 0; i < text.size(); ++i) {
    std::string other = text;
    other[i] = other[i] == 'A' ? 'B' : 'A';
    INFO("byte " << i);
    CHECK_FALSE(token_equals(token, other));
  }
  CHECK_FALSE(token_equals(token, text.substr(0, text.size() - 1)));
  CHECK_FALSE(token_equals(token, text + "A"));
  CHECK_FALSE(token_equals(token, ""));
  const Token another = new_token();
  CHECK_FALSE(token_equals(token, token_text(another)));
}

}  // namespace

// Base64url without padding (RFC 4648 §5), as the parts of a JWT are
// encoded: the RFC's test vectors, the URL-safe alphabet, and what strict
// decoding refuses.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "common/base64url.h"

using sprites::base64url_decode;
using sprites::base64url_encode;

TEST_CASE("base64url encodes the RFC 4648 test vectors without padding") {
  CHECK(base64url_encode("") == "");
  CHECK(base64url_encode("f") == "Zg");
  CHECK(base64url_encode("fo") == "Zm8");
  CHECK(base64url_encode("foo") == "Zm9v");
  CHECK(base64url_encode("foob") == "Zm9vYg");
  CHECK(base64url_encode("fooba") == "Zm9vYmE");
  CHECK(base64url_encode("foobar") == "Zm9vYmFy");
  CHECK(base64url_encode("\xFB\xFF") == "-_8");  // '+' and '/' in standard base64
}

TEST_CASE("base64url decodes what it encodes, every byte value included") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 37) {
    const std::string bytes = all.substr(0, n) + all.substr(256 - n % 3);
    auto decoded = base64url_decode(base64url_encode(bytes));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == bytes);
  }
  CHECK(base64url_decode("Zm9vYmE") == std::optional<std::string>("fooba"));
  CHECK(base64url_decode("-_8") == std::optional<std::string>("\xFB\xFF"));
}

TEST_CASE("base64url decoding refuses padding, the standard alphabet, whitespace and a stray character") {
  CHECK_FALSE(base64url_decode("Zg==").has_value());
  CHECK_FALSE(base64url_decode("+/8").has_value());
  CHECK_FALSE(base64url_decode("Zm9v Yg").has_value());
  CHECK_FALSE(base64url_decode("Zm9vY").has_value());  // 5 characters: one over a group
  CHECK_FALSE(base64url_decode(std::string("Zm\0v", 4)).has_value());
  CHECK_FALSE(base64url_decode("Zm9v.").has_value());
}

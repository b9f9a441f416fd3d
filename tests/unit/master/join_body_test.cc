// Join bodies: what a join may carry and which error each fault gets.
#include <catch2/catch.hpp>

#include <string>

#include "master/join_body.h"

using sprites::master::JoinBody;
using sprites::master::JoinBodyError;
using sprites::master::parse_join_body;

namespace {

std::string error_of(std::string_view body) {
  auto r = parse_join_body(body);
  if (auto* e = std::get_if<JoinBodyError>(&r)) return std::string(e->code);
  return "ok";
}

}  // namespace

TEST_CASE("an empty join body means the default group and an empty name") {
  auto r = parse_join_body("");
  REQUIRE(std::holds_alternative<JoinBody>(r));
  CHECK(std::get<JoinBody>(r).group.empty());
  CHECK(std::get<JoinBody>(r).name.empty());
}

TEST_CASE("a join body carries group and name and ignores other members") {
  auto r = parse_join_body(R"({"group":"office-7.a_b","name":"l\u00e4ptop \ud83d\ude00","x":[1]})");
  REQUIRE(std::holds_alternative<JoinBody>(r));
  CHECK(std::get<JoinBody>(r).group == "office-7.a_b");
  CHECK(std::get<JoinBody>(r).name == "l\xC3\xA4ptop \xF0\x9F\x98\x80");
}

TEST_CASE("a join body that is not a JSON object is invalid_json") {
  CHECK(error_of("[]") == "invalid_json");
  CHECK(error_of("null") == "invalid_json");
  CHECK(error_of("{") == "invalid_json");
  CHECK(error_of(" ") == "invalid_json");
  CHECK(error_of("\"group\"") == "invalid_json");
  CHECK(error_of("{} x") == "invalid_json");
}

TEST_CASE("a group must be a short string of the allowed characters") {
  CHECK(error_of(R"({"group":null})") == "invalid_group");
  CHECK(error_of(R"({"group":7})") == "invalid_group");
  CHECK(error_of(R"({"group":"a b"})") == "invalid_group");
  CHECK(error_of(R"({"group":"a/b"})") == "invalid_group");
  CHECK(error_of("{\"group\":\"" + std::string(64, 'g') + "\"}") == "ok");
  CHECK(error_of("{\"group\":\"" + std::string(65, 'g') + "\"}") == "invalid_group");
  // Group is checked before name.
  CHECK(error_of(R"({"group":1,"name":2})") == "invalid_group");
}

TEST_CASE("a name is at most 64 code points of valid UTF-8") {
  CHECK(error_of(R"({"name":null})") == "invalid_name");
  CHECK(error_of(R"({"name":["x"]})") == "invalid_name");
  std::string snowmen;
  for (int i = 0; i < 64; ++i) snowmen += "\xE2\x98\x83";
  CHECK(error_of("{\"name\":\"" + snowmen + "\"}") == "ok");
  CHECK(error_of("{\"name\":\"" + snowmen + "x\"}") == "invalid_name");
  CHECK(error_of("{\"name\":\"bad \xFF byte\"}") == "invalid_name");
  CHECK(error_of("{\"name\":\"overlong \xC0\xAF\"}") == "invalid_name");
  CHECK(error_of("{\"group\":\"g\xFE\"}") == "invalid_group");
  CHECK(error_of("{\"other\":\"\xFF\",\"name\":\"fine\"}") == "invalid_json");
}

TEST_CASE("a NUL byte in a join body is invalid_json, not the end of the body") {
  CHECK(error_of(std::string_view("{}\0junk", 7)) == "invalid_json");
  CHECK(error_of(std::string_view("{\"name\":\"a\"}\0", 13)) == "invalid_json");
}

TEST_CASE("a join body nests at most 64 levels, its own object counted, as a throw body") {
  auto nested = [](int levels) {
    // {"x":[[...]]}: the object, then levels - 1 arrays.
    return "{\"x\":" + std::string(static_cast<size_t>(levels - 1), '[') + std::string(static_cast<size_t>(levels - 1), ']') + "}";
  };
  CHECK(std::holds_alternative<JoinBody>(parse_join_body(nested(64))));
  auto deep = parse_join_body(nested(65));
  REQUIRE(std::holds_alternative<JoinBodyError>(deep));
  CHECK(std::get<JoinBodyError>(deep).code == "invalid_json");
  auto deeper = parse_join_body(nested(5000));
  REQUIRE(std::holds_alternative<JoinBodyError>(deeper));
  CHECK(std::get<JoinBodyError>(deeper).code == "invalid_json");
}

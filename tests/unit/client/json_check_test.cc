// is_json must give nlohmann's accept() verdict on every input (the fuzzer
// fuzz_json_check explores that); these are the corners written down, each
// with the verdict stated and checked against nlohmann too.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "client/json_check.h"

namespace sprites::client {
namespace {

using namespace std::string_literals;

TEST_CASE("is_json agrees with nlohmann's accept on the corners", "[client][json]") {
  const std::vector<std::pair<std::string, bool>> cases = {
      {R"({"cursor":1,"events":[{"seq":1,"type":"sprite","sprite":{"a":[1,2.5e-3,-0,true,null]}}]})", true},
      {"", false},
      {"   ", false},
      {" 7 ", true},
      {"\xEF\xBB\xBF{}", true},          // one byte order mark is skipped
      {"\xEF\xBB\xBF\xEF\xBB\xBF{}", false},
      {"{}\0garbage"s, true},            // a NUL where a token starts ends the input
      {"[1\0]"s, false},
      {"\"a\0b\""s, false},              // a control byte inside a string
      {R"(["\ud83d\ude00"])", true},     // a surrogate pair
      {R"(["\ud83d"])", false},          // a lone high surrogate
      {R"(["\ude00"])", false},          // a lone low surrogate
      {R"(["\ud83d\u0041"])", false},
      {"[\"\xC3\xA9\"]", true},          // é
      {"[\"\xC0\xAF\"]", false},         // an overlong form
      {"[\"\xED\xA0\x80\"]", false},     // an encoded surrogate
      {"[\"\xF4\x90\x80\x80\"]", false}, // above U+10FFFF
      {"[\"\xF0\x9F\x98\"]", false},     // a cut sequence
      {"[1e308]", true},
      {"[1e309]", false},                // overflows a double
      {"[1e-400]", true},                // underflows to zero
      {"[" + std::string(309, '9') + "]", false},
      {"[" + std::string(300, '9') + "]", true},
      {"[01]", false},
      {"[1.]", false},
      {"[.5]", false},
      {"[-]", false},
      {"[1e+]", false},
      {"[+1]", false},
      {"[1,]", false},
      {"{\"a\":1,}", false},
      {"{\"a\" 1}", false},
      {"{1:2}", false},
      {"[tru]", false},
      {"[truex]", false},
      {"[\"\\x\"]", false},
      {"[\"\\u12G4\"]", false},
      {"[] []", false},
      {"[/*c*/1]", false},
      {std::string(10000, '[') + std::string(10000, ']'), true},  // no depth limit
      {std::string(10000, '[') + std::string(9999, ']'), false},
  };
  for (const auto& [text, verdict] : cases) {
    INFO("input: " << text.substr(0, 80));
    CHECK(is_json(text) == verdict);
    CHECK(nlohmann::json::accept(text) == verdict);
  }
}

}  // namespace
}  // namespace sprites::client
